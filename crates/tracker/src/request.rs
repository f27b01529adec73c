//! What an announce or scrape asks for, the settings that shape it, and the
//! HTTP tracker URL built from it.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use lt_core::{PeerId, Sha1Hash};

use crate::escape::escape;
use crate::TrackerError;

/// The `event` of an announce (libtorrent's `event_t`; the numbers are the
/// ones sent in UDP announces).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Event {
    /// A regular re-announce.
    #[default]
    None = 0,
    /// The download finished.
    Completed = 1,
    /// The first announce of a session.
    Started = 2,
    /// The torrent is stopped, paused or removed.
    Stopped = 3,
    /// The torrent is finished (all wanted pieces) but not a seed
    /// (BEP 21 partial seed).
    Paused = 4,
}

impl Event {
    /// The value of the HTTP `event=` parameter (`None` sends no parameter).
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            Event::None => None,
            Event::Completed => Some("completed"),
            Event::Started => Some("started"),
            Event::Stopped => Some("stopped"),
            Event::Paused => Some("paused"),
        }
    }
}

/// Announce or scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RequestKind {
    #[default]
    Announce,
    Scrape,
}

/// One request to one tracker, as libtorrent's `tracker_request`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrackerRequest {
    /// The tracker's announce URL.
    pub url: String,
    pub kind: RequestKind,
    /// The 20-byte info-hash announced (a v2 hash truncated).
    pub info_hash: Sha1Hash,
    pub peer_id: PeerId,
    /// The port peers should connect to.
    pub listen_port: u16,
    pub uploaded: i64,
    pub downloaded: i64,
    pub left: i64,
    pub corrupt: i64,
    pub redundant: i64,
    /// The per-torrent tracker key, sent as eight upper-case hex digits.
    pub key: u32,
    pub event: Event,
    pub num_want: i32,
    /// The `tracker id` the tracker gave us earlier (empty: none).
    pub trackerid: String,
    /// Our public IPv4 addresses, sent as `&ipv4=` (BEP 7; libtorrent fills
    /// them only for private torrents outside anonymous mode).
    pub ipv4: Vec<Ipv4Addr>,
    /// Our public IPv6 addresses, sent as `&ipv6=`.
    pub ipv6: Vec<Ipv6Addr>,
    /// Private torrents send the user agent even in anonymous mode.
    pub private_torrent: bool,
}

/// The session settings the tracker clients read, with libtorrent's
/// defaults. Names match `settings_pack`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerSettings {
    pub user_agent: String,
    pub anonymous_mode: bool,
    /// `&ip=` parameter (and the UDP `ip` field when it is IPv4); empty: none.
    pub announce_ip: String,
    pub announce_crypto_support: bool,
    /// `in_enc_policy == pe_disabled` (2) turns `supportcrypto` off.
    pub in_enc_policy: i32,
    pub report_redundant_bytes: bool,
    pub num_want: i32,
    /// Seconds; a tracker's `interval` is raised to at least this.
    pub min_announce_interval: u32,
    /// Maximum HTTP response body (and decompressed body) size in bytes.
    pub max_http_recv_buffer_size: usize,
    /// Seconds an announce may take (non-stopped events).
    pub tracker_completion_timeout: u32,
    /// Seconds without receiving anything before an HTTP request fails.
    pub tracker_receive_timeout: u32,
    /// Seconds a `stopped` announce may take.
    pub stop_tracker_timeout: u32,
    /// Seconds a UDP connection id is reused.
    pub udp_tracker_token_expiry: u32,
    /// Percent scaling of the failure back-off (250 = 2.5x).
    pub tracker_backoff: u32,
    pub announce_to_all_tiers: bool,
    pub announce_to_all_trackers: bool,
    /// Reject tracker URLs that look like request forgery (see
    /// [`TrackerError::SsrfMitigation`]).
    pub ssrf_mitigation: bool,
    /// Allow HTTP trackers with IDNA host names.
    pub allow_idna: bool,
    /// Try a UDP tracker before an HTTP tracker on the same host.
    pub prefer_udp_trackers: bool,
}

impl Default for TrackerSettings {
    fn default() -> Self {
        TrackerSettings {
            user_agent: "libtorrent/2.1.1.0".to_string(),
            anonymous_mode: false,
            announce_ip: String::new(),
            announce_crypto_support: true,
            in_enc_policy: 1,
            report_redundant_bytes: true,
            num_want: 200,
            min_announce_interval: 300,
            max_http_recv_buffer_size: 835_584,
            tracker_completion_timeout: 30,
            tracker_receive_timeout: 10,
            stop_tracker_timeout: 5,
            udp_tracker_token_expiry: 60,
            tracker_backoff: 250,
            announce_to_all_tiers: false,
            announce_to_all_trackers: false,
            ssrf_mitigation: true,
            allow_idna: false,
            prefer_udp_trackers: true,
        }
    }
}

impl TrackerSettings {
    /// How long a request with this event may take in total.
    pub fn completion_timeout(&self, event: Event) -> Duration {
        Duration::from_secs(u64::from(if event == Event::Stopped {
            self.stop_tracker_timeout
        } else {
            self.tracker_completion_timeout
        }))
    }

    /// The `User-Agent` to send: in anonymous mode the generic one
    /// libtorrent uses (`curl/7.81.0`), except for private torrents.
    pub fn effective_user_agent(&self, private_torrent: bool) -> &str {
        if self.anonymous_mode && !private_torrent {
            ANONYMOUS_USER_AGENT
        } else {
            &self.user_agent
        }
    }
}

/// The user agent libtorrent sends trackers in anonymous mode.
pub const ANONYMOUS_USER_AGENT: &str = "curl/7.81.0";

/// The scrape URL of an announce URL: the first `announce` in it replaced by
/// `scrape` (libtorrent's rule); trackers without one cannot be scraped.
pub fn scrape_url(announce_url: &str) -> Result<String, TrackerError> {
    let pos = announce_url
        .find("announce")
        .ok_or(TrackerError::ScrapeNotAvailable)?;
    let mut s = String::with_capacity(announce_url.len());
    s.push_str(&announce_url[..pos]);
    s.push_str("scrape");
    s.push_str(&announce_url[pos + "announce".len()..]);
    Ok(s)
}

/// The full GET URL of an HTTP announce or scrape, parameters in
/// libtorrent's order:
/// `info_hash, peer_id, port, uploaded, downloaded, left, corrupt, key,
/// [event], numwant, compact=1, no_peer_id=1, [supportcrypto=1],
/// [redundant], [trackerid], [ip], [ipv4...], [ipv6...]`.
/// A scrape sends only `info_hash` (and the ipv4/ipv6 parameters).
/// With `ssrf_mitigation`, a URL whose query already has a tracker
/// parameter is refused.
pub fn build_http_url(
    req: &TrackerRequest,
    settings: &TrackerSettings,
) -> Result<String, TrackerError> {
    let mut url = match req.kind {
        RequestKind::Scrape => scrape_url(&req.url)?,
        RequestKind::Announce => req.url.clone(),
    };
    match url.find('?') {
        Some(q) => {
            if settings.ssrf_mitigation && crate::escape::has_tracker_query_string(&url[q + 1..]) {
                return Err(TrackerError::SsrfMitigation);
            }
            url.push('&');
        }
        None => url.push('?'),
    }
    url.push_str("info_hash=");
    url.push_str(&escape(req.info_hash.as_bytes()));
    if req.kind == RequestKind::Announce {
        // write! to a String cannot fail
        let _ = write!(
            url,
            "&peer_id={}&port={}&uploaded={}&downloaded={}&left={}&corrupt={}&key={:08X}",
            escape(req.peer_id.as_bytes()),
            req.listen_port,
            req.uploaded,
            req.downloaded,
            req.left,
            req.corrupt,
            req.key
        );
        if let Some(ev) = req.event.as_str() {
            url.push_str("&event=");
            url.push_str(ev);
        }
        let _ = write!(url, "&numwant={}&compact=1&no_peer_id=1", req.num_want);
        if settings.in_enc_policy != 2 && settings.announce_crypto_support {
            url.push_str("&supportcrypto=1");
        }
        if settings.report_redundant_bytes {
            let _ = write!(url, "&redundant={}", req.redundant);
        }
        if !req.trackerid.is_empty() {
            url.push_str("&trackerid=");
            url.push_str(&escape(req.trackerid.as_bytes()));
        }
        if !settings.anonymous_mode && !settings.announce_ip.is_empty() {
            url.push_str("&ip=");
            url.push_str(&escape(settings.announce_ip.as_bytes()));
        }
    }
    for v4 in &req.ipv4 {
        url.push_str("&ipv4=");
        url.push_str(&escape(v4.to_string().as_bytes()));
    }
    for v6 in &req.ipv6 {
        url.push_str("&ipv6=");
        url.push_str(&escape(v6.to_string().as_bytes()));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> TrackerRequest {
        TrackerRequest {
            url: "http://t.example/announce".into(),
            info_hash: Sha1Hash([0xab; 20]),
            peer_id: PeerId::from(*b"-LT2110-abc def/ghi~"),
            listen_port: 6881,
            uploaded: 1,
            downloaded: 2,
            left: 3,
            corrupt: 4,
            redundant: 5,
            key: 0x1a2b,
            event: Event::Started,
            num_want: 200,
            ..Default::default()
        }
    }

    #[test]
    fn announce_url_matches_libtorrent_layout() {
        let url = build_http_url(&req(), &TrackerSettings::default()).unwrap();
        let ih = "%ab".repeat(20);
        assert_eq!(
            url,
            format!(
                "http://t.example/announce?info_hash={ih}&peer_id=-LT2110-abc%20def%2fghi~\
                 &port=6881&uploaded=1&downloaded=2&left=3&corrupt=4&key=00001A2B\
                 &event=started&numwant=200&compact=1&no_peer_id=1&supportcrypto=1&redundant=5"
            )
        );
    }

    #[test]
    fn optional_parameters() {
        let mut r = req();
        r.url = "http://t.example/announce.php?passkey=x".into();
        r.event = Event::None;
        r.trackerid = "id 1".into();
        r.ipv4 = vec![Ipv4Addr::new(1, 2, 3, 4)];
        r.ipv6 = vec!["2001:db8::1".parse().unwrap()];
        let s = TrackerSettings {
            in_enc_policy: 2,
            report_redundant_bytes: false,
            announce_ip: "5.6.7.8".into(),
            ..Default::default()
        };
        let url = build_http_url(&r, &s).unwrap();
        assert!(url.starts_with("http://t.example/announce.php?passkey=x&info_hash="));
        assert!(!url.contains("event="));
        assert!(!url.contains("supportcrypto"));
        assert!(!url.contains("redundant"));
        assert!(url.ends_with(
            "&no_peer_id=1&trackerid=id%201&ip=5.6.7.8&ipv4=1.2.3.4&ipv6=2001%3adb8%3a%3a1"
        ));
        // anonymous mode drops &ip=
        let s = TrackerSettings {
            anonymous_mode: true,
            ..s
        };
        assert!(!build_http_url(&r, &s).unwrap().contains("&ip="));
    }

    #[test]
    fn events() {
        for (ev, s) in [
            (Event::Completed, "&event=completed&"),
            (Event::Stopped, "&event=stopped&"),
            (Event::Paused, "&event=paused&"),
        ] {
            let mut r = req();
            r.event = ev;
            assert!(build_http_url(&r, &TrackerSettings::default())
                .unwrap()
                .contains(s));
        }
    }

    #[test]
    fn scrape_urls() {
        assert_eq!(scrape_url("http://a/announce").unwrap(), "http://a/scrape");
        assert_eq!(
            scrape_url("http://a/x/announce.php?k=1").unwrap(),
            "http://a/x/scrape.php?k=1"
        );
        assert_eq!(
            scrape_url("http://a/a"),
            Err(TrackerError::ScrapeNotAvailable)
        );
        let mut r = req();
        r.kind = RequestKind::Scrape;
        assert_eq!(
            build_http_url(&r, &TrackerSettings::default()).unwrap(),
            format!("http://t.example/scrape?info_hash={}", "%ab".repeat(20))
        );
        r.url = "http://t.example/tracker".into();
        assert_eq!(
            build_http_url(&r, &TrackerSettings::default()),
            Err(TrackerError::ScrapeNotAvailable)
        );
    }
}
