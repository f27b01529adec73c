"""A swarm: one seed and five of our leechers (separate processes) that find
each other through one opentracker. All must finish with the exact data,
and the leechers must have traded pieces among themselves, not only taken
them from the seed: the seed downloads nothing, so every byte a leecher
uploaded (its total_payload_upload) went to another leecher. The per-peer
totals of get_peer_info() are reported too (they only cover connections
still open at the end: finished leechers drop each other)."""
from concurrent.futures import ThreadPoolExecutor

from clients import (HarnessError, LtClient, content_matches, content_report, ours_python,
                     wait_until)

LEECHERS = 5
TIMEOUT = 60


def test_swarm_leechers_trade(interop_env, tracker, procs, tmp_path):
    ds = interop_env["datasets"]["swarm"]
    ours = LtClient("ours", ours_python())
    # The seed is held to 1 MB/s, so that five leechers cannot all be served
    # by it alone before they finish: they have to trade among themselves.
    seed = ours.start_seed(procs, ds, "http", tmp_path / "seed",
                           extra=["--upload-rate-limit", str(1_000_000)])
    seed.wait_ready(30)
    tracker.wait_peers(ds["v1"], "complete", 1, 20, diag=seed.diagnostics)
    leechers = []
    for i in range(LEECHERS):
        leechers.append(ours.start_leech(procs, ds, "http", tmp_path / f"leech{i}",
                                         extra=["--stay"]))
    running = [seed] + leechers

    def diag():
        return "\n".join(r.diagnostics() for r in running)

    def all_complete():
        for r in leechers:
            if r.proc.poll() is not None and not r.is_complete():
                raise HarnessError(f"{r.label} exited ({r.proc.returncode}) before completing")
        return all(r.is_complete() for r in leechers)

    try:
        wait_until(all_complete, TIMEOUT, "all leechers to complete", interval=0.2)
    except HarnessError as e:
        with ThreadPoolExecutor(len(running)) as pool:
            list(pool.map(lambda r: r.stop(), running))
        raise HarnessError(f"{e}\n{diag()}") from None
    # stop the leechers while they are still connected to each other: the
    # summaries carry the per-peer totals of live connections
    with ThreadPoolExecutor(len(running)) as pool:
        summaries = list(pool.map(lambda r: r.stop(), leechers))
    seed_summary = seed.stop()

    for i in range(LEECHERS):
        data = tmp_path / f"leech{i}" / "data"
        assert content_matches(ds, data), content_report(ds, data)
    assert all(s is not None for s in summaries), diag()

    seed_port = seed.port
    leecher_ports = {r.port for r in leechers}
    uploads = [s["total_payload_upload"] for s in summaries]
    # payload each leecher received from other leechers, by its own count
    # (an incoming connection shows the remote's ephemeral port, so a peer is
    # "the seed" by its listen port or by the seed's own peer list)
    seed_remote_ports = {int(p["ip"].rsplit(":", 1)[1]) for p in seed_summary["peers"]}
    from_leechers = []
    for s in summaries:
        got = 0
        for p in s["peers"]:
            port = int(p["ip"].rsplit(":", 1)[1])
            if port == seed_port or (port not in leecher_ports and p["seed"]
                                     and port in seed_remote_ports):
                continue
            got += p["total_download"]
        from_leechers.append(got)
    report = (f"leecher uploads {uploads}, received from leechers {from_leechers}, "
              f"seed uploaded {seed_summary['total_payload_upload']}\n{diag()}")
    assert seed_summary["total_payload_download"] == 0, report
    assert seed_summary["total_payload_upload"] > 0, report
    # leechers uploaded, to leechers, at least a whole copy of the data
    assert sum(uploads) >= ds["total_size"], report
    assert sum(1 for u in uploads if u > 0) >= 2, report
