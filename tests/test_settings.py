"""Settings dictionaries, presets and metrics: compared with the reference."""
import libtorrent as lt
import pytest

QUIET = ("{'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, "
         "'enable_natpmp': False, 'listen_interfaces': '127.0.0.1:0'}")


def test_default_settings_match_reference_in_order(ref):
    want = ref("import libtorrent as lt, json; print(json.dumps(list(lt.default_settings().items())))")
    got = [list(kv) for kv in lt.default_settings().items()]
    assert got == want
    assert len(got) == 257
    # bool/int types (json keeps them apart)
    assert [type(v) for _, v in lt.default_settings().items()] == [type(v) for _, v in want]


@pytest.mark.parametrize("preset", ["high_performance_seed", "min_memory_usage"])
def test_presets_match_reference(ref, preset):
    want = ref(f"import libtorrent as lt, json; print(json.dumps(list(lt.{preset}().items())))")
    got = [list(kv) for kv in getattr(lt, preset)().items()]
    assert got == want
    assert isinstance(getattr(lt, preset)(), dict)


def test_all_266_settings_known_with_reference_types_and_defaults(ref):
    want = ref(f"""
        import libtorrent as lt, json
        s = lt.session({QUIET})
        print(json.dumps([[k, type(v).__name__] for k, v in s.get_settings().items()]))
    """)
    got = lt._native._settings_after_apply({})
    assert [[k, type(v).__name__] for k, v in got.items()] == want
    defaults = lt.default_settings()
    for k, v in got.items():
        assert defaults.get(k, "") == v


CASES = [
    {"active_downloads": 7},
    {"active_downloads": -1},
    {"active_downloads": True},
    {"active_downloads": 2**31},
    {"active_downloads": 2**32 + 3},
    {"active_downloads": -2**31 - 1},
    {"active_downloads": 2**40},
    {"active_downloads": 2**63},
    {"active_downloads": -2**63 - 1},
    {"active_downloads": "5"},
    {"active_downloads": 5.5},
    {"active_downloads": None},
    {"prefer_udp_trackers": 0},
    {"prefer_udp_trackers": 2},
    {"prefer_udp_trackers": None},
    {"prefer_udp_trackers": 1.5},
    {"prefer_udp_trackers": "true"},
    {"prefer_udp_trackers": b"x"},
    {"user_agent": "abc"},
    {"user_agent": b"abc"},
    {"user_agent": "é\u1234"},
    {"user_agent": 5},
    {"user_agent": None},
    {"user_agent": bytearray(b"q")},
    {"nonexistent": 1},
    {"active_downloads": 7, "nonexistent": 1},
    {"nonexistent": 1, "active_downloads": "x"},
    {"active_downloads": "x", "nonexistent": 1},
    {5: 1},
    {b"active_downloads": 9},
    {b"nonexistent": 9},
    {"lazy_bitfields": True},
    {"cache_size": 100, "strict_end_game_mode": False, "peer_fingerprint": "-XX0000-"},
    {"choking_algorithm": "lt.choking_algorithm_t.rate_based_choker"},
    {"active_downloads": "lt.enc_level.both"},
]

SCRIPT = """
import libtorrent as lt, json
cases = {cases}
out = []
{setup}
for c in cases:
    c = {{k: (eval(v) if isinstance(v, str) and v.startswith('lt.') else v) for k, v in c.items()}}
    try:
        got = {apply}
        out.append(['ok', {{k: got[k] for k in c if isinstance(k, str) and k in got}}])
    except Exception as e:
        out.append([type(e).__name__, str(e)])
print(json.dumps(out))
"""


def test_settings_dict_validation_matches_reference(ref, ours):
    cases = repr(CASES)
    want = ref(SCRIPT.format(
        cases=cases, setup=f"s = lt.session({QUIET})",
        apply="(s.apply_settings(c), s.get_settings())[1]"))
    got = ours(SCRIPT.format(
        cases=cases, setup="",
        apply="lt._native._settings_after_apply(c)"))
    assert len(got) == len(CASES)
    for case, g, w in zip(CASES, got, want):
        assert g == w, case


def test_failed_dict_applies_nothing():
    with pytest.raises(KeyError):
        lt._native._settings_pack_from_dict({"active_downloads": 7, "nonexistent": 1})
    assert lt._native._settings_pack_from_dict({"active_downloads": 7}) == {"active_downloads": 7}


def test_invalid_utf8_string_setting_is_refused():
    with pytest.raises(UnicodeDecodeError):
        lt._native._settings_pack_from_dict({"user_agent": b"\xff\xfe"})


def test_session_stats_metrics_match_reference(ref):
    want = ref("""
        import libtorrent as lt, json
        print(json.dumps([[m.name, m.value_index, int(m.type), repr(m.type)] for m in lt.session_stats_metrics()]))
    """)
    got = [[m.name, m.value_index, int(m.type), repr(m.type)] for m in lt.session_stats_metrics()]
    assert got == want
    assert len(got) == 318
    assert all(isinstance(m.type, lt.metric_type_t) for m in lt.session_stats_metrics())


def test_find_metric_idx_matches_reference(ref):
    names = [m.name for m in lt.session_stats_metrics()] + ["", "nope", "peer.", "PEER.ERROR_PEERS"]
    code = f"import libtorrent as lt, json; print(json.dumps([lt.find_metric_idx(n) for n in {names!r}]))"
    assert [lt.find_metric_idx(n) for n in names] == ref(code)
    with pytest.raises(TypeError):
        lt.find_metric_idx(b"peer.error_peers")


def test_stats_metric_default_and_read_only(ref):
    want = ref("""
        import libtorrent as lt, json
        m = lt.stats_metric()
        print(json.dumps([m.name, m.value_index, repr(m.type)]))
    """)
    m = lt.stats_metric()
    assert [m.name, m.value_index, repr(m.type)] == want
    with pytest.raises(AttributeError):
        m.name = "x"
    with pytest.raises(AttributeError):
        m.value_index = 3


def test_readme_lists_the_settings_the_engine_does_not_read():
    """README.md names every setting no engine crate reads (by its key
    constant or its name), and no other: the list stays true as settings
    are wired up (`scripts/unread_settings.py` rewrites it)."""
    import pathlib
    import sys
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "scripts"))
    import unread_settings
    names = list(lt._native._settings_after_apply({}))
    want = unread_settings.unread(names)
    listed, count = unread_settings.listed((unread_settings.ROOT / "README.md").read_text())
    assert listed == want
    assert count == len(want)
