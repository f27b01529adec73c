//! ICMP "port unreachable" reports for the uTP/DHT UDP sockets.
//!
//! A UDP socket that is not connected hears nothing of the ICMP errors its
//! datagrams cause unless `IP_RECVERR` (`IPV6_RECVERR`) is set; then each
//! error makes the next receive fail and is queued, with the destination
//! of the datagram that caused it, on the socket's error queue. A uTP peer
//! whose process died answers our packets with ICMP port unreachable: with
//! these reports its connections end at once (as libtorrent does) instead
//! of after seconds of retransmission timeouts, during which they would
//! keep their share of the upload rate limit.
//!
//! Linux only; elsewhere [`enable`] does nothing and [`drain`] finds
//! nothing.

use std::net::SocketAddr;

/// Asks the kernel to report ICMP errors on `sock` (best effort).
#[cfg(target_os = "linux")]
pub(crate) fn enable(sock: &std::net::UdpSocket) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    let (level, name) = match sock.local_addr() {
        Ok(SocketAddr::V6(_)) => (libc::IPPROTO_IPV6, libc::IPV6_RECVERR),
        _ => (libc::IPPROTO_IP, libc::IP_RECVERR),
    };
    // SAFETY: the fd is open for the duration of the call (borrowed from
    // `sock`); the option value points at a live c_int whose size is
    // passed, and the kernel only reads it.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn enable(_sock: &std::net::UdpSocket) {}

/// Empties the error queue of `fd` (non-blocking); returns how many
/// entries were read and the destinations reported unreachable
/// (ICMP/ICMPv6 port unreachable). Other queued errors are discarded. At
/// most `limit` entries are read.
#[cfg(target_os = "linux")]
pub(crate) fn drain(fd: std::os::fd::RawFd, limit: usize) -> (usize, Vec<SocketAddr>) {
    let mut out = Vec::new();
    let mut read = 0;
    for _ in 0..limit {
        let mut name = [0u8; 128];
        // u64 elements: aligned for cmsghdr
        let mut control = [0u64; 64];
        let mut data = [0u8; 64];
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        // SAFETY: an all-zero msghdr is a valid value (null pointers, zero
        // lengths); the fields set below point at the local buffers above.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = name.as_mut_ptr().cast();
        msg.msg_namelen = name.len() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: every pointer in `msg` refers to a live local buffer whose
        // length is given next to it; the kernel writes within those
        // lengths and the buffers outlive the call. A closed or foreign fd
        // only makes the call fail.
        let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT) };
        if n < 0 {
            break;
        }
        read += 1;
        let clen = (msg.msg_controllen as usize).min(std::mem::size_of_val(&control));
        let cbytes: Vec<u8> = control.iter().flat_map(|w| w.to_ne_bytes()).collect();
        let nlen = (msg.msg_namelen as usize).min(name.len());
        if let (true, Some(to)) = (
            port_unreachable(cbytes.get(..clen).unwrap_or(&[])),
            parse_sockaddr(name.get(..nlen).unwrap_or(&[])),
        ) {
            out.push(to);
        }
    }
    (read, out)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn drain(_fd: i32, _limit: usize) -> (usize, Vec<SocketAddr>) {
    (0, Vec::new())
}

fn ne_usize(b: &[u8], at: usize) -> Option<usize> {
    const W: usize = std::mem::size_of::<usize>();
    let s: [u8; W] = b.get(at..at + W)?.try_into().ok()?;
    Some(usize::from_ne_bytes(s))
}

fn ne_i32(b: &[u8], at: usize) -> Option<i32> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(i32::from_ne_bytes(s))
}

/// Whether the control messages hold an `IP_RECVERR`/`IPV6_RECVERR`
/// report of an ICMP (v4 type 3 code 3) or ICMPv6 (type 1 code 4) port
/// unreachable. Parsed from the bytes (the `cmsghdr` layout: length,
/// level, type, then the data at pointer alignment).
fn port_unreachable(c: &[u8]) -> bool {
    const W: usize = std::mem::size_of::<usize>();
    let align = |x: usize| x.div_ceil(W) * W;
    let hdr = align(W + 8);
    let mut at = 0;
    while let (Some(len), Some(level), Some(kind)) =
        (ne_usize(c, at), ne_i32(c, at + W), ne_i32(c, at + W + 4))
    {
        if len < hdr {
            return false;
        }
        let is_err = (level == libc::IPPROTO_IP && kind == libc::IP_RECVERR)
            || (level == libc::IPPROTO_IPV6 && kind == libc::IPV6_RECVERR);
        // sock_extended_err: errno u32, origin u8, type u8, code u8, ...
        if let (true, Some(e)) = (is_err, c.get(at + hdr..at + hdr + 7)) {
            let (origin, ty, code) = (e[4], e[5], e[6]);
            return matches!((origin, ty, code), (2, 3, 3) | (3, 1, 4));
        }
        at += align(len);
    }
    false
}

/// A `sockaddr_in`/`sockaddr_in6` from its bytes.
fn parse_sockaddr(b: &[u8]) -> Option<SocketAddr> {
    let family = i32::from(u16::from_ne_bytes(b.get(0..2)?.try_into().ok()?));
    let port = u16::from_be_bytes(b.get(2..4)?.try_into().ok()?);
    if family == libc::AF_INET {
        let ip: [u8; 4] = b.get(4..8)?.try_into().ok()?;
        Some(SocketAddr::from((ip, port)))
    } else if family == libc::AF_INET6 {
        let ip: [u8; 16] = b.get(8..24)?.try_into().ok()?;
        let scope = u32::from_ne_bytes(b.get(24..28)?.try_into().ok()?);
        Some(SocketAddr::V6(std::net::SocketAddrV6::new(
            ip.into(),
            port,
            0,
            scope,
        )))
    } else {
        None
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};

    /// A datagram to a closed loopback port comes back as an ICMP port
    /// unreachable naming that port.
    #[test]
    fn a_closed_port_is_reported_unreachable() {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        enable(&sock);
        sock.set_nonblocking(true).unwrap();
        let gone = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = gone.local_addr().unwrap();
        drop(gone);
        sock.send_to(b"x", to).unwrap();
        let end = Instant::now() + Duration::from_secs(5);
        let mut got = Vec::new();
        while got.is_empty() && Instant::now() < end {
            let mut buf = [0u8; 16];
            // the error first makes a receive fail
            let _ = sock.recv_from(&mut buf);
            got = drain(sock.as_raw_fd(), 16).1;
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(got, vec![to]);
        // drained: nothing more
        assert_eq!(drain(sock.as_raw_fd(), 16), (0, vec![]));
    }

    #[test]
    fn garbage_control_data_is_no_report() {
        assert!(!port_unreachable(&[]));
        assert!(!port_unreachable(&[0xff; 7]));
        assert!(!port_unreachable(&[0; 64]));
        assert_eq!(parse_sockaddr(&[1, 2]), None);
        assert_eq!(parse_sockaddr(&[0; 16]), None);
    }
}
