"""Shared helpers for the side-by-side benchmarks.

Each case runs a snippet under our module (this interpreter's `libtorrent`)
and under the reference module (`.venv-ref`), several times each, in fresh
processes, and reports medians and the ratio reference/ours (> 1 means we
are faster). Every case prints a human line and one JSON line.
"""
import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REF_PY = os.environ.get("LT_REF_PYTHON", str(ROOT / ".venv-ref" / "bin" / "python"))
OURS_PY = os.environ.get("LT_OURS_PYTHON", sys.executable)


def run_snippet(python, code, timeout=1800):
    """Runs `code` in a fresh `python`; it must print one JSON object last."""
    p = subprocess.run([python, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                       timeout=timeout, cwd="/")
    if p.returncode != 0:
        raise RuntimeError(f"{python} failed:\n{p.stderr[-4000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def measure(code, runs=3, key="seconds"):
    """Median of `key` over `runs` runs for each module: (ours, ref, samples)."""
    ours = [run_snippet(OURS_PY, code)[key] for _ in range(runs)]
    ref = [run_snippet(REF_PY, code)[key] for _ in range(runs)]
    return statistics.median(ours), statistics.median(ref), {"ours": ours, "ref": ref}


def report(case, ours, ref, unit="s", lower_is_better=True, limit=None, limit_label="", extra=None):
    ratio = (ref / ours if lower_is_better else ours / ref) if ours and ref else float("nan")
    line = f"{case:<40} ours {ours:10.4f}{unit}  ref {ref:10.4f}{unit}  ratio {ratio:6.2f}x"
    rec = {"case": case, "ours": ours, "ref": ref, "unit": unit, "ratio": ratio}
    if limit is not None:
        frac = (limit / ours if lower_is_better else ours / limit) if ours else float("nan")
        line += f"  ({frac:5.1%} of {limit_label})"
        rec.update({"limit": limit, "limit_label": limit_label, "fraction_of_limit": frac})
    if extra:
        rec.update(extra)
    print(line, flush=True)
    print(json.dumps(rec), flush=True)
    return rec


def bencode(x):
    """A minimal pure-Python bencoder, so inputs don't depend on either module."""
    if isinstance(x, int):
        return b"i%de" % x
    if isinstance(x, str):
        x = x.encode()
    if isinstance(x, (bytes, bytearray)):
        return b"%d:%s" % (len(x), bytes(x))
    if isinstance(x, list):
        return b"l" + b"".join(bencode(i) for i in x) + b"e"
    if isinstance(x, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in x.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(type(x))
