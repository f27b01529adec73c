"""Regenerates the stub section for the engine classes (session, handles,
status, peer_info, alerts) from the installed module, so the stubs list
exactly what the module has.

    python scripts/gen_engine_stubs.py   # rewrites python/libtorrent/__init__.pyi in place
"""
import inspect
import re
from pathlib import Path

import libtorrent as lt

STUBS = Path(__file__).resolve().parent.parent / "python" / "libtorrent" / "__init__.pyi"
MARKER = "# --- session, handles, alerts "

# Return types of the methods users call most (the rest are Any).
RETURNS = {
    ("session", "get_settings"): "Dict[str, Any]",
    ("session", "listen_port"): "int",
    ("session", "is_listening"): "bool",
    ("session", "is_paused"): "bool",
    ("session", "add_torrent"): "torrent_handle",
    ("session", "find_torrent"): "torrent_handle",
    ("session", "get_torrents"): "List[torrent_handle]",
    ("session", "get_torrent_status"): "List[torrent_status]",
    ("session", "refresh_torrent_status"): "List[torrent_status]",
    ("session", "pop_alerts"): "List[alert]",
    ("session", "wait_for_alert"): "bool",
    ("session", "num_connections"): "int",
    ("torrent_handle", "status"): "torrent_status",
    ("torrent_handle", "get_renamed_files"): "renamed_files",
    ("session", "save_state"): "Dict[bytes, Any]",
    ("session", "status"): "session_status",
    ("torrent_handle", "file_status"): "List[open_file_state]",
    ("torrent_handle", "is_valid"): "bool",
    ("torrent_handle", "get_peer_info"): "List[peer_info]",
    ("torrent_handle", "file_progress"): "List[int]",
    ("torrent_handle", "piece_availability"): "List[int]",
    ("torrent_handle", "get_download_queue"): "List[Dict[str, Any]]",
    ("torrent_handle", "trackers"): "List[Dict[str, Any]]",
    ("torrent_handle", "url_seeds"): "List[str]",
    ("torrent_handle", "http_seeds"): "List[str]",
    ("torrent_handle", "add_url_seed"): "None",
    ("torrent_handle", "remove_url_seed"): "None",
    ("torrent_handle", "add_http_seed"): "None",
    ("torrent_handle", "remove_http_seed"): "None",
    ("torrent_handle", "info_hash"): "sha1_hash",
    ("torrent_handle", "info_hashes"): "info_hash_t",
    ("torrent_handle", "torrent_file"): "Optional[torrent_info]",
    ("torrent_handle", "have_piece"): "bool",
    ("torrent_handle", "name"): "str",
    ("session", "proxy"): "_proxy_settings",
    ("session", "peer_proxy"): "_proxy_settings",
    ("session", "tracker_proxy"): "_proxy_settings",
    ("session", "web_seed_proxy"): "_proxy_settings",
    ("session", "dht_proxy"): "_proxy_settings",
    ("session", "i2p_proxy"): "_proxy_settings",
    ("session", "create_peer_class"): "int",
    ("session", "get_peer_class"): "Dict[str, Any]",
    ("session", "set_peer_class"): "None",
    ("session", "delete_peer_class"): "None",
    ("session", "set_peer_class_filter"): "None",
    ("session", "set_peer_class_type_filter"): "None",
    ("session", "set_max_half_open_connections"): "None",
    ("alert", "what"): "str",
    ("alert", "message"): "str",
    ("alert", "category"): "int",
}

# Docstrings for methods whose behaviour a reader of the stubs must know.
DOCS = {
    ("session", "set_max_half_open_connections"):
        "Deprecated and without effect, as in the reference (libtorrent 2.x has no half-open limit).",
    ("session", "set_peer_class"):
        "Keys left out of the dict get zero values (the reference leaves them undefined): pass a full dict.",
}

CLASSES = ["session_params", "session", "torrent_handle", "torrent_status", "peer_info",
           "session_status", "open_file_state"]


def members(cls):
    own = {}
    for name, v in vars(cls).items():
        if name.startswith("_") and name not in ("__eq__", "__ne__", "__lt__", "__hash__"):
            continue
        own[name] = v
    return own


def render(cls, base=None):
    name = cls.__name__
    head = f"class {name}({base}):" if base else f"class {name}:"
    lines = [head]
    body = []
    for m, v in sorted(members(cls).items()):
        if isinstance(v, int) and not isinstance(v, bool):
            body.append(f"    {m}: int")
        elif isinstance(v, type):
            body.append(f"    {m}: Type[Any]")
        elif inspect.isdatadescriptor(v) or isinstance(v, property):
            body.append(f"    {m}: Any")
        elif callable(v):
            if m == "__hash__":
                body.append("    def __hash__(self) -> int: ...")
            elif m in ("__eq__", "__ne__", "__lt__"):
                body.append(f"    def {m}(self, other: object) -> bool: ...")
            else:
                ret = RETURNS.get((name, m), "Any")
                doc = DOCS.get((name, m))
                if doc:
                    body.append(f"    def {m}(self, *args: Any, **kwargs: Any) -> {ret}:")
                    body.append(f'        """{doc}"""')
                else:
                    body.append(f"    def {m}(self, *args: Any, **kwargs: Any) -> {ret}: ...")
    return lines + (body or ["    ..."]) + [""]


def main():
    out = [MARKER + "-" * (78 - len(MARKER)), "# Generated by scripts/gen_engine_stubs.py from the module.", ""]
    for c in CLASSES:
        out += render(getattr(lt, c))
    alert_classes = [v for v in vars(lt).values() if isinstance(v, type) and issubclass(v, lt.alert)]
    order = {"alert": 0, "torrent_alert": 1, "peer_alert": 2, "tracker_alert": 2}
    for c in sorted(alert_classes, key=lambda c: (order.get(c.__name__, 3), c.__name__)):
        base = c.__bases__[0].__name__ if c is not lt.alert else None
        out += render(c, base)
    text = STUBS.read_text()
    i = text.find(MARKER)
    if i < 0:
        raise SystemExit("marker not found in the stubs")
    STUBS.write_text(text[:i] + "\n".join(out))
    print(f"wrote {len(out)} lines")


if __name__ == "__main__":
    main()
