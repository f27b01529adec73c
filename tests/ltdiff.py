"""Helpers for differential tests: the reference module runs in its own virtualenv (.venv-ref),
reached through a subprocess so that it never shares an interpreter with ours."""
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REF_PY = ROOT / ".venv-ref" / "bin" / "python"


def run_ref(code: str, timeout: float = 120, **env):
    """Run `code` under the reference libtorrent; return what it prints to
    stdout as JSON (the code must print exactly one JSON document)."""
    if not REF_PY.exists():
        pytest.fail("reference virtualenv missing: run scripts/setup.sh")
    e = dict(os.environ)
    e.update({k: str(v) for k, v in env.items()})
    # The reference module itself crashes now and then (a signal, or
    # "pure virtual method called" at exit); only the oracle is run again,
    # never our side.
    for _ in range(3):
        p = subprocess.run([str(REF_PY), "-c", textwrap.dedent(code)], capture_output=True,
                           text=True, timeout=timeout, env=e, cwd=str(ROOT))
        crashed = p.returncode < 0 or "pure virtual method called" in p.stderr
        if not crashed:
            break
    if p.returncode != 0:
        raise RuntimeError(f"reference script failed (exit {p.returncode}):\n{p.stderr}")
    return json.loads(p.stdout)


def run_ours(code: str, timeout: float = 120, **env):
    """Same as run_ref, with our module in this interpreter's environment."""
    e = dict(os.environ)
    e.update({k: str(v) for k, v in env.items()})
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                       text=True, timeout=timeout, env=e, cwd="/")
    if p.returncode != 0:
        raise RuntimeError(f"our script failed:\n{p.stderr}")
    return json.loads(p.stdout)


# Interpreters by module name, for tests that start peers of either kind.
PY = {"ours": sys.executable, "ref": str(REF_PY)}


def digest(root) -> dict:
    """SHA-256 of every file below `root`, by path relative to it."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def ref_make_torrent(d: Path, files: dict, piece_size: int, flags: int = 0,
                     private: bool = False, name: str = "t.torrent") -> dict:
    """Writes `files` ({name: bytes}) under `d/seed/payload`, makes a torrent
    of that folder with the reference module into `d/name` and returns its
    magnet URI, piece count, info section size and v1 info-hash."""
    src = Path(d) / "seed" / "payload"
    src.mkdir(parents=True, exist_ok=True)
    for fname, data in files.items():
        (src / fname).write_bytes(data)
    code = f"""
import libtorrent as lt, warnings, json
warnings.simplefilter("ignore")
fs = lt.file_storage()
lt.add_files(fs, {str(src)!r})
ct = lt.create_torrent(fs, {piece_size}, flags={flags})
ct.set_priv({private})
lt.set_piece_hashes(ct, {str(src.parent)!r})
data = lt.bencode(ct.generate())
open({str(Path(d) / name)!r}, "wb").write(data)
ti = lt.torrent_info(data)
print(json.dumps({{"uri": lt.make_magnet_uri(ti), "pieces": ti.num_pieces(),
                  "info_size": ti.metadata_size(), "v1": str(ti.info_hashes().v1)}}))
"""
    out = subprocess.run([str(REF_PY), "-c", code], check=True, timeout=120,
                         capture_output=True, text=True)
    return json.loads(out.stdout)
