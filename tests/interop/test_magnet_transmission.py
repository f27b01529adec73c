"""A magnet link whose metadata comes from a transmission seeder: our
module knows only the info-hash, fetches the info dictionary from
transmission-cli with ut_metadata (BEP 9), then downloads the data, which
must match the data set byte for byte. No tracker: we dial transmission
(it does not dial peers on 127.x itself). In the suite's private network
namespace, loopback only."""
import json
import subprocess
import textwrap

import pytest

from clients import Transmission, content_report, content_matches, ours_python

MAGNET_LEECH = """
import json, os, sys, time, libtorrent as lt
tor, save, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
cat = lt.alert.category_t
s = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False,
                "alert_mask": cat.status_notification | cat.error_notification})
ti = lt.torrent_info(tor)
uri = "magnet:?xt=urn:btih:" + str(ti.info_hashes().v1)   # the info-hash alone
atp = lt.parse_magnet_uri(uri)
atp.save_path = save
h = s.add_torrent(atp)
first = {"has_metadata": h.status().has_metadata, "state": str(h.status().state)}
h.connect_peer(("127.0.0.1", port))
got_meta = False
errors = []
t = time.time()
while time.time() - t < 60:
    for a in s.pop_alerts():
        if a.what() == "metadata_received":
            got_meta = True
        elif a.what() in ("metadata_failed", "torrent_error"):
            errors.append([a.what(), a.message()])
    if h.status().is_seeding:
        break
    time.sleep(0.1)
st = h.status()
tf = h.torrent_file()
print(json.dumps({"first": first, "metadata_received": got_meta, "errors": errors,
                  "seeding": st.is_seeding, "state": str(st.state),
                  "same_info": tf is not None and tf.info_section() == ti.info_section(),
                  "num_files": tf.num_files() if tf is not None else 0}), flush=True)
os._exit(0)
"""


@pytest.mark.parametrize("dsname", ["single", "multi"])
def test_magnet_metadata_from_transmission(interop_env, procs, tmp_path, dsname):
    ds = interop_env["datasets"][dsname]
    seed = Transmission().start_seed(procs, ds, "none", tmp_path / "seed")
    port = seed.wait_ready(30)
    save = tmp_path / "leech"
    out = subprocess.run([ours_python(), "-c", textwrap.dedent(MAGNET_LEECH),
                          ds["torrents"]["none"], str(save), str(port)],
                         capture_output=True, text=True, timeout=120)
    diag = f"{out.stderr[-2000:]}\n{seed.diagnostics()}"
    assert out.stdout.strip(), diag
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["first"] == {"has_metadata": False, "state": "downloading_metadata"}, r
    assert r["metadata_received"] and not r["errors"], (r, diag)
    assert r["same_info"], r
    assert r["seeding"], (r, diag)
    assert content_matches(ds, save), content_report(ds, save)
