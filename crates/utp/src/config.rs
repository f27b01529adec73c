//! Tunables, with libtorrent's defaults for the settings it exposes.

use std::time::Duration;

/// Configuration of a [`UtpSocket`](crate::UtpSocket).
///
/// The `utp_*` fields carry the libtorrent settings of the same name (and
/// the same units) so a session can copy them from its settings pack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UtpConfig {
    /// `utp_target_delay`: the queuing delay LEDBAT aims for, milliseconds.
    pub utp_target_delay: u32,
    /// `utp_gain_factor`: the most the congestion window grows per round
    /// trip while below the target delay, bytes.
    pub utp_gain_factor: u32,
    /// `utp_min_timeout`: lower bound of the retransmission timeout, ms.
    pub utp_min_timeout: u32,
    /// `utp_syn_resends`: how many times a SYN is resent before the
    /// connection attempt fails.
    pub utp_syn_resends: u32,
    /// `utp_fin_resends`: how many times a FIN is resent before the
    /// connection is dropped.
    pub utp_fin_resends: u32,
    /// `utp_num_resends`: how many consecutive timeouts a connected socket
    /// survives.
    pub utp_num_resends: u32,
    /// `utp_connect_timeout`: the retransmission timeout of the SYN, ms.
    pub utp_connect_timeout: u32,
    /// `utp_loss_multiplier`: percentage the congestion window is
    /// multiplied by on packet loss.
    pub utp_loss_multiplier: u32,
    /// Largest payload per packet, bytes (16 to 65 000). The whole datagram (header and
    /// a selective ACK included) stays under 1452 bytes with the default.
    pub max_payload: usize,
    /// Receive buffer per connection, bytes: the window advertised to the
    /// peer is what is left of it.
    pub recv_buffer: usize,
    /// Send buffer per connection, bytes: `write` accepts data until this
    /// much is queued and not yet acknowledged.
    pub send_buffer: usize,
    /// Most out-of-order packets buffered per connection.
    pub max_reorder_packets: usize,
    /// Accept incoming connections (SYNs); otherwise they are answered
    /// with a RESET.
    pub accept_incoming: bool,
    /// Most connections a socket holds; SYNs beyond it are reset.
    pub max_connections: usize,
    /// A connection with nothing to say sends an ACK this often so NAT
    /// mappings stay open.
    pub keepalive_interval: Duration,
}

impl Default for UtpConfig {
    fn default() -> Self {
        UtpConfig {
            utp_target_delay: 100,
            utp_gain_factor: 3000,
            utp_min_timeout: 500,
            utp_syn_resends: 2,
            utp_fin_resends: 2,
            utp_num_resends: 3,
            utp_connect_timeout: 3000,
            utp_loss_multiplier: 50,
            max_payload: 1400,
            recv_buffer: 1024 * 1024,
            send_buffer: 1024 * 1024,
            max_reorder_packets: 1024,
            accept_incoming: true,
            max_connections: 4096,
            keepalive_interval: Duration::from_secs(29),
        }
    }
}

impl UtpConfig {
    /// Names of the libtorrent settings this configuration carries.
    pub const SETTING_NAMES: [&'static str; 8] = [
        "utp_target_delay",
        "utp_gain_factor",
        "utp_min_timeout",
        "utp_syn_resends",
        "utp_fin_resends",
        "utp_num_resends",
        "utp_connect_timeout",
        "utp_loss_multiplier",
    ];

    /// The configuration with sizes forced into workable ranges: a payload
    /// of 16 to 65 000 bytes, buffers of at least 4 KiB (and one packet),
    /// 1 to 32 767 reorder slots.
    pub(crate) fn sanitized(mut self) -> UtpConfig {
        self.max_payload = self.max_payload.clamp(16, 65_000);
        self.recv_buffer = self.recv_buffer.max(4096).min(u32::MAX as usize);
        self.send_buffer = self
            .send_buffer
            .max(4096)
            .max(self.max_payload)
            .min(1 << 40);
        self.max_reorder_packets = self.max_reorder_packets.clamp(1, 0x7fff);
        self
    }

    /// Sets the field named after a libtorrent integer setting (one of
    /// [`SETTING_NAMES`](Self::SETTING_NAMES)); negative values count as
    /// zero. Returns false for any other name.
    pub fn apply_setting(&mut self, name: &str, value: i32) -> bool {
        let v = value.max(0) as u32;
        let field = match name {
            "utp_target_delay" => &mut self.utp_target_delay,
            "utp_gain_factor" => &mut self.utp_gain_factor,
            "utp_min_timeout" => &mut self.utp_min_timeout,
            "utp_syn_resends" => &mut self.utp_syn_resends,
            "utp_fin_resends" => &mut self.utp_fin_resends,
            "utp_num_resends" => &mut self.utp_num_resends,
            "utp_connect_timeout" => &mut self.utp_connect_timeout,
            "utp_loss_multiplier" => &mut self.utp_loss_multiplier,
            _ => return false,
        };
        *field = v;
        true
    }

    /// The value of a field named after a libtorrent setting.
    pub fn setting(&self, name: &str) -> Option<u32> {
        Some(match name {
            "utp_target_delay" => self.utp_target_delay,
            "utp_gain_factor" => self.utp_gain_factor,
            "utp_min_timeout" => self.utp_min_timeout,
            "utp_syn_resends" => self.utp_syn_resends,
            "utp_fin_resends" => self.utp_fin_resends,
            "utp_num_resends" => self.utp_num_resends,
            "utp_connect_timeout" => self.utp_connect_timeout,
            "utp_loss_multiplier" => self.utp_loss_multiplier,
            _ => return None,
        })
    }
}
