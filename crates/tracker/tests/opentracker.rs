//! Interop with a real opentracker on 127.0.0.1: two fake peers announce,
//! one over HTTP and one over UDP, and each shows up in the other's reply.
//! Skips (with a message) when `opentracker` is not installed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lt_core::{PeerId, Sha1Hash};
use lt_tracker::*;

const INFO_HASH: [u8; 20] = [0x5a; 20];

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Kills the tracker and removes its directory when dropped.
struct Tracker {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    // A port free for both TCP and UDP, and never handed out twice: the
    // tests run in parallel and the kernel may offer a port just released
    // by the other test's probe, so two trackers would race for it.
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..50 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        if !given.contains(&port) && UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
    panic!("no free port");
}

fn start_tracker(bin: &Path) -> Tracker {
    use std::os::unix::fs::PermissionsExt;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("lt-tracker-ot-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // opentracker drops privileges and chroots into `dir`: keep it readable
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    // the Debian build only serves whitelisted torrents
    std::fs::write(
        dir.join("whitelist.txt"),
        format!("{}\n", lt_core::to_hex(&INFO_HASH)),
    )
    .unwrap();
    std::fs::set_permissions(
        dir.join("whitelist.txt"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::write(dir.join("ot.conf"), "access.whitelist whitelist.txt\n").unwrap();
    let port = free_port();
    let mut cmd = Command::new(bin);
    cmd.arg("-i").arg("127.0.0.1");
    cmd.arg("-p")
        .arg(port.to_string())
        .arg("-P")
        .arg(port.to_string());
    cmd.arg("-f").arg(dir.join("ot.conf")).arg("-d").arg(&dir);
    if running_as_root() {
        // opentracker refuses to keep root privileges
        cmd.arg("-u").arg("nobody");
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = cmd.spawn().expect("spawn opentracker");
    let tracker = Tracker { child, dir, port };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "opentracker did not start listening"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    tracker
}

fn request(url: String, port: u16, event: Event, kind: RequestKind) -> TrackerRequest {
    let mut pid = *b"-LR0001-000000000000";
    pid[14..].copy_from_slice(format!("{port:06}").as_bytes());
    TrackerRequest {
        url,
        kind,
        info_hash: Sha1Hash(INFO_HASH),
        peer_id: PeerId::from(pid),
        listen_port: port,
        left: 1000,
        key: u32::from(port),
        event,
        num_want: 50,
        ..Default::default()
    }
}

fn http(req: TrackerRequest) -> HttpTrackerOutcome {
    let settings = TrackerSettings::default();
    let mut c = HttpTrackerConnection::new(req, &settings, Instant::now()).unwrap();
    let mut s = TcpStream::connect((c.host(), c.port())).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s.write_all(c.request_bytes()).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        let out = match s.read(&mut buf) {
            Ok(0) => c.on_eof(Instant::now()),
            Ok(n) => c.on_data(Instant::now(), &buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                c.on_timeout(Instant::now())
            }
            Err(e) => c.on_io_error(e.to_string()),
        };
        if let Some(o) = out {
            return o;
        }
    }
}

fn udp(req: TrackerRequest, cache: &mut ConnectionCache) -> UdpOutcome {
    let settings = TrackerSettings::default();
    let (host, port) = udp_host_port(&req.url).unwrap();
    let target: SocketAddr = format!("{host}:{port}").parse().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut c = UdpTrackerConnection::new(
        req,
        target,
        &settings,
        Instant::now(),
        u64::from(std::process::id()),
    )
    .unwrap();
    let mut step = c.start(Instant::now(), cache);
    let mut buf = [0u8; 2048];
    loop {
        match step {
            UdpStep::Send(p) => {
                sock.send_to(&p, c.target()).unwrap();
            }
            UdpStep::Done(o) => return o,
            UdpStep::Idle => {}
        }
        let wait = c
            .next_timeout()
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        sock.set_read_timeout(Some(wait.min(Duration::from_millis(200))))
            .unwrap();
        step = match sock.recv_from(&mut buf) {
            Ok((n, from)) => c.on_packet(Instant::now(), from, &buf[..n], cache),
            Err(_) => c.on_timeout(Instant::now()),
        };
    }
}

fn ports(r: &AnnounceResponse) -> Vec<u16> {
    let mut p: Vec<u16> = r.peers4.iter().map(|a| a.port()).collect();
    p.sort();
    p
}

#[test]
fn two_peers_see_each_other_over_http_and_udp() {
    let Some(bin) = find_on_path("opentracker") else {
        eprintln!("SKIPPED: `opentracker` is not on PATH (install it with scripts/setup.sh or apt-get install opentracker)");
        return;
    };
    let t = start_tracker(&bin);
    let http_url = format!("http://127.0.0.1:{}/announce", t.port);
    let udp_url = format!("udp://127.0.0.1:{}/announce", t.port);
    let mut cache = ConnectionCache::new();

    // peer A over HTTP. opentracker loads its whitelist in a thread of its
    // own after it starts listening: until then it refuses the torrent. Just
    // after start it has also been seen to reset the first connection
    // (CI, once).
    let mut tries = 0;
    let first = loop {
        let o = http(request(
            http_url.clone(),
            7001,
            Event::Started,
            RequestKind::Announce,
        ));
        let refused = match &o {
            HttpTrackerOutcome::Failed(e) => {
                let why = format!("{:?}", e.error);
                why.contains("not authorized") || why.contains("Connection reset")
            }
            _ => false,
        };
        tries += 1;
        if !refused || tries == 50 {
            break o;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let a = match first {
        HttpTrackerOutcome::Announce(r) => r,
        other => panic!("HTTP announce failed: {other:?}"),
    };
    assert!(a.interval >= 300);
    assert!(ports(&a).iter().all(|&p| p == 7001));

    // peer B over UDP sees A
    let b = match udp(
        request(udp_url.clone(), 7002, Event::Started, RequestKind::Announce),
        &mut cache,
    ) {
        UdpOutcome::Announce(r) => r,
        other => panic!("UDP announce failed: {other:?}"),
    };
    assert!(ports(&b).contains(&7001), "B's reply lacks A: {b:?}");
    assert_eq!(b.incomplete, 2);

    // A again, over UDP this time (the cached connection id), sees B
    let a2 = match udp(
        request(udp_url.clone(), 7001, Event::None, RequestKind::Announce),
        &mut cache,
    ) {
        UdpOutcome::Announce(r) => r,
        other => panic!("UDP re-announce failed: {other:?}"),
    };
    assert!(ports(&a2).contains(&7002), "A's reply lacks B: {a2:?}");

    // B over HTTP sees A
    let b2 = match http(request(
        http_url.clone(),
        7002,
        Event::None,
        RequestKind::Announce,
    )) {
        HttpTrackerOutcome::Announce(r) => r,
        other => panic!("HTTP re-announce failed: {other:?}"),
    };
    assert!(ports(&b2).contains(&7001), "B's reply lacks A: {b2:?}");

    // scrapes agree: two leechers
    match http(request(
        http_url.clone(),
        7001,
        Event::None,
        RequestKind::Scrape,
    )) {
        HttpTrackerOutcome::Scrape(s) => assert_eq!((s.complete, s.incomplete), (0, 2)),
        other => panic!("HTTP scrape failed: {other:?}"),
    }
    match udp(
        request(udp_url.clone(), 7001, Event::None, RequestKind::Scrape),
        &mut cache,
    ) {
        UdpOutcome::Scrape(s) => assert_eq!((s.complete, s.incomplete), (0, 2)),
        other => panic!("UDP scrape failed: {other:?}"),
    }

    // B stops; A no longer sees it
    match udp(
        request(udp_url.clone(), 7002, Event::Stopped, RequestKind::Announce),
        &mut cache,
    ) {
        UdpOutcome::Announce(_) => {}
        other => panic!("UDP stop failed: {other:?}"),
    }
    let a3 = match http(request(
        http_url.clone(),
        7001,
        Event::None,
        RequestKind::Announce,
    )) {
        HttpTrackerOutcome::Announce(r) => r,
        other => panic!("{other:?}"),
    };
    assert!(
        !ports(&a3).contains(&7002),
        "B still listed after stopping: {a3:?}"
    );

    // a torrent that is not whitelisted: failure reason over HTTP (opentracker
    // drops such UDP announces silently)
    let mut r = request(http_url, 7001, Event::None, RequestKind::Announce);
    r.info_hash = Sha1Hash([1; 20]);
    match http(r) {
        HttpTrackerOutcome::Failed(e) => {
            assert!(matches!(e.error, TrackerError::TrackerFailure(_)), "{e:?}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn tracker_list_drives_a_real_tracker() {
    let Some(bin) = find_on_path("opentracker") else {
        eprintln!("SKIPPED: `opentracker` is not on PATH (install it with scripts/setup.sh or apt-get install opentracker)");
        return;
    };
    let t = start_tracker(&bin);
    let settings = TrackerSettings::default();
    // a dead tracker first in the tier: the list must fail over to the live one
    let dead = free_port();
    let mut list = TrackerList::new(lt_core::InfoHash::from_v1(Sha1Hash(INFO_HASH)), settings);
    list.add_tracker(AnnounceEntry::new(
        &format!("http://127.0.0.1:{dead}/announce"),
        0,
        source::TORRENT,
    ));
    list.add_tracker(AnnounceEntry::new(
        &format!("udp://127.0.0.1:{}/announce", t.port),
        0,
        source::TORRENT,
    ));
    list.set_listen_endpoints(&["127.0.0.1:7100".parse().unwrap()]);
    let st = TorrentStatus {
        peer_id: PeerId::from(*b"-LR0001-list00000000"),
        left: 5,
        key: 1,
        ..Default::default()
    };
    let mut cache = ConnectionCache::new();
    list.start_announcing(Instant::now(), &st);
    let mut replies = Vec::new();
    let mut errors = 0;
    for _ in 0..10 {
        let Some(out) = list.poll_output() else { break };
        match out {
            TrackerOutput::Announce(job) => {
                let result = if job.request.url.starts_with("udp://") {
                    match udp(job.request.clone(), &mut cache) {
                        UdpOutcome::Announce(r) => Ok(r),
                        UdpOutcome::Failed(e) => Err(e),
                        UdpOutcome::Scrape(_) => unreachable!(),
                    }
                } else {
                    let c = HttpTrackerConnection::new(
                        job.request.clone(),
                        list.settings(),
                        Instant::now(),
                    )
                    .unwrap();
                    match TcpStream::connect((c.host(), c.port())) {
                        Ok(_) => panic!("the dead tracker accepted a connection"),
                        Err(e) => Err(ReplyError::from(TrackerError::Io(e.to_string()))),
                    }
                };
                match result {
                    Ok(r) => list.on_announce_response(Instant::now(), &job, &r),
                    Err(e) => list.on_announce_error(Instant::now(), &job, &e, &st),
                }
            }
            TrackerOutput::Reply { key, num_peers } => replies.push((key.url, num_peers)),
            TrackerOutput::Error { .. } => errors += 1,
            _ => {}
        }
    }
    assert_eq!(errors, 1);
    assert_eq!(
        replies,
        vec![(format!("udp://127.0.0.1:{}/announce", t.port), 1)]
    );
    assert_eq!(
        list.trackers()[0].url,
        format!("udp://127.0.0.1:{}/announce", t.port),
        "working tracker first"
    );
    let ih = &list.trackers()[0].endpoints[0].info_hashes[0];
    assert!(ih.start_sent && ih.is_working() && ih.scrape_incomplete == 1);
    assert_eq!(list.trackers()[1].endpoints[0].info_hashes[0].fails, 1);
}
