//! SSL torrents between two engines over loopback: certificates made with
//! rcgen, TLS with rustls.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{data, tempdir, wait_state};
use lt_bencode::Value;
use lt_core::Sha1Hash;
use lt_metainfo::TorrentInfo;
use lt_session::alert::{category, SocketType};
use lt_session::torrent::AddTorrent;
use lt_session::{AlertKind, Session, SslCertificate, TorrentId, TorrentState};
use lt_settings::{keys, SettingsPack};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};

const PIECE: usize = 16 * 1024;

/// Diffie-Hellman parameters (`openssl dhparam 1024`): checked, not used.
const DH: &str = "-----BEGIN DH PARAMETERS-----
MIGHAoGBAKEwqYfDtKv/sDUHSeWAmU0lyChge4sozDcwMwG44rWQPt1oXSC+QwVA
DsaxoPZNKBXha4S0moJtIi59GZyvdMD895J8EZy2AySU9yblklGUbRwpHIKeQvQu
OzANxxHAFMsnrS2AOf7bVZS4vSmjOxoudn3a0Cr8hHrdDagiVgn3AgEC
-----END DH PARAMETERS-----
";

/// A certificate authority that issues peer certificates.
struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().expect("key");
        let pem = params.self_signed(&key).expect("ca").pem();
        Ca { params, key, pem }
    }

    /// A peer certificate and key (PEM) with this common name and DNS
    /// alternative names.
    fn issue(&self, cn: &str, dns: &[&str]) -> (String, String) {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.subject_alt_names = dns
            .iter()
            .map(|d| SanType::DnsName(d.to_string().try_into().expect("dns name")))
            .collect();
        let key = KeyPair::generate().expect("key");
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).expect("sign");
        (cert.pem(), key.serialize_pem())
    }
}

/// A v1 single-file torrent whose info dictionary carries `root` as its
/// `ssl-cert`.
fn ssl_torrent(name: &str, content: &[u8], root: &str) -> Arc<TorrentInfo> {
    let pieces: Vec<u8> = content
        .chunks(PIECE)
        .flat_map(|c| Sha1Hash::digest(c).0)
        .collect();
    let mut info = BTreeMap::new();
    info.insert(b"name".to_vec(), Value::Bytes(name.into()));
    info.insert(b"piece length".to_vec(), Value::Int(PIECE as i64));
    info.insert(b"pieces".to_vec(), Value::Bytes(pieces));
    info.insert(b"length".to_vec(), Value::Int(content.len() as i64));
    info.insert(b"ssl-cert".to_vec(), Value::Bytes(root.as_bytes().to_vec()));
    let mut t = BTreeMap::new();
    t.insert(b"info".to_vec(), Value::Dict(info));
    Arc::new(TorrentInfo::from_bytes(&Value::Dict(t).encode()).expect("valid torrent"))
}

/// A loopback session with a plain and an SSL listen socket.
fn session() -> Session {
    let mut p = SettingsPack::new();
    p.set_str(keys::LISTEN_INTERFACES, "127.0.0.1:0,127.0.0.1:0s");
    p.set_int(keys::ALERT_MASK, category::ALL as i32);
    p.set_bool(keys::ENABLE_DHT, false);
    p.set_bool(keys::ENABLE_LSD, false);
    p.set_bool(keys::ENABLE_UPNP, false);
    p.set_bool(keys::ENABLE_NATPMP, false);
    Session::new(&p).expect("session")
}

fn add(ses: &Session, ti: &Arc<TorrentInfo>, save: &std::path::Path) -> TorrentId {
    let at = AddTorrent::new(ti.clone(), save.to_string_lossy().into_owned());
    ses.call(move |e| e.add_torrent(at))
        .unwrap()
        .expect("added")
}

fn set_cert(ses: &Session, id: TorrentId, cert: &str, key: &str) {
    let src = SslCertificate::Buffers {
        cert: cert.as_bytes().to_vec(),
        key: key.as_bytes().to_vec(),
        dh: DH.as_bytes().to_vec(),
    };
    ses.call(move |e| e.set_ssl_certificate(id, src)).unwrap();
}

fn ssl_addr(ses: &Session) -> SocketAddr {
    let port = ses.call(|e| e.ssl_listen_port()).unwrap();
    assert_ne!(port, 0, "no SSL listen socket");
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn plain_addr(ses: &Session) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], ses.listen_port()))
}

fn connect(ses: &Session, id: TorrentId, to: SocketAddr) {
    ses.call(move |e| e.connect_peer(id, to)).unwrap();
}

fn progress(ses: &Session, id: TorrentId) -> (TorrentState, i64) {
    let st = ses.call(move |e| e.status(id)).unwrap().expect("status");
    (st.state, st.total_wanted_done)
}

/// A seeder and a downloader of one SSL torrent, both with certificates
/// from `ca` unless given others.
struct Pair {
    seeder: Session,
    leecher: Session,
    sid: TorrentId,
    lid: TorrentId,
    content: Vec<u8>,
    dl: std::path::PathBuf,
}

fn pair(tag: &str, root: &str, size: usize) -> Pair {
    let content = data(size, 0x5eed);
    let ti = ssl_torrent("payload.bin", &content, root);
    let sd = tempdir(&format!("{tag}-seed"));
    std::fs::write(sd.join("payload.bin"), &content).unwrap();
    let dl = tempdir(&format!("{tag}-dl"));
    let seeder = session();
    let leecher = session();
    let sid = add(&seeder, &ti, &sd);
    let lid = add(&leecher, &ti, &dl);
    wait_state(&seeder, sid, TorrentState::Seeding, 10);
    Pair {
        seeder,
        leecher,
        sid,
        lid,
        content,
        dl,
    }
}

fn need_cert_alerts(ses: &Session) -> usize {
    ses.pop_alerts()
        .iter()
        .filter(|a| matches!(a.kind, AlertKind::TorrentNeedCert { .. }))
        .count()
}

#[test]
fn ssl_torrent_downloads_between_two_sessions() {
    let ca = Ca::new("test root");
    let p = pair("ssl-ok", &ca.pem, 300_000);
    // Both sides report that they need a certificate.
    assert_eq!(need_cert_alerts(&p.seeder), 1);
    assert_eq!(need_cert_alerts(&p.leecher), 1);

    // The seeder has its certificate, the downloader not yet: it connects
    // to nobody, even when told to.
    let (cert, key) = ca.issue("*", &[]);
    set_cert(&p.seeder, p.sid, &cert, &key);
    connect(&p.leecher, p.lid, ssl_addr(&p.seeder));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(progress(&p.leecher, p.lid).1, 0);
    assert!(
        !p.seeder
            .pop_alerts()
            .iter()
            .any(|a| matches!(a.kind, AlertKind::IncomingConnection { .. })),
        "a downloader without a certificate connected"
    );

    // With a certificate naming the torrent it downloads over TLS.
    let (cert, key) = ca.issue("someone", &["payload.bin"]);
    set_cert(&p.leecher, p.lid, &cert, &key);
    connect(&p.leecher, p.lid, ssl_addr(&p.seeder));
    wait_state(&p.leecher, p.lid, TorrentState::Seeding, 30);
    let got = std::fs::read(p.dl.join("payload.bin")).unwrap();
    assert!(got == p.content, "downloaded bytes differ");
    let incoming: Vec<SocketType> = p
        .seeder
        .pop_alerts()
        .iter()
        .filter_map(|a| match a.kind {
            AlertKind::IncomingConnection { socket_type, .. } => Some(socket_type),
            _ => None,
        })
        .collect();
    assert!(!incoming.is_empty() && incoming.iter().all(|t| *t == SocketType::TcpSsl));
}

/// Waits `secs` and asserts the downloader got nothing.
fn assert_refused(p: &Pair, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        assert_eq!(progress(&p.leecher, p.lid).1, 0, "data was transferred");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn certificate_from_another_root_is_refused() {
    let ca = Ca::new("test root");
    let rogue = Ca::new("rogue root");
    let p = pair("ssl-rogue", &ca.pem, 100_000);
    let (cert, key) = ca.issue("*", &[]);
    set_cert(&p.seeder, p.sid, &cert, &key);
    let (cert, key) = rogue.issue("*", &[]);
    set_cert(&p.leecher, p.lid, &cert, &key);
    connect(&p.leecher, p.lid, ssl_addr(&p.seeder));
    assert_refused(&p, 2);
    // The other way round: the seeder's certificate is the rogue one, and
    // the downloader (now with a good one) refuses it.
    let (cert, key) = rogue.issue("*", &[]);
    set_cert(&p.seeder, p.sid, &cert, &key);
    let (cert, key) = ca.issue("*", &[]);
    set_cert(&p.leecher, p.lid, &cert, &key);
    connect(&p.leecher, p.lid, ssl_addr(&p.seeder));
    assert_refused(&p, 2);
    // Both good: the transfer works (the refusals were about certificates).
    let (cert, key) = ca.issue("*", &[]);
    set_cert(&p.seeder, p.sid, &cert, &key);
    connect(&p.leecher, p.lid, ssl_addr(&p.seeder));
    wait_state(&p.leecher, p.lid, TorrentState::Seeding, 30);
    assert!(std::fs::read(p.dl.join("payload.bin")).unwrap() == p.content);
}

#[test]
fn certificate_naming_another_torrent_is_refused() {
    let ca = Ca::new("test root");
    let p = pair("ssl-name", &ca.pem, 100_000);
    let (cert, key) = ca.issue("*", &[]);
    set_cert(&p.seeder, p.sid, &cert, &key);
    // Right root, but issued for another torrent (by SAN, then by CN).
    let (cert, key) = ca.issue("*", &["other.bin"]);
    set_cert(&p.leecher, p.lid, &cert, &key);
    connect(&p.leecher, p.lid, ssl_addr(&p.seeder));
    assert_refused(&p, 2);
    let (cert, key) = ca.issue("other.bin", &[]);
    set_cert(&p.leecher, p.lid, &cert, &key);
    connect(&p.leecher, p.lid, ssl_addr(&p.seeder));
    assert_refused(&p, 2);
}

#[test]
fn plaintext_handshake_for_an_ssl_torrent_is_closed() {
    let ca = Ca::new("test root");
    let p = pair("ssl-plain", &ca.pem, 50_000);
    let (cert, key) = ca.issue("*", &[]);
    set_cert(&p.seeder, p.sid, &cert, &key);
    let ih = p
        .seeder
        .call(move |e| e.torrent_meta(p.sid))
        .unwrap()
        .expect("meta")
        .info_hashes()
        .v1;
    let mut hs = vec![19u8];
    hs.extend_from_slice(b"BitTorrent protocol");
    hs.extend_from_slice(&[0; 8]);
    hs.extend_from_slice(&ih.0);
    hs.extend_from_slice(b"-XX0000-plaintextpee");
    let mut s = std::net::TcpStream::connect(plain_addr(&p.seeder)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&hs).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(got.is_empty(), "the seeder answered a plaintext handshake");
}

#[test]
fn bad_certificate_input_posts_torrent_error() {
    let ca = Ca::new("test root");
    let p = pair("ssl-bad", &ca.pem, 20_000);
    let (cert, key) = ca.issue("*", &[]);
    let (_, other_key) = ca.issue("*", &[]);
    let dh = || DH.as_bytes().to_vec();
    let cases: Vec<(SslCertificate, Vec<&str>)> = vec![
        (
            SslCertificate::Buffers {
                cert: b"garbage".to_vec(),
                key: key.as_bytes().to_vec(),
                dh: dh(),
            },
            vec!["[certificate]"],
        ),
        (
            SslCertificate::Buffers {
                cert: cert.as_bytes().to_vec(),
                key: b"garbage".to_vec(),
                dh: dh(),
            },
            vec!["[private key]"],
        ),
        (
            SslCertificate::Buffers {
                cert: cert.as_bytes().to_vec(),
                key: other_key.as_bytes().to_vec(),
                dh: dh(),
            },
            vec!["[private key] the private key does not match"],
        ),
        (
            SslCertificate::Buffers {
                cert: b"garbage".to_vec(),
                key: b"garbage".to_vec(),
                dh: Vec::new(),
            },
            vec!["[certificate]", "[private key]", "[dh params]"],
        ),
        (
            SslCertificate::Files {
                cert: "/nonexistent/cert.pem".into(),
                key: "/nonexistent/key.pem".into(),
                dh: String::new(),
            },
            vec!["/nonexistent/cert.pem", "/nonexistent/key.pem", ""],
        ),
    ];
    let _ = p.leecher.pop_alerts();
    for (src, want) in cases {
        let lid = p.lid;
        p.leecher
            .call(move |e| e.set_ssl_certificate(lid, src))
            .unwrap();
        let errors: Vec<String> = p
            .leecher
            .pop_alerts()
            .iter()
            .filter_map(|a| match &a.kind {
                AlertKind::TorrentError { filename, .. } => Some(filename.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(errors.len(), want.len(), "{want:?}: {errors:?}");
        for (e, w) in errors.iter().zip(&want) {
            assert!(e.starts_with(w), "{want:?}: {errors:?}");
        }
    }
    // None of them was taken: the torrent still connects to nobody.
    connect(&p.leecher, p.lid, ssl_addr(&p.seeder));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(progress(&p.leecher, p.lid).1, 0);
    // Missing DH parameters are reported, yet the certificate is used.
    let src = SslCertificate::Buffers {
        cert: cert.as_bytes().to_vec(),
        key: key.as_bytes().to_vec(),
        dh: Vec::new(),
    };
    let lid = p.lid;
    p.leecher
        .call(move |e| e.set_ssl_certificate(lid, src))
        .unwrap();
    let dh_errors = p
        .leecher
        .pop_alerts()
        .iter()
        .filter(|a| {
            matches!(&a.kind, AlertKind::TorrentError { filename, .. } if filename.starts_with("[dh params]"))
        })
        .count();
    assert_eq!(dh_errors, 1);
    set_cert(&p.seeder, p.sid, &cert, &key);
    connect(&p.leecher, p.lid, ssl_addr(&p.seeder));
    wait_state(&p.leecher, p.lid, TorrentState::Seeding, 30);
    assert!(std::fs::read(p.dl.join("payload.bin")).unwrap() == p.content);
}

#[test]
fn ssl_port_drops_plaintext_and_unknown_info_hashes() {
    use lt_session::ssl::{self, Identity, TorrentTls};
    let ca = Ca::new("test root");
    let p = pair("ssl-sni", &ca.pem, 50_000);
    let (cert, key) = ca.issue("*", &[]);
    set_cert(&p.seeder, p.sid, &cert, &key);
    let addr = ssl_addr(&p.seeder);
    let ih = p
        .seeder
        .call(move |e| e.torrent_meta(p.sid))
        .unwrap()
        .expect("meta")
        .info_hashes()
        .v1;

    // A plaintext BitTorrent handshake on the SSL port gets no answer.
    let mut hs = vec![19u8];
    hs.extend_from_slice(b"BitTorrent protocol");
    hs.extend_from_slice(&[0; 8]);
    hs.extend_from_slice(&ih.0);
    hs.extend_from_slice(b"-XX0000-plaintextpee");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(&hs).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(!got.starts_with(&hs[..20]), "answered in plaintext");

    // TLS naming another info-hash fails; naming this torrent succeeds.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let roots = ssl::parse_root(ca.pem.as_bytes()).unwrap();
    let ident = Identity::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    let handshake = |hash: Sha1Hash| {
        let tls = TorrentTls::new(roots.clone(), "payload.bin", &hash, &ident).unwrap();
        rt.block_on(async {
            let s = tokio::net::TcpStream::connect(addr).await.unwrap();
            ssl::connect(s, &tls).await.map(|_| ())
        })
    };
    assert!(handshake(Sha1Hash([0xab; 20])).is_err());
    assert!(handshake(ih).is_ok());

    // The session still serves a real peer.
    let (cert, key) = ca.issue("*", &[]);
    set_cert(&p.leecher, p.lid, &cert, &key);
    connect(&p.leecher, p.lid, addr);
    wait_state(&p.leecher, p.lid, TorrentState::Seeding, 30);
    assert!(std::fs::read(p.dl.join("payload.bin")).unwrap() == p.content);
}

#[test]
fn pem_parsing_errors_are_clear() {
    use lt_session::ssl::{parse_chain, parse_key, parse_root, SslError};
    let ca = Ca::new("test root");
    let (cert, key) = ca.issue("*", &[]);
    assert!(parse_chain(cert.as_bytes()).is_ok());
    assert!(parse_key(key.as_bytes()).is_ok());
    let e = parse_chain(b"").unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid certificate: no PEM certificate found"
    );
    // a PEM block whose contents are no certificate
    let bogus = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        parse_chain(bogus.as_bytes()),
        Err(SslError::BadCertificate(_))
    ));
    assert!(matches!(parse_root(b"nothing"), Err(SslError::BadRoot(_))));
    assert!(matches!(
        parse_key(cert.as_bytes()),
        Err(SslError::BadPrivateKey(_))
    ));
    let encrypted =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
    assert_eq!(
        parse_key(encrypted.as_bytes()).unwrap_err(),
        SslError::EncryptedPrivateKey
    );
    // Truncations of a good key or certificate never panic.
    for cut in (0..key.len()).step_by(7) {
        let _ = parse_key(&key.as_bytes()[..cut]);
    }
    for cut in (0..cert.len()).step_by(7) {
        let _ = parse_chain(&cert.as_bytes()[..cut]);
    }
}
