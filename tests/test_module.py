import libtorrent as lt


def test_version_matches_reference_api_level(ref):
    assert lt.__version__ == ref("import libtorrent as lt, json; print(json.dumps(lt.__version__))")
    assert (lt.version_major, lt.version_minor) == (2, 1)
