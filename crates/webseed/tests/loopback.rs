//! Downloads a whole multi-file torrent (pad files, unicode and space in
//! names, an empty file) from a small HTTP server on 127.0.0.1 (Python's
//! `http.server` with Range support, started by the test), as a BEP 19
//! and as a BEP 17 seed, and checks every piece against its SHA-1. The
//! server closes the connection after every third response so the
//! reconnect path (unfinished ranges) is exercised too.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lt_core::Sha1Hash;
use lt_metainfo::{FileStorage, WebSeed, WebSeedKind};
use lt_webseed::*;

const PL: i32 = 64 * 1024;

const SERVER: &str = r#"
import http.server, os, re, sys, urllib.parse
root, piece_len = sys.argv[1], int(sys.argv[2])
count = [0]
class H(http.server.SimpleHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)
    def log_message(self, *a):
        pass
    def send_body(self, code, data, extra=()):
        count[0] += 1
        self.send_response(code)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header('Content-Length', str(len(data)))
        if count[0] % 3 == 0:
            self.send_header('Connection', 'close')
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path == '/bep17':
            q = urllib.parse.parse_qs(u.query)
            with open(os.path.join(root, 'all.bin'), 'rb') as f:
                data = f.read()
            p = int(q['piece'][0])
            piece = data[p * piece_len:(p + 1) * piece_len]
            if 'ranges' in q:
                a, b = map(int, q['ranges'][0].split('-'))
                piece = piece[a:b + 1]
            return self.send_body(200, piece)
        path = self.translate_path(self.path)
        rng = self.headers.get('Range')
        if not os.path.isfile(path):
            return self.send_body(404, b'not found')
        with open(path, 'rb') as f:
            data = f.read()
        m = re.fullmatch(r'bytes=(\d+)-(\d+)', rng or '')
        if not m:
            return self.send_body(200, data)
        a, b = int(m.group(1)), int(m.group(2))
        self.send_body(206, data[a:b + 1], [('Content-Range', 'bytes %d-%d/%d' % (a, b, len(data)))])
srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The torrent: files with odd sizes, pad files aligning each next file to
/// a piece, unicode and spaces in names, an empty file.
fn layout() -> FileStorage {
    let mut fs = FileStorage::new();
    fs.add_file("tör rent/ä b.bin", 150_000, Default::default(), 0, "")
        .unwrap();
    fs.add_pad_file(3 * i64::from(PL) - 150_000).unwrap();
    fs.add_file(
        "tör rent/sub dir/c€%.dat",
        70_000,
        Default::default(),
        0,
        "",
    )
    .unwrap();
    fs.add_pad_file(2 * i64::from(PL) - 70_000).unwrap();
    fs.add_file("tör rent/empty", 0, Default::default(), 0, "")
        .unwrap();
    fs.add_file("tör rent/z", 12_345, Default::default(), 0, "")
        .unwrap();
    fs.set_piece_length(PL);
    fs.compute_num_pieces();
    fs
}

fn content(fs: &FileStorage) -> Vec<u8> {
    let mut v = Vec::new();
    let mut x = 0x1234_5678u32;
    for f in fs.file_range() {
        for _ in 0..fs.file_size(f) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            v.push(if fs.pad_file_at(f) { 0 } else { x as u8 });
        }
    }
    v
}

fn start_server(fs: &FileStorage, data: &[u8]) -> Option<Server> {
    let dir = std::env::temp_dir().join(format!(
        "lt-webseed-{}-{:?}",
        std::process::id(),
        Instant::now()
    ));
    for f in fs.file_range() {
        if fs.pad_file_at(f) {
            continue; // the server does not have pad files
        }
        let p = dir.join(fs.file_path(f, ""));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let off = fs.file_offset(f) as usize;
        std::fs::write(&p, &data[off..off + fs.file_size(f) as usize]).unwrap();
    }
    std::fs::write(dir.join("all.bin"), data).unwrap();
    let mut child = match Command::new("python3")
        .arg("-c")
        .arg(SERVER)
        .arg(&dir)
        .arg(PL.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("SKIP: cannot start python3 http.server: {e}");
            let _ = std::fs::remove_dir_all(&dir);
            return None;
        }
    };
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().unwrap();
    Some(Server { child, port, dir })
}

fn download(
    seed: &WebSeed,
    fs: &FileStorage,
    ranges: Vec<PieceRange>,
) -> (BTreeMap<(i32, i32), Vec<u8>>, usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut todo = ranges;
    let mut blocks = BTreeMap::new();
    let mut connections = 0;
    while !todo.is_empty() {
        assert!(Instant::now() < deadline, "download did not finish in time");
        connections += 1;
        assert!(connections < 100);
        let mut c = WebSeedConnection::new(
            seed,
            fs.clone(),
            Sha1Hash([0x11; 20]),
            WebSeedSettings::default(),
            Instant::now(),
        )
        .unwrap();
        for r in todo.drain(..) {
            c.request(r).unwrap();
        }
        let mut sock = TcpStream::connect((c.host(), c.port())).unwrap();
        let mut buf = vec![0u8; 32 * 1024];
        while !c.is_closed() {
            assert!(Instant::now() < deadline, "download did not finish in time");
            let mut written = true;
            while let Some(bytes) = c.poll_transmit(Instant::now()) {
                // the server may have closed (Connection: close) with
                // requests of ours still to write: like a reset
                if sock.write_all(&bytes).is_err() {
                    written = false;
                    break;
                }
            }
            let wait = c.next_timeout().map_or(Duration::from_secs(1), |t| {
                t.saturating_duration_since(Instant::now())
            });
            sock.set_read_timeout(Some(wait.max(Duration::from_millis(1))))
                .unwrap();
            if !written {
                c.on_eof(Instant::now());
            } else {
                match sock.read(&mut buf) {
                    Ok(0) => c.on_eof(Instant::now()),
                    Ok(n) => c.on_data(&buf[..n], Instant::now()),
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        c.tick(Instant::now())
                    }
                    // a reset (the server closed with our pipelined
                    // requests unread) loses what was in flight: like EOF
                    Err(_) => c.on_eof(Instant::now()),
                }
            }
            while let Some(ev) = c.poll_event() {
                match ev {
                    WebSeedEvent::Block {
                        piece,
                        offset,
                        data,
                    } => {
                        assert!(data.len() <= 16384);
                        assert!(
                            blocks.insert((piece, offset), data).is_none(),
                            "block twice"
                        );
                    }
                    WebSeedEvent::RequestDone(_) => {}
                    WebSeedEvent::Closed { reason, unfinished } => {
                        // the server closing (Connection: close), or a reset
                        // cutting a response short, both mean: reconnect
                        assert!(
                            matches!(
                                reason,
                                CloseReason::ServerClosed
                                    | CloseReason::Protocol(WebSeedError::Http(
                                        HttpError::UnexpectedEof
                                    ))
                            ),
                            "{reason:?} {unfinished:?}"
                        );
                        todo = unfinished;
                    }
                }
            }
            if c.pending_requests() == 0 && !c.is_closed() {
                c.close();
                assert!(
                    matches!(c.poll_event(), Some(WebSeedEvent::Closed { reason: CloseReason::Local, unfinished }) if unfinished.is_empty())
                );
            }
        }
    }
    (blocks, connections)
}

fn verify(fs: &FileStorage, data: &[u8], blocks: &BTreeMap<(i32, i32), Vec<u8>>) {
    let hashes: Vec<Sha1Hash> = (0..fs.num_pieces())
        .map(|p| {
            let a = p as usize * PL as usize;
            Sha1Hash::digest(&data[a..(a + fs.piece_size(p) as usize)])
        })
        .collect();
    for p in 0..fs.num_pieces() {
        let mut piece = Vec::new();
        for ((bp, off), d) in blocks.range((p, 0)..(p + 1, 0)) {
            assert_eq!((*bp, *off as usize), (p, piece.len()));
            piece.extend_from_slice(d);
        }
        assert_eq!(piece.len(), fs.piece_size(p) as usize, "piece {p}");
        assert_eq!(
            Sha1Hash::digest(&piece),
            hashes[p as usize],
            "piece {p} hash"
        );
    }
}

fn whole_pieces(fs: &FileStorage) -> Vec<PieceRange> {
    (0..fs.num_pieces())
        .map(|p| PieceRange {
            piece: p,
            start: 0,
            length: fs.piece_size(p),
        })
        .collect()
}

#[test]
fn bep19_multi_file_download_over_loopback() {
    let fs = layout();
    let data = content(&fs);
    let Some(srv) = start_server(&fs, &data) else {
        return;
    };
    let seed = WebSeed {
        url: format!("http://127.0.0.1:{}/", srv.port),
        auth: String::new(),
        extra_headers: vec![],
        kind: WebSeedKind::UrlSeed,
    };
    let (blocks, connections) = download(&seed, &fs, whole_pieces(&fs));
    verify(&fs, &data, &blocks);
    assert!(
        connections > 1,
        "the server's Connection: close forced reconnects"
    );
    // one range spanning every piece works the same
    let all = PieceRange {
        piece: 0,
        start: 0,
        length: fs.total_size() as i32,
    };
    let (blocks2, _) = download(&seed, &fs, vec![all]);
    assert_eq!(blocks, blocks2);
    drop(srv);
}

#[test]
fn bep19_missing_file_is_reported() {
    let fs = layout();
    let data = content(&fs);
    let Some(srv) = start_server(&fs, &data) else {
        return;
    };
    std::fs::remove_file(srv.dir.join(fs.file_path(5, ""))).unwrap();
    let seed = WebSeed {
        url: format!("http://127.0.0.1:{}", srv.port),
        auth: String::new(),
        extra_headers: vec![],
        kind: WebSeedKind::UrlSeed,
    };
    let last = fs.num_pieces() - 1;
    let mut c = WebSeedConnection::new(
        &seed,
        fs.clone(),
        Sha1Hash([0; 20]),
        WebSeedSettings::default(),
        Instant::now(),
    )
    .unwrap();
    c.request(PieceRange {
        piece: last,
        start: 0,
        length: fs.piece_size(last),
    })
    .unwrap();
    let mut sock = TcpStream::connect((c.host(), c.port())).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    sock.write_all(&c.poll_transmit(Instant::now()).unwrap())
        .unwrap();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while !c.is_closed() && Instant::now() < deadline {
        match sock.read(&mut buf) {
            Ok(0) | Err(_) => c.on_eof(Instant::now()),
            Ok(n) => c.on_data(&buf[..n], Instant::now()),
        }
    }
    let ev: Vec<_> = std::iter::from_fn(|| c.poll_event()).collect();
    let Some(WebSeedEvent::Closed {
        reason: CloseReason::HttpStatus { status, file, .. },
        unfinished,
    }) = ev.last()
    else {
        panic!("{ev:?}")
    };
    assert_eq!((*status, *file), (404, Some(5)));
    assert_eq!(unfinished.len(), 1);
}

#[test]
fn bep17_download_over_loopback() {
    let fs = layout();
    let data = content(&fs);
    let Some(srv) = start_server(&fs, &data) else {
        return;
    };
    let seed = WebSeed {
        url: format!("http://127.0.0.1:{}/bep17", srv.port),
        auth: String::new(),
        extra_headers: vec![],
        kind: WebSeedKind::HttpSeed,
    };
    // whole pieces plus ranges starting inside pieces
    let mut ranges = whole_pieces(&fs);
    let p1 = ranges.remove(1);
    ranges.push(PieceRange {
        piece: 1,
        start: 0,
        length: 5000,
    });
    ranges.push(PieceRange {
        piece: 1,
        start: 5000,
        length: p1.length - 5000,
    });
    let (blocks, _) = download(&seed, &fs, ranges);
    // piece 1 arrives as 0..5000, 5000..16384, then whole blocks
    assert_eq!(blocks.get(&(1, 0)).map(Vec::len), Some(5000));
    assert_eq!(blocks.get(&(1, 5000)).map(Vec::len), Some(16384 - 5000));
    verify(&fs, &data, &blocks);
}
