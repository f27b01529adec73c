//! TLS for SSL torrents (the I/O side).
//!
//! An SSL torrent carries a root certificate (`ssl-cert` in its info
//! dictionary). Its peers talk BitTorrent over TLS, each side presenting a
//! certificate that must chain to that root: we verify the other side as
//! client and as server alike. The connecting side sends the torrent's
//! info-hash in hex as the TLS server name (SNI), so one SSL listen socket
//! serves every SSL torrent: the accepting side reads the name from the
//! ClientHello and continues the handshake with that torrent's
//! configuration. As libtorrent does, a peer certificate must also name the
//! torrent: a DNS subject alternative name or the common name equal to the
//! torrent's name, or `*`.
//!
//! Everything here works on byte streams: once the handshake is done the
//! engine sees the decrypted stream like any TCP connection and feeds it to
//! the sans-IO `PeerConnection`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use lt_core::Sha1Hash;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig};
use tokio::net::TcpStream;
use tokio_rustls::TlsStream;

/// Why a certificate, key or root could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SslError {
    /// The torrent's `ssl-cert` holds no usable certificate.
    BadRoot(String),
    /// Our certificate: no PEM certificate, or one that does not parse.
    BadCertificate(String),
    /// Our private key: none found, or not usable.
    BadPrivateKey(String),
    /// The private key is encrypted; only unencrypted PEM keys are read.
    EncryptedPrivateKey,
    /// The private key does not belong to the certificate.
    KeyMismatch,
}

impl std::fmt::Display for SslError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SslError::BadRoot(m) => write!(f, "invalid root certificate in torrent: {m}"),
            SslError::BadCertificate(m) => write!(f, "invalid certificate: {m}"),
            SslError::BadPrivateKey(m) => write!(f, "invalid private key: {m}"),
            SslError::EncryptedPrivateKey => {
                f.write_str("encrypted private keys are not supported; decrypt the key first")
            }
            SslError::KeyMismatch => f.write_str("the private key does not match the certificate"),
        }
    }
}

impl std::error::Error for SslError {}

impl SslError {
    /// Which input was at fault, as libtorrent names it in
    /// `torrent_error_alert` (`[certificate]`, `[private key]`).
    pub fn which(&self) -> &'static str {
        match self {
            SslError::BadRoot(_) => "[root certificate]",
            SslError::BadCertificate(_) => "[certificate]",
            SslError::BadPrivateKey(_) | SslError::EncryptedPrivateKey | SslError::KeyMismatch => {
                "[private key]"
            }
        }
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Parses every certificate of a PEM text (our chain, or the root).
fn parse_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut out = Vec::new();
    for c in CertificateDer::pem_slice_iter(pem) {
        let c = c.map_err(|e| format!("bad PEM: {e}"))?;
        // Each must at least parse as an X.509 certificate.
        ParsedCertificate::try_from(&c).map_err(|e| format!("not an X.509 certificate: {e}"))?;
        out.push(c);
        if out.len() > 16 {
            return Err("too many certificates".into());
        }
    }
    if out.is_empty() {
        return Err("no PEM certificate found".into());
    }
    Ok(out)
}

/// The trust anchors of a torrent: the certificate(s) in its `ssl-cert`.
pub fn parse_root(pem: &[u8]) -> Result<Arc<RootCertStore>, SslError> {
    let certs = parse_certs(pem).map_err(SslError::BadRoot)?;
    let mut store = RootCertStore::empty();
    for c in certs {
        store
            .add(c)
            .map_err(|e| SslError::BadRoot(format!("not a usable trust anchor: {e}")))?;
    }
    Ok(Arc::new(store))
}

/// Our certificate chain and private key, from PEM.
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("chain", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// Parses our certificate (chain) from PEM.
pub fn parse_chain(cert: &[u8]) -> Result<Vec<CertificateDer<'static>>, SslError> {
    parse_certs(cert).map_err(SslError::BadCertificate)
}

/// Parses an unencrypted PEM private key (PKCS#8, PKCS#1 or SEC1) and
/// checks that it is a key our TLS can sign with.
pub fn parse_key(key: &[u8]) -> Result<PrivateKeyDer<'static>, SslError> {
    if contains(key, b"ENCRYPTED PRIVATE KEY") || contains(key, b"Proc-Type: 4,ENCRYPTED") {
        return Err(SslError::EncryptedPrivateKey);
    }
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            SslError::BadPrivateKey("no PEM private key found".into())
        }
        e => SslError::BadPrivateKey(format!("bad PEM: {e}")),
    })?;
    provider()
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|e| SslError::BadPrivateKey(e.to_string()))?;
    Ok(key)
}

/// Whether a PEM text holds Diffie-Hellman parameters (libtorrent's
/// `dh_params`; checked for the error report only, our TLS does not use
/// finite-field DH).
pub fn looks_like_dh_params(pem: &[u8]) -> bool {
    contains(pem, b"-----BEGIN DH PARAMETERS-----") && contains(pem, b"-----END DH PARAMETERS-----")
}

impl Identity {
    /// Our certificate chain and key, checked to belong together.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Identity, SslError> {
        let signer = provider()
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|e| SslError::BadPrivateKey(e.to_string()))?;
        let ck = rustls::sign::CertifiedKey::new(chain.clone(), signer);
        match ck.keys_match() {
            Ok(()) => {}
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
                return Err(SslError::KeyMismatch)
            }
            // The key type cannot report its public key: nothing to compare.
            Err(_) => {}
        }
        Ok(Identity { chain, key })
    }

    /// Parses a PEM certificate (chain) and an unencrypted PEM private key,
    /// and checks that they belong together.
    pub fn from_pem(cert: &[u8], key: &[u8]) -> Result<Identity, SslError> {
        Identity::new(parse_chain(cert)?, parse_key(key)?)
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The TLS configurations of one SSL torrent that has our certificate.
pub struct TorrentTls {
    pub client: Arc<ClientConfig>,
    pub server: Arc<ServerConfig>,
    /// The name the connecting side sends: the info-hash in hex.
    pub sni: ServerName<'static>,
}

impl std::fmt::Debug for TorrentTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TorrentTls")
            .field("sni", &self.sni)
            .finish_non_exhaustive()
    }
}

impl TorrentTls {
    /// Builds both configurations: peers must present a certificate chaining
    /// to `roots` and naming `torrent_name` (or `*`).
    pub fn new(
        roots: Arc<RootCertStore>,
        torrent_name: &str,
        sni_hash: &Sha1Hash,
        id: &Identity,
    ) -> Result<TorrentTls, SslError> {
        let p = provider();
        let algs = p.signature_verification_algorithms;
        let server_verifier = Arc::new(PeerServerVerifier {
            roots: roots.clone(),
            name: torrent_name.to_string(),
            algs,
        });
        let client = ClientConfig::builder_with_provider(p.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| SslError::BadCertificate(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(server_verifier)
            .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
            .map_err(key_error)?;
        let inner = WebPkiClientVerifier::builder_with_provider(roots, p.clone())
            .build()
            .map_err(|e| SslError::BadRoot(e.to_string()))?;
        let client_verifier = Arc::new(PeerClientVerifier {
            inner,
            name: torrent_name.to_string(),
        });
        let server = ServerConfig::builder_with_provider(p)
            .with_safe_default_protocol_versions()
            .map_err(|e| SslError::BadCertificate(e.to_string()))?
            .with_client_cert_verifier(client_verifier)
            .with_single_cert(id.chain.clone(), id.key.clone_key())
            .map_err(key_error)?;
        let sni = ServerName::try_from(sni_hash.to_hex())
            .map_err(|e| SslError::BadRoot(format!("info-hash is no server name: {e}")))?;
        Ok(TorrentTls {
            client: Arc::new(client),
            server: Arc::new(server),
            sni,
        })
    }
}

fn key_error(e: rustls::Error) -> SslError {
    match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            SslError::KeyMismatch
        }
        e => SslError::BadPrivateKey(e.to_string()),
    }
}

/// Whether a peer's end-entity certificate names the torrent, as libtorrent
/// requires: a DNS subject alternative name, else the subject's common
/// name, equal to the torrent's name or `*`.
fn names_torrent(cert: &CertificateDer<'_>, torrent_name: &str) -> bool {
    let Some(names) = lt_core::x509_names::cert_names(cert.as_ref()) else {
        return false;
    };
    let ok = |n: &[u8]| n == b"*" || n == torrent_name.as_bytes();
    if !names.dns.is_empty() {
        return names.dns.iter().any(|n| ok(n));
    }
    names.common_names.iter().any(|n| ok(n))
}

fn name_error() -> rustls::Error {
    rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName)
}

/// Verifies the accepting peer's certificate on connections we open.
#[derive(Debug)]
struct PeerServerVerifier {
    roots: Arc<RootCertStore>,
    name: String,
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PeerServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.algs.all,
        )?;
        if !names_torrent(end_entity, &self.name) {
            return Err(name_error());
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// Verifies the connecting peer's certificate on connections we accept:
/// the chain check of rustls' WebPKI verifier, then the name check.
#[derive(Debug)]
struct PeerClientVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    name: String,
}

impl ClientCertVerifier for PeerClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.inner
            .verify_client_cert(end_entity, intermediates, now)?;
        if !names_torrent(end_entity, &self.name) {
            return Err(name_error());
        }
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }
}

/// The server configurations of the SSL torrents we have certificates for,
/// by v1 and truncated v2 info-hash. Shared by the engine (which updates
/// it) and the SSL accept tasks (which look up the SNI name in it).
pub type Registry = Arc<RwLock<HashMap<Sha1Hash, Arc<ServerConfig>>>>;

/// How long a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn timed_out() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "SSL handshake timed out")
}

/// Runs the client side of the handshake on a connected socket.
pub async fn connect(stream: TcpStream, tls: &TorrentTls) -> std::io::Result<TlsStream<TcpStream>> {
    let _ = stream.set_nodelay(true);
    let connector = tokio_rustls::TlsConnector::from(tls.client.clone());
    match tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        connector.connect(tls.sni.clone(), stream),
    )
    .await
    {
        Ok(r) => r.map(TlsStream::from),
        Err(_) => Err(timed_out()),
    }
}

/// The info-hash named by a ClientHello's server name (40 hex digits).
pub fn sni_hash(name: Option<&str>) -> Option<Sha1Hash> {
    let name = name?;
    if name.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, b) in out.iter_mut().enumerate() {
        let s = name.get(2 * i..2 * i + 2)?;
        *b = u8::from_str_radix(s, 16).ok()?;
    }
    Some(Sha1Hash(out))
}

/// Runs the server side of the handshake on an accepted socket: reads the
/// ClientHello, picks the torrent its server name names, and completes the
/// handshake with that torrent's configuration.
pub async fn accept(
    stream: TcpStream,
    registry: &Registry,
) -> std::io::Result<(TlsStream<TcpStream>, Sha1Hash)> {
    let _ = stream.set_nodelay(true);
    let work = async {
        let acceptor =
            tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
        let start = acceptor.await?;
        let hash = sni_hash(start.client_hello().server_name()).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "no info-hash in SNI")
        })?;
        let config = registry
            .read()
            .ok()
            .and_then(|r| r.get(&hash).cloned())
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no SSL torrent with a certificate for this info-hash",
                )
            })?;
        let s = start.into_stream(config).await?;
        Ok((TlsStream::from(s), hash))
    };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, work).await {
        Ok(r) => r,
        Err(_) => Err(timed_out()),
    }
}

/// How many incoming TLS handshakes one SSL listen socket runs at once;
/// connections beyond are closed at once.
pub const MAX_PENDING_HANDSHAKES: usize = 64;

/// Accepts on an SSL listen socket: each connection's handshake runs in its
/// own task, and finished ones go to the engine.
pub(crate) async fn accept_loop(
    listener: tokio::net::TcpListener,
    registry: Registry,
    tx: tokio::sync::mpsc::UnboundedSender<crate::engine::Event>,
) {
    let pending = Arc::new(tokio::sync::Semaphore::new(MAX_PENDING_HANDSHAKES));
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                // Too many handshakes in progress: this one is dropped.
                let Ok(permit) = pending.clone().try_acquire_owned() else {
                    continue;
                };
                let registry = registry.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let local = stream.local_addr().ok();
                    let result = accept(stream, &registry).await;
                    drop(permit);
                    let _ = tx.send(crate::engine::Event::SslIncoming(Box::new(SslIncoming {
                        peer,
                        local,
                        result,
                    })));
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// An accepted SSL connection, handshake done (or failed).
pub(crate) struct SslIncoming {
    pub peer: SocketAddr,
    pub local: Option<SocketAddr>,
    pub result: std::io::Result<(TlsStream<TcpStream>, Sha1Hash)>,
}
