//! Message Stream Encryption / Protocol Encryption (MSE/PE), what
//! libtorrent calls "encryption": a Diffie-Hellman key exchange over the
//! 768-bit MSE prime, then RC4 (first 1024 bytes of keystream discarded)
//! or plaintext for the rest of the stream, chosen by `crypto_provide` /
//! `crypto_select`.
//!
//! [`MseHandshake`] is a sans-IO state machine for either side. It takes
//! its randomness (the DH private key and the padding) from the caller, so
//! it is deterministic under test. When it finishes it yields an
//! [`MseResult`]: the method chosen, the two RC4 stream states (for RC4)
//! and the first payload bytes (the initiator's initial payload, plus
//! anything that arrived after the handshake, already decrypted).
//!
//! The driver then sits between the socket and the [`crate::PeerConnection`]:
//! bytes read are decrypted in place with [`MseResult::decryptor`] before
//! [`crate::PeerConnection::process`] (decrypt the newly read tail of
//! [`crate::PeerConnection::recv_buffer`]), and chunks from
//! [`crate::PeerConnection::poll_transmit`] are encrypted with
//! [`MseResult::encryptor`] before writing.
//!
//! The RC4 cipher is implemented here (about 30 lines) rather than taken
//! from a crate: the algorithm is tiny and fixed, we need exactly one
//! operation (apply keystream in place to buffers of any length), and a
//! generic stream-cipher trait crate would add more code than it saves.

use num_bigint::BigUint;
use sha1::{Digest, Sha1};

use lt_core::Sha1Hash;

use crate::Error;

/// The 768-bit MSE prime, big-endian.
pub const PRIME: [u8; 96] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC9, 0x0F, 0xDA, 0xA2, 0x21, 0x68, 0xC2, 0x34,
    0xC4, 0xC6, 0x62, 0x8B, 0x80, 0xDC, 0x1C, 0xD1, 0x29, 0x02, 0x4E, 0x08, 0x8A, 0x67, 0xCC, 0x74,
    0x02, 0x0B, 0xBE, 0xA6, 0x3B, 0x13, 0x9B, 0x22, 0x51, 0x4A, 0x08, 0x79, 0x8E, 0x34, 0x04, 0xDD,
    0xEF, 0x95, 0x19, 0xB3, 0xCD, 0x3A, 0x43, 0x1B, 0x30, 0x2B, 0x0A, 0x6D, 0xF2, 0x5F, 0x14, 0x37,
    0x4F, 0xE1, 0x35, 0x6D, 0x6D, 0x51, 0xC2, 0x45, 0xE4, 0x85, 0xB5, 0x76, 0x62, 0x5E, 0x7E, 0xC6,
    0xF4, 0x4C, 0x42, 0xE9, 0xA6, 0x3A, 0x36, 0x21, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x05, 0x63,
];

/// Largest padding MSE allows (PadA, PadB, PadC, PadD).
pub const MAX_PAD: usize = 512;
/// `crypto_provide` / `crypto_select` bit for plaintext.
pub const CRYPTO_PLAINTEXT: u32 = 0x01;
/// `crypto_provide` / `crypto_select` bit for RC4.
pub const CRYPTO_RC4: u32 = 0x02;

/// Shortest DH private key accepted (128 bits, the MSE minimum).
pub const MIN_SECRET: usize = 16;

const KEY_LEN: usize = 96;
const VC: [u8; 8] = [0; 8];

/// RC4 stream cipher state.
#[derive(Clone)]
pub struct Rc4 {
    s: [u8; 256],
    i: u8,
    j: u8,
}

impl std::fmt::Debug for Rc4 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rc4")
    }
}

impl Rc4 {
    /// Key schedule. `key` must not be empty (MSE keys are 20 bytes).
    pub fn new(key: &[u8]) -> Rc4 {
        let mut s = [0u8; 256];
        for (i, x) in s.iter_mut().enumerate() {
            *x = i as u8;
        }
        if !key.is_empty() {
            let mut j = 0u8;
            for i in 0..256 {
                j = j.wrapping_add(s[i]).wrapping_add(key[i % key.len()]);
                s.swap(i, j as usize);
            }
        }
        Rc4 { s, i: 0, j: 0 }
    }

    /// XORs the keystream into `data` (encrypts or decrypts in place).
    pub fn apply(&mut self, data: &mut [u8]) {
        for b in data {
            self.i = self.i.wrapping_add(1);
            self.j = self.j.wrapping_add(self.s[self.i as usize]);
            self.s.swap(self.i as usize, self.j as usize);
            let k =
                self.s[(self.s[self.i as usize].wrapping_add(self.s[self.j as usize])) as usize];
            *b ^= k;
        }
    }

    /// The MSE stream for `key`: RC4 with the first 1024 bytes discarded.
    pub fn mse(key: &Sha1Hash) -> Rc4 {
        let mut r = Rc4::new(&key.0);
        r.apply(&mut [0u8; 1024]);
        r
    }
}

fn hash(parts: &[&[u8]]) -> Sha1Hash {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    Sha1Hash(h.finalize().into())
}

fn to_96(n: &BigUint) -> [u8; KEY_LEN] {
    let b = n.to_bytes_be();
    let mut out = [0u8; KEY_LEN];
    let start = KEY_LEN.saturating_sub(b.len());
    let skip = b.len().saturating_sub(KEY_LEN);
    out[start..].copy_from_slice(&b[skip..]);
    out
}

/// A Diffie-Hellman key pair over the MSE prime with generator 2.
#[derive(Clone)]
pub struct DhKey {
    private: BigUint,
    public: [u8; KEY_LEN],
}

impl DhKey {
    /// From caller-supplied random bytes (MSE asks for at least 128 bits;
    /// libtorrent uses 160).
    pub fn new(secret: &[u8]) -> DhKey {
        let p = BigUint::from_bytes_be(&PRIME);
        let private = BigUint::from_bytes_be(secret);
        let public = to_96(&BigUint::from(2u32).modpow(&private, &p));
        DhKey { private, public }
    }

    /// Our public value `Y = 2^X mod P`, 96 bytes big-endian.
    pub fn public(&self) -> &[u8; KEY_LEN] {
        &self.public
    }

    /// The shared secret `S = Y_peer^X mod P`. Rejects degenerate peer
    /// values (0, 1, P-1 and values ≥ P), which would make S predictable.
    pub fn shared_secret(&self, peer_public: &[u8]) -> Result<[u8; KEY_LEN], Error> {
        let p = BigUint::from_bytes_be(&PRIME);
        let y = BigUint::from_bytes_be(peer_public);
        let one = BigUint::from(1u32);
        if y <= one || y >= &p - &one {
            return Err(Error::Encryption("invalid Diffie-Hellman public value"));
        }
        Ok(to_96(&y.modpow(&self.private, &p)))
    }
}

/// `HASH('req2', SKEY)`: what an incoming side looks info-hashes up by.
pub fn req2_hash(skey: &Sha1Hash) -> Sha1Hash {
    hash(&[b"req2", &skey.0])
}

/// Whether the first bytes of an incoming stream are a plaintext BitTorrent
/// handshake (as opposed to an MSE handshake). Needs up to 20 bytes; with
/// fewer it answers for the bytes present.
pub fn looks_like_plaintext(first: &[u8]) -> bool {
    let n = first.len().min(20);
    first[..n] == crate::handshake::PROTOCOL[..n]
}

/// The stream method chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CryptoMethod {
    Plaintext,
    Rc4,
}

/// The outcome of a completed MSE handshake.
#[derive(Debug)]
pub struct MseResult {
    pub method: CryptoMethod,
    /// The stream key (info-hash) the connection is for. The BitTorrent
    /// handshake that follows must name this same info-hash: check it on
    /// [`crate::Event::IncomingHandshake`].
    pub skey: Sha1Hash,
    /// Apply to every byte we send after the handshake (RC4 only).
    pub encryptor: Option<Rc4>,
    /// Apply to every byte we receive after the handshake (RC4 only).
    pub decryptor: Option<Rc4>,
    /// Payload that arrived during the handshake, already decrypted: for the
    /// receiving side the initiator's IA, then any bytes that followed.
    /// Feed it to the peer connection first.
    pub initial_payload: Vec<u8>,
}

/// Which side and what it was configured with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Outgoing: waiting for Yb.
    AWaitY,
    /// Outgoing: looking for ENCRYPT(VC) after PadB.
    ASync,
    /// Outgoing: crypto_select and len(PadD).
    ASelect,
    /// Outgoing: skipping PadD.
    APadD(u16),
    /// Incoming: waiting for Ya.
    BWaitY,
    /// Incoming: looking for HASH('req1', S) after PadA.
    BSync,
    /// Incoming: HASH('req2', SKEY) xor HASH('req3', S).
    BSkey,
    /// Incoming: VC, crypto_provide, len(PadC).
    BProvide,
    /// Incoming: PadC and len(IA).
    BPadC(u16),
    /// Incoming: IA.
    BIa(u16),
    Done,
    Failed,
}

/// Sans-IO MSE handshake for one side of a connection.
pub struct MseHandshake {
    state: State,
    key: DhKey,
    /// Incoming: the info-hashes we serve, with their `req2` hashes.
    skeys: Vec<(Sha1Hash, Sha1Hash)>,
    skey: Option<Sha1Hash>,
    secret: Option<[u8; KEY_LEN]>,
    /// Outgoing: what we offer. Incoming: what we accept.
    methods: u32,
    prefer_rc4: bool,
    ia: Vec<u8>,
    sync_pattern: Vec<u8>,
    crypto_provide: u32,
    select: u32,
    buf: Vec<u8>,
    /// Bytes consumed since the start of the current search window.
    searched: usize,
    out: Vec<u8>,
    enc: Option<Rc4>,
    dec: Option<Rc4>,
    result: Option<MseResult>,
}

impl MseHandshake {
    fn base(secret: &[u8], methods: u32, pad: &[u8]) -> MseHandshake {
        let key = DhKey::new(secret);
        let mut out = key.public().to_vec();
        out.extend_from_slice(&pad[..pad.len().min(MAX_PAD)]);
        MseHandshake {
            state: State::Failed,
            key,
            skeys: Vec::new(),
            skey: None,
            secret: None,
            methods: methods & (CRYPTO_PLAINTEXT | CRYPTO_RC4),
            prefer_rc4: true,
            ia: Vec::new(),
            sync_pattern: Vec::new(),
            crypto_provide: 0,
            select: 0,
            buf: Vec::new(),
            searched: 0,
            out,
            enc: None,
            dec: None,
            result: None,
        }
    }

    /// The initiating side for torrent `skey`, offering `methods`
    /// (`CRYPTO_RC4`, `CRYPTO_PLAINTEXT` or both). `secret` is the DH
    /// private key (random, ≥ 16 bytes), `pad` the random PadA (≤ 512
    /// bytes used), `initial_payload` the IA (typically our BitTorrent
    /// handshake; may be empty). Ya and PadA are queued at once.
    pub fn outgoing(
        skey: Sha1Hash,
        secret: &[u8],
        pad: &[u8],
        methods: u32,
        initial_payload: Vec<u8>,
    ) -> Self {
        let mut h = Self::base(secret, methods, pad);
        h.skey = Some(skey);
        h.ia = initial_payload;
        h.state = if h.methods == 0 || h.ia.len() > u16::MAX as usize || secret.len() < MIN_SECRET {
            State::Failed
        } else {
            State::AWaitY
        };
        h
    }

    /// The receiving side. `skeys` are the info-hashes we serve (v1 hashes
    /// and truncated v2 hashes), `methods` what we accept, `prefer_rc4`
    /// picks RC4 when the peer offers both. `pad` is the random PadB.
    pub fn incoming(
        skeys: &[Sha1Hash],
        secret: &[u8],
        pad: &[u8],
        methods: u32,
        prefer_rc4: bool,
    ) -> Self {
        let mut h = Self::base(secret, methods, pad);
        h.out.clear();
        h.skeys = skeys.iter().map(|k| (*k, req2_hash(k))).collect();
        h.prefer_rc4 = prefer_rc4;
        h.state = if h.methods == 0 || secret.len() < MIN_SECRET {
            State::Failed
        } else {
            State::BWaitY
        };
        h.sync_pattern = pad[..pad.len().min(MAX_PAD)].to_vec(); // PadB, sent once Ya arrives
        h
    }

    /// Bytes to send now (empty when there is nothing).
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// True once the handshake completed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The result, once [`is_done`](Self::is_done) (taken once).
    pub fn take_result(&mut self) -> Option<MseResult> {
        self.result.take()
    }

    /// Feeds received bytes. An error is final.
    pub fn receive(&mut self, data: &[u8]) -> Result<(), Error> {
        match self.state {
            State::Failed => return Err(Error::Encryption("handshake already failed")),
            State::Done => {
                // Late bytes belong to the payload stream.
                if let Some(r) = self.result.as_mut() {
                    let mut d = data.to_vec();
                    if let Some(dec) = r.decryptor.as_mut() {
                        dec.apply(&mut d);
                    }
                    r.initial_payload.extend_from_slice(&d);
                    return Ok(());
                }
                return Err(Error::Encryption("handshake result already taken"));
            }
            _ => {}
        }
        self.buf.extend_from_slice(data);
        let r = self.run();
        if r.is_err() {
            self.state = State::Failed;
            self.buf.clear();
            self.out.clear();
        }
        r
    }

    fn decrypt_front(&mut self, n: usize) -> Vec<u8> {
        let mut v: Vec<u8> = self.buf.drain(..n).collect();
        if let Some(d) = self.dec.as_mut() {
            d.apply(&mut v);
        }
        v
    }

    fn keys(&mut self, skey: &Sha1Hash, outgoing: bool) -> Result<(), Error> {
        let s = self.secret.ok_or(Error::Encryption("no shared secret"))?;
        let ka = Rc4::mse(&hash(&[b"keyA", &s, &skey.0]));
        let kb = Rc4::mse(&hash(&[b"keyB", &s, &skey.0]));
        if outgoing {
            self.enc = Some(ka);
            self.dec = Some(kb);
        } else {
            self.enc = Some(kb);
            self.dec = Some(ka);
        }
        Ok(())
    }

    fn run(&mut self) -> Result<(), Error> {
        loop {
            match self.state {
                State::AWaitY | State::BWaitY => {
                    if self.buf.len() < KEY_LEN {
                        return Ok(());
                    }
                    let y: Vec<u8> = self.buf.drain(..KEY_LEN).collect();
                    let s = self.key.shared_secret(&y)?;
                    self.secret = Some(s);
                    if self.state == State::AWaitY {
                        let skey = self.skey.ok_or(Error::Encryption("no skey"))?;
                        self.keys(&skey, true)?;
                        let mut msg = Vec::with_capacity(40 + 16 + self.ia.len());
                        msg.extend_from_slice(&hash(&[b"req1", &s]).0);
                        let r2 = req2_hash(&skey);
                        let r3 = hash(&[b"req3", &s]);
                        msg.extend(r2.0.iter().zip(r3.0.iter()).map(|(a, b)| a ^ b));
                        let mut enc = Vec::with_capacity(16 + self.ia.len());
                        enc.extend_from_slice(&VC);
                        enc.extend_from_slice(&self.methods.to_be_bytes());
                        enc.extend_from_slice(&0u16.to_be_bytes()); // len(PadC)
                        enc.extend_from_slice(&(self.ia.len() as u16).to_be_bytes());
                        enc.extend_from_slice(&self.ia);
                        if let Some(e) = self.enc.as_mut() {
                            e.apply(&mut enc);
                        }
                        msg.extend_from_slice(&enc);
                        self.out.extend_from_slice(&msg);
                        // The responder's stream starts with ENCRYPT(VC).
                        let mut pat = VC.to_vec();
                        if let Some(mut d) = self.dec.clone() {
                            d.apply(&mut pat);
                        }
                        self.sync_pattern = pat;
                        self.searched = 0;
                        self.state = State::ASync;
                    } else {
                        let pad_b = std::mem::take(&mut self.sync_pattern);
                        self.out.extend_from_slice(self.key.public());
                        self.out.extend_from_slice(&pad_b);
                        self.sync_pattern = hash(&[b"req1", &s]).0.to_vec();
                        self.searched = 0;
                        self.state = State::BSync;
                    }
                }
                State::ASync | State::BSync => {
                    let pat = &self.sync_pattern;
                    let found = self.buf.windows(pat.len()).position(|w| w == &pat[..]);
                    match found {
                        Some(pos) if self.searched + pos <= MAX_PAD => {
                            self.buf.drain(..pos + pat.len());
                            if self.state == State::ASync {
                                // Advance the decryptor past the VC we matched.
                                if let Some(d) = self.dec.as_mut() {
                                    d.apply(&mut [0u8; 8]);
                                }
                                self.state = State::ASelect;
                            } else {
                                self.state = State::BSkey;
                            }
                        }
                        _ => {
                            // Keep the last len-1 bytes, which may start a match.
                            let keep = pat.len() - 1;
                            if self.buf.len() > keep {
                                let drop = self.buf.len() - keep;
                                self.searched += drop;
                                self.buf.drain(..drop);
                            }
                            if self.searched > MAX_PAD {
                                return Err(Error::Encryption("synchronisation pattern not found"));
                            }
                            return Ok(());
                        }
                    }
                }
                State::BSkey => {
                    if self.buf.len() < 20 {
                        return Ok(());
                    }
                    let x: Vec<u8> = self.buf.drain(..20).collect();
                    let s = self.secret.ok_or(Error::Encryption("no shared secret"))?;
                    let r3 = hash(&[b"req3", &s]);
                    let mut want = [0u8; 20];
                    for (w, (a, b)) in want.iter_mut().zip(x.iter().zip(r3.0.iter())) {
                        *w = a ^ b;
                    }
                    let skey = self
                        .skeys
                        .iter()
                        .find(|(_, r2)| r2.0 == want)
                        .map(|(k, _)| *k)
                        .ok_or(Error::Encryption("unknown info-hash"))?;
                    self.skey = Some(skey);
                    self.keys(&skey, false)?;
                    self.state = State::BProvide;
                }
                State::BProvide => {
                    if self.buf.len() < 14 {
                        return Ok(());
                    }
                    let v = self.decrypt_front(14);
                    if v[..8] != VC {
                        return Err(Error::Encryption("bad verification constant"));
                    }
                    self.crypto_provide = u32::from_be_bytes([v[8], v[9], v[10], v[11]]);
                    let pad_c = u16::from_be_bytes([v[12], v[13]]);
                    if pad_c as usize > MAX_PAD {
                        return Err(Error::Encryption("PadC too long"));
                    }
                    self.state = State::BPadC(pad_c);
                }
                State::BPadC(n) => {
                    let n = n as usize;
                    if self.buf.len() < n + 2 {
                        return Ok(());
                    }
                    let v = self.decrypt_front(n + 2);
                    let ia_len = u16::from_be_bytes([v[n], v[n + 1]]);
                    self.state = State::BIa(ia_len);
                }
                State::BIa(n) => {
                    let n = n as usize;
                    if self.buf.len() < n {
                        return Ok(());
                    }
                    let ia = self.decrypt_front(n);
                    let common = self.crypto_provide & self.methods;
                    let select = if common & CRYPTO_RC4 != 0
                        && (self.prefer_rc4 || common & CRYPTO_PLAINTEXT == 0)
                    {
                        CRYPTO_RC4
                    } else if common & CRYPTO_PLAINTEXT != 0 {
                        CRYPTO_PLAINTEXT
                    } else {
                        return Err(Error::Encryption("no common encryption method"));
                    };
                    let mut msg = VC.to_vec();
                    msg.extend_from_slice(&select.to_be_bytes());
                    msg.extend_from_slice(&0u16.to_be_bytes()); // len(PadD)
                    if let Some(e) = self.enc.as_mut() {
                        e.apply(&mut msg);
                    }
                    self.out.extend_from_slice(&msg);
                    self.select = select;
                    self.finish(ia);
                    return Ok(());
                }
                State::ASelect => {
                    if self.buf.len() < 6 {
                        return Ok(());
                    }
                    let v = self.decrypt_front(6);
                    let select = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
                    if !(select == CRYPTO_RC4 || select == CRYPTO_PLAINTEXT)
                        || select & self.methods == 0
                    {
                        return Err(Error::Encryption("peer selected a method we did not offer"));
                    }
                    self.select = select;
                    let pad_d = u16::from_be_bytes([v[4], v[5]]);
                    if pad_d as usize > MAX_PAD {
                        return Err(Error::Encryption("PadD too long"));
                    }
                    self.state = State::APadD(pad_d);
                }
                State::APadD(n) => {
                    if self.buf.len() < n as usize {
                        return Ok(());
                    }
                    self.decrypt_front(n as usize);
                    self.finish(Vec::new());
                    return Ok(());
                }
                State::Done | State::Failed => return Ok(()),
            }
        }
    }

    fn finish(&mut self, mut payload: Vec<u8>) {
        let rc4 = self.select == CRYPTO_RC4;
        let (mut enc, mut dec) = (self.enc.take(), self.dec.take());
        if !rc4 {
            enc = None;
            dec = None;
        }
        let mut rest = std::mem::take(&mut self.buf);
        if let Some(d) = dec.as_mut() {
            d.apply(&mut rest);
        }
        payload.extend_from_slice(&rest);
        self.result = Some(MseResult {
            method: if rc4 {
                CryptoMethod::Rc4
            } else {
                CryptoMethod::Plaintext
            },
            skey: self.skey.unwrap_or_default(),
            encryptor: enc,
            decryptor: dec,
            initial_payload: payload,
        });
        self.state = State::Done;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rc4_known_vectors() {
        let mut d = *b"Plaintext";
        Rc4::new(b"Key").apply(&mut d);
        assert_eq!(lt_core::to_hex(&d), "bbf316e8d940af0ad3");
        let mut d = *b"Attack at dawn";
        Rc4::new(b"Secret").apply(&mut d);
        assert_eq!(lt_core::to_hex(&d), "45a01f645fc35b383552544b9bf5");
        // Applying in pieces is the same as applying at once.
        let mut a = [0u8; 100];
        let mut b = [0u8; 100];
        Rc4::new(b"k").apply(&mut a);
        let mut r = Rc4::new(b"k");
        r.apply(&mut b[..33]);
        r.apply(&mut b[33..]);
        assert_eq!(a, b);
    }

    // Values computed independently with Python's pow(2, x, P).
    #[test]
    fn dh_known_values() {
        let a = DhKey::new(&[1; 20]);
        let b = DhKey::new(&[2; 20]);
        assert_eq!(
            lt_core::to_hex(a.public()),
            "d0e3956c8bb7401546dd5f47415fec488545a032debe8a9705aff32021c9ace338096db3b46ab61bd5dced30a7f7963a\
             b0757540bd866106adbd811151f6fdbf4209b3bde658e0079aac8cd96313a29c2d63ff789e0ac4e0d60f9d1b0b387720"
        );
        let s = a.shared_secret(b.public()).unwrap();
        assert_eq!(s, b.shared_secret(a.public()).unwrap());
        assert_eq!(
            lt_core::to_hex(&s),
            "478531421d985de779c1fd27f0fe13f8a8e15b9e171f3d1bb7d2830b0f8c94241a5fe6560179bae85b6143d1b35e936e\
             c89d2493892249207efd26e998332ed835dd7a90481517d4c9e58175d644e232317e1e970e55b48ec7cbe8fab193d842"
        );
        assert_eq!(
            hash(&[b"req1", &s]).to_hex(),
            "0a6d483c3bc61484a210fa0f37d99062fd569483"
        );
        assert!(a.shared_secret(&[0; 96]).is_err());
        assert!(a.shared_secret(&[1]).is_err());
        assert!(a.shared_secret(&PRIME).is_err());
        let mut pm1 = PRIME;
        pm1[95] -= 1;
        assert!(a.shared_secret(&pm1).is_err());
    }

    fn run_pair(
        mut a: MseHandshake,
        mut b: MseHandshake,
        chunk: usize,
    ) -> (Result<MseResult, Error>, Result<MseResult, Error>) {
        for _ in 0..100 {
            let oa = a.take_output();
            for c in oa.chunks(chunk) {
                if let Err(e) = b.receive(c) {
                    return (a.take_result().ok_or(Error::Closed), Err(e));
                }
            }
            let ob = b.take_output();
            for c in ob.chunks(chunk) {
                if let Err(e) = a.receive(c) {
                    return (Err(e), b.take_result().ok_or(Error::Closed));
                }
            }
            if a.is_done() && b.is_done() && oa.is_empty() && ob.is_empty() {
                break;
            }
        }
        (
            a.take_result().ok_or(Error::Closed),
            b.take_result().ok_or(Error::Closed),
        )
    }

    const SKEY: Sha1Hash = Sha1Hash([0x5a; 20]);

    fn responder(methods: u32, prefer_rc4: bool) -> MseHandshake {
        MseHandshake::incoming(
            &[Sha1Hash([1; 20]), SKEY],
            &[9; 20],
            &[0x33; 200],
            methods,
            prefer_rc4,
        )
    }

    #[test]
    fn full_handshake_rc4_then_stream() {
        for chunk in [1, 7, 1000] {
            let a = MseHandshake::outgoing(
                SKEY,
                &[3; 20],
                &[0x44; 77],
                CRYPTO_RC4 | CRYPTO_PLAINTEXT,
                b"IA!".to_vec(),
            );
            let (ra, rb) = run_pair(a, responder(CRYPTO_RC4 | CRYPTO_PLAINTEXT, true), chunk);
            let (mut ra, mut rb) = (ra.unwrap(), rb.unwrap());
            assert_eq!(ra.method, CryptoMethod::Rc4);
            assert_eq!(rb.method, CryptoMethod::Rc4);
            assert_eq!(rb.skey, SKEY);
            assert_eq!(rb.initial_payload, b"IA!");
            assert!(ra.initial_payload.is_empty());
            // Payload stream both ways.
            let mut msg = b"hello from A".to_vec();
            ra.encryptor.as_mut().unwrap().apply(&mut msg);
            assert_ne!(&msg, b"hello from A");
            rb.decryptor.as_mut().unwrap().apply(&mut msg);
            assert_eq!(&msg, b"hello from A");
            let mut msg = b"and from B".to_vec();
            rb.encryptor.as_mut().unwrap().apply(&mut msg);
            ra.decryptor.as_mut().unwrap().apply(&mut msg);
            assert_eq!(&msg, b"and from B");
        }
    }

    #[test]
    fn plaintext_selected() {
        let a = MseHandshake::outgoing(SKEY, &[3; 20], &[], CRYPTO_RC4 | CRYPTO_PLAINTEXT, vec![]);
        let (ra, rb) = run_pair(a, responder(CRYPTO_RC4 | CRYPTO_PLAINTEXT, false), 5);
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert_eq!(
            (ra.method, rb.method),
            (CryptoMethod::Plaintext, CryptoMethod::Plaintext)
        );
        assert!(ra.encryptor.is_none() && rb.decryptor.is_none());
        // Responder only accepts RC4, initiator only plaintext: no match.
        let a = MseHandshake::outgoing(SKEY, &[3; 20], &[], CRYPTO_PLAINTEXT, vec![]);
        let (_, rb) = run_pair(a, responder(CRYPTO_RC4, true), 5);
        assert_eq!(
            rb.unwrap_err(),
            Error::Encryption("no common encryption method")
        );
    }

    #[test]
    fn payload_after_handshake_is_decrypted() {
        let mut a = MseHandshake::outgoing(SKEY, &[3; 20], &[1; 10], CRYPTO_RC4, vec![]);
        let mut b = responder(CRYPTO_RC4, true);
        b.receive(&a.take_output()).unwrap();
        a.receive(&b.take_output()).unwrap();
        b.receive(&a.take_output()).unwrap();
        let mut rb = b.take_result().unwrap();
        // B's handshake tail and its first payload bytes arrive together.
        let mut wire = b.take_output();
        let mut payload = b"\x00\x00\x00\x01\x02".to_vec();
        rb.encryptor.as_mut().unwrap().apply(&mut payload);
        wire.extend_from_slice(&payload);
        a.receive(&wire).unwrap();
        let ra = a.take_result().unwrap();
        assert_eq!(ra.initial_payload, b"\x00\x00\x00\x01\x02");
    }

    #[test]
    fn failures() {
        // Unknown info-hash.
        let a = MseHandshake::outgoing(Sha1Hash([0x77; 20]), &[3; 20], &[], CRYPTO_RC4, vec![]);
        let (_, rb) = run_pair(a, responder(CRYPTO_RC4, true), 64);
        assert_eq!(rb.unwrap_err(), Error::Encryption("unknown info-hash"));
        // Garbage after a valid Ya: no sync within 512 bytes of padding.
        let mut b = responder(CRYPTO_RC4, true);
        b.receive(DhKey::new(&[5; 20]).public()).unwrap();
        let mut err = None;
        for i in 0..700u32 {
            if let Err(e) = b.receive(&[(i * 7) as u8]) {
                err = Some(e);
                break;
            }
        }
        assert_eq!(
            err,
            Some(Error::Encryption("synchronisation pattern not found"))
        );
        assert!(b.receive(&[0]).is_err());
        // Degenerate public key.
        let mut b = responder(CRYPTO_RC4, true);
        assert!(b.receive(&[0; 96]).is_err());
        // Initiator facing a responder that never sends ENCRYPT(VC).
        let mut a = MseHandshake::outgoing(SKEY, &[3; 20], &[], CRYPTO_RC4, vec![]);
        a.take_output();
        a.receive(DhKey::new(&[6; 20]).public()).unwrap();
        assert!(a.receive(&[0xab; 600]).is_err());
    }

    #[test]
    fn short_secret_or_no_method_refused() {
        let mut a = MseHandshake::outgoing(SKEY, &[3; 15], &[], CRYPTO_RC4, vec![]);
        assert!(a.receive(DhKey::new(&[6; 20]).public()).is_err());
        let mut b = MseHandshake::incoming(&[SKEY], &[3; 20], &[], 0, true);
        assert!(b.receive(DhKey::new(&[6; 20]).public()).is_err());
    }

    #[test]
    fn plaintext_detection() {
        assert!(looks_like_plaintext(b"\x13BitTorrent protocol\0\0"));
        assert!(looks_like_plaintext(b"\x13Bit"));
        assert!(!looks_like_plaintext(DhKey::new(&[1; 20]).public()));
    }
}
