"""Runs every benchmark, ours and the reference side by side.

    python bench/run_all.py [--quick] [--only NAME ...] [--json-out FILE] [--keep-data]

Run it with the interpreter where our module is installed; the reference is
.venv-ref (or $LT_REF_PYTHON). --quick shrinks every size and does one run
per case (a smoke test, well under 2 minutes on a 2-core machine); without
it the default sizes of each script apply (see their --help), which take
tens of minutes. Generated data lives in $LT_BENCH_DATA (default
$TMPDIR/lt-bench-data) and is deleted at the end unless --keep-data.
Every JSON line printed by the scripts is collected into --json-out
(default $TMPDIR/lt-bench-results.jsonl).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402

SCRIPTS = [
    ("limits", ["limits.py", "--refresh"]),
    ("metadata", ["bench_metadata.py"]),
    ("scale", ["bench_scale.py"]),
    ("hashing", ["bench_hashing.py"]),
    ("transfer", ["bench_transfer.py"]),
    ("swarm", ["bench_swarm.py"]),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", nargs="*", choices=[n for n, _ in SCRIPTS])
    ap.add_argument("--json-out", default=os.path.join(tempfile.gettempdir(), "lt-bench-results.jsonl"))
    ap.add_argument("--keep-data", action="store_true")
    args = ap.parse_args()
    t_all = time.monotonic()
    failed = []
    common.print_header("run_all", quick=args.quick, ours=common.OURS_PY, ref=common.REF_PY)
    with open(args.json_out, "w") as out:
        for name, cmd in SCRIPTS:
            if args.only and name not in args.only:
                continue
            argv = [sys.executable, os.path.join(HERE, cmd[0])] + cmd[1:] + (["--quick"] if args.quick else [])
            print(f"\n## {name}: {' '.join(argv[1:])}", flush=True)
            t0 = time.monotonic()
            p = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
            for line in p.stdout:
                if line.startswith("{"):
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        rec = None
                    if rec is not None:
                        rec["script"] = name
                        out.write(json.dumps(rec) + "\n")
                        out.flush()
                        continue
                sys.stdout.write(line)
                sys.stdout.flush()
            rc = p.wait()
            print(f"## {name}: {'ok' if rc == 0 else 'FAILED rc=%d' % rc} in {time.monotonic() - t0:.1f}s", flush=True)
            if rc:
                failed.append(name)
    if not args.keep_data:
        shutil.rmtree(common.default_data_root(), ignore_errors=True)
    print(f"\n# all done in {time.monotonic() - t_all:.1f}s; JSON lines in {args.json_out}"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
