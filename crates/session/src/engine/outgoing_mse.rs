//! Encryption of the connections we open (MSE/PE, `out_enc_policy`).
//!
//! With `pe_forced` every outgoing connection runs the MSE handshake; with
//! `pe_enabled` it is tried first and, if the peer drops the connection
//! before the handshake completes, the address is retried in plaintext (as
//! libtorrent does); with `pe_disabled` connections are plaintext.

use super::*;

/// `out_enc_policy` values.
const PE_FORCED: i32 = 0;
const PE_ENABLED: i32 = 1;

impl Engine {
    /// Starts the initiating MSE handshake on a new outgoing connection if
    /// the policy asks for it. Nothing is sent until the socket connects.
    pub(super) fn begin_outgoing_mse(&mut self, id: ConnId, tid: TorrentId, skey: Sha1Hash) {
        let policy = self.settings.get_int(keys::OUT_ENC_POLICY);
        let level = self.settings.get_int(keys::ALLOWED_ENC_LEVEL);
        let Some(p) = self.peers.get(&id) else {
            return;
        };
        let plaintext_known = self
            .torrents
            .get(&tid)
            .is_some_and(|t| t.plaintext_peers.contains(&p.addr));
        let encrypt = policy == PE_FORCED || (policy == PE_ENABLED && !plaintext_known);
        if !encrypt {
            return;
        }
        let mut methods = 0;
        if level & 1 != 0 {
            methods |= lt_wire::mse::CRYPTO_PLAINTEXT;
        }
        if level & 2 != 0 {
            methods |= lt_wire::mse::CRYPTO_RC4;
        }
        let mut secret = [0u8; 96];
        os_random(&mut secret);
        let pad_len = (self.rng.next_u64() % 512) as usize;
        let pad: Vec<u8> = (0..pad_len).map(|_| self.rng.next_u64() as u8).collect();
        // As libtorrent, the BitTorrent handshake (all the connection has
        // queued so far) rides in the third MSE message as the initial
        // payload: some peers (Transmission over uTP) never become
        // interested when it only follows the encryption handshake.
        let mut ia = Vec::new();
        if let Some(p) = self.peers.get_mut(&id) {
            while let Some(b) = p.conn.poll_transmit() {
                ia.extend_from_slice(&b);
            }
        }
        self.log_outgoing(id, &ia);
        let h = MseHandshake::outgoing(skey, &secret, &pad, methods, ia);
        if let Some(p) = self.peers.get_mut(&id) {
            p.crypto = Crypto::Handshake(Box::new(h));
        }
    }

    /// An outgoing connection closed before its MSE handshake finished:
    /// under `pe_enabled` the address is tried again at once in plaintext.
    pub(super) fn mse_fallback(&mut self, tid: TorrentId, addr: SocketAddr) {
        if self.settings.get_int(keys::OUT_ENC_POLICY) != PE_ENABLED {
            return;
        }
        if let Some(t) = self.torrents.get_mut(&tid) {
            if t.plaintext_peers.insert(addr) {
                t.retry.retain(|(_, a)| *a != addr);
                t.candidates.push_front(addr);
            }
        }
    }
}
