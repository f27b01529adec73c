//! The transport of the connections we open (`enable_outgoing_utp`,
//! `enable_outgoing_tcp`), as libtorrent chooses it.
//!
//! A new peer is assumed to speak uTP: with outgoing uTP enabled it is
//! tried first, over the UDP socket of a listen endpoint. If that attempt
//! fails before the uTP handshake completes (no answer within
//! `utp_connect_timeout`, or a RESET), the address is remembered as not
//! speaking uTP and, when outgoing TCP is enabled, retried over TCP at
//! once. With outgoing TCP disabled every attempt is uTP; with both
//! disabled no connection is opened. MSE (`out_enc_policy`) runs over
//! either transport: the initiating handshake is queued into the uTP send
//! buffer and leaves once the uTP connection is up.

use std::collections::HashSet;

use super::*;

/// At most this many addresses are remembered as not speaking uTP; past
/// it the memory starts over (every address gets one more uTP try).
const MAX_NO_UTP: usize = 10_000;

/// Outgoing transport state of the session.
#[derive(Default)]
pub(super) struct UtpOut {
    /// uTP connection attempts in progress: peer → when to give up.
    connecting: HashMap<ConnId, Instant>,
    /// Addresses whose uTP attempt failed (libtorrent clears the peer's
    /// `supports_utp`); they are connected over TCP from then on.
    no_utp: HashSet<SocketAddr>,
}

impl Engine {
    /// The uTP configuration the settings ask for.
    pub(super) fn utp_config(&self) -> lt_utp::UtpConfig {
        let s = &self.settings;
        let mut cfg = lt_utp::UtpConfig::default();
        for (name, key) in [
            ("utp_target_delay", keys::UTP_TARGET_DELAY),
            ("utp_gain_factor", keys::UTP_GAIN_FACTOR),
            ("utp_min_timeout", keys::UTP_MIN_TIMEOUT),
            ("utp_syn_resends", keys::UTP_SYN_RESENDS),
            ("utp_fin_resends", keys::UTP_FIN_RESENDS),
            ("utp_num_resends", keys::UTP_NUM_RESENDS),
            ("utp_connect_timeout", keys::UTP_CONNECT_TIMEOUT),
            ("utp_loss_multiplier", keys::UTP_LOSS_MULTIPLIER),
        ] {
            cfg.apply_setting(name, s.get_int(key));
        }
        // Refused SYNs are answered with a RESET, so a peer of ours with
        // incoming uTP disabled makes the other side fall back to TCP at
        // once rather than after the connect timeout.
        cfg.accept_incoming = s.get_bool(keys::ENABLE_INCOMING_UTP);
        cfg
    }

    /// Applies changed uTP settings to the open UDP sockets.
    pub(super) fn utp_apply_settings(&mut self) {
        let cfg = self.utp_config();
        for u in &mut self.udp {
            u.utp.set_config(cfg.clone());
        }
    }

    /// Whether any outgoing transport is enabled.
    pub(super) fn outgoing_transport_enabled(&self) -> bool {
        self.settings.get_bool(keys::ENABLE_OUTGOING_UTP)
            || self.settings.get_bool(keys::ENABLE_OUTGOING_TCP)
    }

    /// The UDP endpoint to reach `addr` from: same address family, and
    /// loopback for a loopback peer (a socket bound to loopback cannot
    /// reach anything else).
    fn utp_endpoint_for(&self, addr: SocketAddr) -> Option<usize> {
        let mut best: Option<(u8, usize)> = None;
        for (i, u) in self.udp.iter().enumerate() {
            let Ok(local) = u.socket.local_addr() else {
                continue;
            };
            if local.is_ipv4() != addr.is_ipv4() {
                continue;
            }
            let score = if local.ip() == addr.ip() {
                3
            } else if local.ip().is_unspecified() {
                2
            } else if local.ip().is_loopback() == addr.ip().is_loopback() {
                1
            } else {
                continue;
            };
            if best.is_none_or(|(s, _)| score > s) {
                best = Some((score, i));
            }
        }
        best.map(|(_, i)| i)
    }

    /// Opens the transport of a new outgoing connection `id` to `addr`:
    /// uTP when enabled and not known to fail for this address (always,
    /// when outgoing TCP is off), TCP otherwise.
    pub(super) fn start_outgoing_connect(
        &mut self,
        id: ConnId,
        addr: SocketAddr,
        timeout: Duration,
    ) {
        let utp_on = self.settings.get_bool(keys::ENABLE_OUTGOING_UTP);
        let tcp_on = self.settings.get_bool(keys::ENABLE_OUTGOING_TCP);
        // Through a peer proxy connections go over TCP (its tunnel).
        let want_utp = utp_on
            && self.peer_proxy().is_none()
            && (!tcp_on || !self.utp_out.no_utp.contains(&addr));
        if want_utp {
            match self.start_utp_connect(id, addr) {
                Ok(()) => {
                    self.log_connection(id);
                    self.alert_peer_connect(id);
                    return;
                }
                Err(e) if !tcp_on => {
                    self.disconnect(id, Some(e));
                    return;
                }
                Err(_) => {}
            }
        }
        if !tcp_on {
            self.disconnect(
                id,
                Some(ErrorCode::new(libc::EPROTONOSUPPORT, Category::System)),
            );
            return;
        }
        self.log_connection(id);
        let ports = self.outgoing_ports();
        let start = self.rng.next_u64() as u16;
        self.spawn_peer_connect(id, addr, timeout, ports, start);
        self.alert_peer_connect(id);
    }

    fn start_utp_connect(&mut self, id: ConnId, addr: SocketAddr) -> Result<(), ErrorCode> {
        let Some(idx) = self.utp_endpoint_for(addr) else {
            return Err(ErrorCode::new(libc::EAFNOSUPPORT, Category::System));
        };
        let now = Instant::now();
        let Some(u) = self.udp.get_mut(idx) else {
            return Err(ErrorCode::new(libc::EAFNOSUPPORT, Category::System));
        };
        let cid = u
            .utp
            .connect(addr, now)
            .map_err(|_| ErrorCode::new(libc::EMFILE, Category::System))?;
        let local = u.socket.local_addr().ok();
        let deadline = now
            + Duration::from_millis(
                self.settings
                    .get_int(keys::UTP_CONNECT_TIMEOUT)
                    .clamp(100, 120_000) as u64,
            );
        self.utp_out.connecting.insert(id, deadline);
        self.utp_conns.insert((idx, cid), id);
        if let Some(p) = self.peers.get_mut(&id) {
            p.utp = Some((idx, cid));
            if let Some(l) = local {
                p.local = l;
            }
        }
        // The MSE key exchange (or the BitTorrent handshake) waits in the
        // uTP send buffer until the connection is up.
        if self.finish_mse(id) {
            self.drive_peer(id);
        }
        self.pump_utp(idx);
        Ok(())
    }

    /// Our uTP connection attempt completed its handshake.
    pub(super) fn on_utp_connected(&mut self, idx: usize, cid: lt_utp::ConnectionId) {
        let Some(&id) = self.utp_conns.get(&(idx, cid)) else {
            return;
        };
        self.utp_out.connecting.remove(&id);
        self.log_connected(id);
        if let Some(addr) = self.peers.get(&id).map(|p| p.addr) {
            self.utp_out.no_utp.remove(&addr);
        }
        self.drive_peer(id);
    }

    /// Called as connection `id` goes away: true if it was a uTP attempt
    /// that never connected.
    pub(super) fn utp_connect_failed(&mut self, id: ConnId) -> bool {
        self.utp_out.connecting.remove(&id).is_some()
    }

    /// A uTP attempt to `addr` failed: remember it and, with outgoing TCP
    /// enabled, try the address again over TCP at once.
    pub(super) fn utp_fallback(&mut self, tid: TorrentId, addr: SocketAddr) {
        if !self.settings.get_bool(keys::ENABLE_OUTGOING_TCP) {
            return;
        }
        if self.utp_out.no_utp.len() >= MAX_NO_UTP {
            self.utp_out.no_utp.clear();
        }
        self.utp_out.no_utp.insert(addr);
        if let Some(t) = self.torrents.get_mut(&tid) {
            t.retry.retain(|(_, a)| *a != addr);
            if let Some(f) = t.failcount.get_mut(&addr) {
                *f = f.saturating_sub(1);
            }
            if !t.candidates.contains(&addr) {
                t.candidates.push_front(addr);
            }
        }
    }

    /// Gives up the uTP attempts that are not connected by their deadline.
    pub(super) fn utp_out_tick(&mut self, now: Instant) {
        let expired: Vec<ConnId> = self
            .utp_out
            .connecting
            .iter()
            .filter(|(_, d)| now >= **d)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.disconnect(id, Some(ErrorCode::new(libc::ETIMEDOUT, Category::System)));
        }
    }

    /// The error a uTP connection that ended abnormally reports.
    pub(super) fn utp_close_error(reason: lt_utp::CloseReason, connecting: bool) -> ErrorCode {
        let v = match reason {
            lt_utp::CloseReason::TimedOut => libc::ETIMEDOUT,
            lt_utp::CloseReason::Reset if connecting => libc::ECONNREFUSED,
            lt_utp::CloseReason::Unreachable => libc::ECONNREFUSED,
            lt_utp::CloseReason::Reset => libc::ECONNRESET,
        };
        ErrorCode::new(v, Category::System)
    }

    pub(super) fn utp_is_connecting(&self, id: ConnId) -> bool {
        self.utp_out.connecting.contains_key(&id)
    }
}
