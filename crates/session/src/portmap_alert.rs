//! Port-mapping alerts (`portmap_alert`, `portmap_error_alert`,
//! `portmap_log_alert`), kept apart from `alert.rs` so that
//! [`crate::alert::AlertKind`] needs a single variant for them.

use std::net::IpAddr;

use lt_core::error::ErrorCode;

use crate::alert::category;

/// `portmap_transport`: natpmp = 0, upnp = 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    NatPmp,
    Upnp,
}

impl Transport {
    pub fn value(self) -> u8 {
        match self {
            Transport::NatPmp => 0,
            Transport::Upnp => 1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Transport::NatPmp => "NAT-PMP",
            Transport::Upnp => "UPnP",
        }
    }
}

/// What port mapping reports.
#[derive(Clone, Debug)]
pub enum PortmapAlert {
    /// A mapping was made (`portmap_alert`).
    Mapped {
        mapping: i32,
        external_port: i32,
        /// `portmap_protocol` value (tcp = 1, udp = 2).
        protocol: u8,
        transport: Transport,
        local: IpAddr,
    },
    /// A mapping failed (`portmap_error_alert`).
    Error {
        mapping: i32,
        transport: Transport,
        error: ErrorCode,
        local: IpAddr,
    },
    /// A log line (`portmap_log_alert`).
    Log {
        transport: Transport,
        msg: String,
        local: IpAddr,
    },
}

impl PortmapAlert {
    pub fn what(&self) -> &'static str {
        match self {
            PortmapAlert::Mapped { .. } => "portmap",
            PortmapAlert::Error { .. } => "portmap_error",
            PortmapAlert::Log { .. } => "portmap_log",
        }
    }

    pub fn alert_type(&self) -> usize {
        match self {
            PortmapAlert::Error { .. } => 50,
            PortmapAlert::Mapped { .. } => 51,
            PortmapAlert::Log { .. } => 52,
        }
    }

    pub fn category(&self) -> u32 {
        match self {
            PortmapAlert::Error { .. } => category::PORT_MAPPING | category::ERROR,
            PortmapAlert::Mapped { .. } => category::PORT_MAPPING,
            PortmapAlert::Log { .. } => category::PORT_MAPPING_LOG,
        }
    }

    pub fn error(&self) -> Option<&ErrorCode> {
        match self {
            PortmapAlert::Error { error, .. } => Some(error),
            _ => None,
        }
    }

    pub fn transport(&self) -> Transport {
        match self {
            PortmapAlert::Mapped { transport, .. }
            | PortmapAlert::Error { transport, .. }
            | PortmapAlert::Log { transport, .. } => *transport,
        }
    }

    pub fn message(&self) -> String {
        match self {
            PortmapAlert::Mapped {
                external_port,
                protocol,
                transport,
                local,
                ..
            } => format!(
                "successfully mapped port using {}. local: {local} external port: {}/{external_port}",
                transport.name(),
                if *protocol == 2 { "UDP" } else { "TCP" }
            ),
            PortmapAlert::Error {
                transport,
                error,
                local,
                ..
            } => format!(
                "could not map port using {}[{local}]: {}",
                transport.name(),
                error.message()
            ),
            PortmapAlert::Log {
                transport,
                msg,
                local,
            } => format!("{} [{local}]: {msg}", transport.name()),
        }
    }
}
