//! Port mapping on home gateways, as libtorrent does it, sans IO.
//!
//! - [`natpmp::NatPmp`]: a PCP (RFC 6887) MAP client that falls back to
//!   NAT-PMP (RFC 6886) when the gateway answers "unsupported version";
//!   one request in flight at a time, linear back-off retransmission, lease
//!   refresh at three quarters of the granted lifetime, deletion on close.
//! - [`upnp::Upnp`]: a UPnP Internet Gateway Device client: SSDP search,
//!   device description parsing (WANIPConnection / WANPPPConnection control
//!   URLs), SOAP `GetExternalIPAddress`, `AddPortMapping`,
//!   `DeletePortMapping`, lease renewal and the error handling of
//!   libtorrent (conflicts retried on another port, permanent-lease-only
//!   gateways retried with lease 0).
//!
//! Both are fed datagrams / HTTP responses and the current time, and return
//! [`natpmp::Output`] / [`upnp::Output`] values (bytes to send, requests to
//! make, mapping results, log lines). Every parser is bounded and returns
//! an error for malformed input; none panics.

pub mod natpmp;
pub mod upnp;

/// What a mapping forwards (`portmap_protocol`: tcp = 1, udp = 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    /// `portmap_protocol` value.
    pub fn value(self) -> u8 {
        match self {
            Protocol::Tcp => 1,
            Protocol::Udp => 2,
        }
    }

    pub fn upper(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }

    pub fn lower(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// What is to be done with a mapping next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    None,
    Add,
    Delete,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Add => "add",
            Action::Delete => "delete",
        }
    }
}
