"""Helpers for differential tests: the reference module runs in its own virtualenv (.venv-ref),
reached through a subprocess so that it never shares an interpreter with ours."""
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
    p = subprocess.run([str(REF_PY), "-c", textwrap.dedent(code)], capture_output=True,
                       text=True, timeout=timeout, env=e, cwd=str(ROOT))
    if p.returncode != 0:
        raise RuntimeError(f"reference script failed:\n{p.stderr}")
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
