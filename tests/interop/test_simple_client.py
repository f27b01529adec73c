"""examples/simple_client.py, run unchanged (under our module and under the
reference) against a local seeder it finds through the local opentracker:
it must print its progress, exit 0 by itself once complete, and leave the
exact data behind.

The example is an ordinary client: it listens on 0.0.0.0:6881 with DHT and
the other discovery services at their defaults. It only runs inside the
private network namespace, where nothing but 127.0.0.1 exists."""
import subprocess

import pytest

from clients import (REF_PY, ROOT, LtClient, content_matches, content_report, ours_python,
                     tail)

EXAMPLE = ROOT / "examples" / "simple_client.py"


@pytest.mark.parametrize("who", ["ours", "ref"])
def test_simple_client_downloads(interop_env, tracker, procs, tmp_path, who):
    if not interop_env["isolated"]:
        pytest.skip("needs a private network namespace (root): the example "
                    "enables DHT and listens on every interface")
    ds = interop_env["datasets"]["multi"]
    seed = LtClient("ref", REF_PY).start_seed(procs, ds, "http", tmp_path / "seed")
    seed.wait_ready(30)
    tracker.wait_peers(ds["v1"], "complete", 1, 20, diag=seed.diagnostics)
    python = ours_python() if who == "ours" else str(REF_PY)
    save = tmp_path / "download"
    log = tmp_path / "example.log"
    p = procs.start([python, EXAMPLE, ds["torrents"]["http"], save], log)
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        rc = None
    seed.stop()
    out = tail(log, 3000)
    assert rc == 0, f"simple_client exited {rc}\n{out}\n{seed.diagnostics()}"
    assert "% complete" in out and "complete" in out.splitlines()[-1], out
    assert content_matches(ds, save), content_report(ds, save)
