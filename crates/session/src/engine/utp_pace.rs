//! How uTP connections take blocks to upload, and the end of uTP peers the
//! network reports gone.
//!
//! Upload quota (the rate limits of the peer's classes) is spent when a
//! requested block is read from disk to be sent. A TCP peer stops reading
//! once `send_buffer_watermark` bytes wait for its socket; a uTP peer is
//! held to the same mark counting the bytes that are not yet in a uTP
//! packet (queued for the uTP socket, or in its send buffer behind the
//! congestion window). A peer that cannot send (its window is full, or it
//! is gone and its retransmissions have not timed out yet) therefore stops
//! taking quota the other peers of its class could use. A peer held back
//! this way is served again as soon as its packets go out (after the
//! datagrams that acknowledged them), not at the next tick.
//!
//! Received uTP datagrams are handled as they arrive, but the socket is
//! pumped (events, reads, ACKs, new data) once per batch of engine events
//! rather than once per datagram: a batch of data packets is acknowledged
//! by one ACK (libtorrent defers its ACKs until the UDP socket is drained
//! the same way). On loopback every ACK costs the receiver a `sendto` that
//! runs the whole delivery path; one per data packet was a third of a uTP
//! leecher's CPU time.
//!
//! ICMP port unreachable reports for a peer's address (see
//! `crate::udp_errqueue`) end its uTP connections at once, as libtorrent
//! does: a peer process that died answers our packets that way.

use std::collections::HashSet;

use super::*;

/// uTP upload pacing state of the session.
#[derive(Default)]
pub(super) struct UtpPace {
    /// uTP peers whose block reads wait for their unsent bytes to drain.
    waiting: HashSet<ConnId>,
    /// UDP endpoints that received uTP datagrams not yet pumped.
    pump_due: Vec<usize>,
}

impl UtpPace {
    /// Endpoint `idx` handled a datagram: pump it at the end of the batch.
    pub(super) fn pump_due(&mut self, idx: usize) {
        if !self.pump_due.contains(&idx) {
            self.pump_due.push(idx);
        }
    }

    /// Peer `id` stopped reading blocks at its watermark; remembered when
    /// it is a uTP peer (TCP peers are woken by their writer).
    pub(super) fn wait(&mut self, id: ConnId, utp: bool) {
        if utp {
            self.waiting.insert(id);
        }
    }
}

impl Engine {
    /// For a uTP peer, the bytes it has to send that are not in a uTP
    /// packet yet; `None` for other peers.
    pub(super) fn utp_backlog(&self, id: ConnId) -> Option<usize> {
        let p = self.peers.get(&id)?;
        let (idx, cid) = p.utp?;
        let pending: usize = p.utp_pending.iter().map(|b| b.len()).sum();
        let unsent = self.udp.get(idx).map_or(0, |u| u.utp.unsent_bytes(cid));
        Some(pending + unsent)
    }

    /// Pumps the uTP sockets that received datagrams since the last call
    /// (called after each batch of engine events).
    pub(super) fn utp_pump_due(&mut self) {
        if self.utp_pace.pump_due.is_empty() {
            return;
        }
        for idx in std::mem::take(&mut self.utp_pace.pump_due) {
            self.pump_utp(idx);
        }
        self.utp_serve_waiting();
    }

    /// Serves the held-back uTP peers whose unsent bytes fell below the
    /// watermark.
    pub(super) fn utp_serve_waiting(&mut self) {
        if self.utp_pace.waiting.is_empty() {
            return;
        }
        let watermark = self
            .settings
            .get_int(keys::SEND_BUFFER_WATERMARK)
            .max(16 * 1024) as usize;
        let ids: Vec<ConnId> = self.utp_pace.waiting.drain().collect();
        for id in ids {
            let Some(backlog) = self.utp_backlog(id) else {
                continue; // gone
            };
            let reading = self.peers.get(&id).map_or(0, |p| p.reading);
            if backlog + reading >= watermark {
                self.utp_pace.waiting.insert(id);
            } else {
                self.serve_deferred(id);
            }
        }
    }

    /// The UDP socket of endpoint `idx` got an ICMP port unreachable for a
    /// datagram to `to`: the uTP connections to `to` end now.
    pub(super) fn on_udp_unreachable(&mut self, idx: usize, to: SocketAddr) {
        let ended = self
            .udp
            .get_mut(idx)
            .map_or(0, |u| u.utp.peer_unreachable(to));
        if ended > 0 {
            self.pump_utp(idx);
        }
    }
}
