"""Runs one port-mapping scenario inside the current (private) network
namespace: loopback gets the addresses 10.77.0.1 (the client) and 10.77.0.2
(the fake gateway, tests/fake_gateway.py), the default route points at
10.77.0.2, then SCRIPT runs under PYTHON and prints one JSON document.

Usage (as root): unshare -n python3 portmap_netns.py PYTHON SCRIPT [gateway args...]
Prints {"client": <the script's JSON>, "gateway": [<requests the gateway saw>]}.
Nothing here can reach another host: the namespace has no interface but lo."""
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def sh(*args):
    subprocess.run(args, check=True, capture_output=True)


def main():
    python, script, gw_args = sys.argv[1], sys.argv[2], sys.argv[3:]
    # refuse to run anywhere but a fresh namespace: only lo may exist
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    names = [l.split(":")[1].strip() for l in links.splitlines() if l.strip()]
    if names != ["lo"]:
        sys.exit(f"not in a private network namespace: {names}")
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "addr", "add", "10.77.0.1/24", "dev", "lo")
    sh("ip", "addr", "add", "10.77.0.2/24", "dev", "lo")
    sh("ip", "route", "add", "default", "via", "10.77.0.2", "dev", "lo")
    gw = subprocess.Popen([sys.executable, str(HERE / "fake_gateway.py"), "--addr", "10.77.0.2",
                           *gw_args], stdout=subprocess.PIPE, text=True)
    try:
        ready = json.loads(gw.stdout.readline())
        assert ready["kind"] == "ready", ready
        p = subprocess.run([python, script], capture_output=True, text=True, timeout=60)
        time.sleep(0.3)
    finally:
        gw.terminate()
    seen = [json.loads(l) for l in gw.stdout.read().splitlines() if l.strip()]
    if p.returncode != 0:
        sys.exit(f"client failed ({p.returncode}):\n{p.stderr}")
    print(json.dumps({"client": json.loads(p.stdout), "gateway": seen}))


if __name__ == "__main__":
    main()
