use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lt_core::{InfoHash, Sha1Hash, Sha256Hash};
use lt_tracker::*;

const LISTEN: &str = "0.0.0.0:6881";

fn status() -> TorrentStatus {
    TorrentStatus {
        key: 7,
        left: 1000,
        ..Default::default()
    }
}

fn list(urls: &[(&str, u8)], settings: TrackerSettings) -> TrackerList {
    let mut l = TrackerList::new(InfoHash::from_v1(Sha1Hash([3; 20])), settings);
    for (u, tier) in urls {
        assert!(l.add_tracker(AnnounceEntry::new(u, *tier, source::TORRENT)));
    }
    l.set_listen_endpoints(&[LISTEN.parse().unwrap()]);
    l
}

fn drain(l: &mut TrackerList) -> (Vec<AnnounceJob>, Vec<TrackerOutput>) {
    let mut jobs = Vec::new();
    let mut events = Vec::new();
    while let Some(o) = l.poll_output() {
        match o {
            TrackerOutput::Announce(j) => jobs.push(j),
            other => events.push(other),
        }
    }
    (jobs, events)
}

fn urls(jobs: &[AnnounceJob]) -> Vec<&str> {
    jobs.iter().map(|j| j.request.url.as_str()).collect()
}

fn order(l: &TrackerList) -> Vec<&str> {
    l.trackers().iter().map(|t| t.url.as_str()).collect()
}

fn ok(interval: u32) -> AnnounceResponse {
    AnnounceResponse {
        interval,
        min_interval: 60,
        ..Default::default()
    }
}

fn err(e: TrackerError) -> ReplyError {
    e.into()
}

fn state(l: &TrackerList, idx: usize) -> &AnnounceInfoHash {
    &l.trackers()[idx].endpoints[0].info_hashes[0]
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn started_then_regular_announces() {
    let t0 = Instant::now();
    let mut l = list(
        &[("http://a/announce", 0), ("http://b/announce", 0)],
        TrackerSettings::default(),
    );
    assert_eq!(l.next_timeout(t0), None, "not announcing yet");
    l.start_announcing(t0, &status());
    let (jobs, _) = drain(&mut l);
    assert_eq!(urls(&jobs), ["http://a/announce"], "one tracker per tier");
    let j = &jobs[0];
    assert_eq!(j.request.event, Event::Started);
    assert_eq!(j.request.num_want, 200);
    assert_eq!(j.request.listen_port, 6881);
    assert_eq!(j.request.info_hash, Sha1Hash([3; 20]));
    assert_eq!(j.key.local_endpoint, LISTEN.parse::<SocketAddr>().unwrap());
    assert!(state(&l, 0).updating);
    assert_eq!(l.next_timeout(t0), None, "waiting for the reply");

    let mut r = ok(1000);
    r.complete = 4;
    r.incomplete = 5;
    r.warning_message = "hello".into();
    r.trackerid = "tid".into();
    r.peers4 = vec!["1.2.3.4:5".parse().unwrap()];
    l.on_announce_response(t0 + secs(1), j, &r);
    let (jobs, events) = drain(&mut l);
    assert!(jobs.is_empty());
    assert_eq!(
        events,
        vec![
            TrackerOutput::TrackerId {
                key: j.key.clone(),
                trackerid: "tid".into()
            },
            TrackerOutput::Warning {
                key: j.key.clone(),
                message: "hello".into()
            },
            TrackerOutput::Reply {
                key: j.key.clone(),
                num_peers: 1
            },
        ]
    );
    let a = state(&l, 0);
    assert!(a.start_sent && !a.updating && a.is_working());
    assert_eq!(
        (a.scrape_complete, a.scrape_incomplete, a.scrape_downloaded),
        (4, 5, -1)
    );
    assert_eq!(a.message, "hello");
    assert_eq!(a.next_announce, Some(t0 + secs(1001)));
    assert_eq!(a.min_announce, Some(t0 + secs(61)));
    assert!(l.trackers()[0].verified);
    assert_eq!(l.trackers()[0].trackerid, "tid");
    assert_eq!(l.next_timeout(t0 + secs(2)), Some(t0 + secs(1001)));

    // nothing before the interval
    l.on_timer(t0 + secs(500), &status());
    assert!(drain(&mut l).0.is_empty());
    l.on_timer(t0 + secs(1001), &status());
    let (jobs, _) = drain(&mut l);
    assert_eq!(urls(&jobs), ["http://a/announce"]);
    assert_eq!(jobs[0].request.event, Event::None);
    assert_eq!(jobs[0].request.trackerid, "tid");
}

#[test]
fn interval_raised_to_min_announce_interval() {
    let t0 = Instant::now();
    let mut l = list(&[("http://a/announce", 0)], TrackerSettings::default());
    l.start_announcing(t0, &status());
    let (jobs, _) = drain(&mut l);
    l.on_announce_response(t0, &jobs[0], &ok(5));
    assert_eq!(state(&l, 0).next_announce, Some(t0 + secs(300)));
}

#[test]
fn failure_back_off_and_rotation_within_tier() {
    let t0 = Instant::now();
    let mut l = list(
        &[
            ("http://a/announce", 0),
            ("http://b/announce", 0),
            ("http://c/announce", 1),
        ],
        TrackerSettings::default(),
    );
    l.start_announcing(t0, &status());
    let (jobs, _) = drain(&mut l);
    assert_eq!(urls(&jobs), ["http://a/announce"]);

    // a fails: moved to the end of tier 0, b is tried right away
    l.on_announce_error(t0, &jobs[0], &err(TrackerError::TimedOut), &status());
    let (jobs, events) = drain(&mut l);
    assert_eq!(
        events,
        vec![TrackerOutput::Error {
            key: AnnounceKey {
                url: "http://a/announce".into(),
                local_endpoint: LISTEN.parse().unwrap(),
                version: lt_core::ProtocolVersion::V1
            },
            error: TrackerError::TimedOut,
            times_in_row: 1,
            failure_reason: String::new(),
        }]
    );
    assert_eq!(
        order(&l),
        [
            "http://b/announce",
            "http://a/announce",
            "http://c/announce"
        ]
    );
    let a = state(&l, 1);
    assert_eq!(a.fails, 1);
    assert!(!a.updating && !a.is_working());
    // 5 + 1 * 5 * 250 / 100 = 17 s
    assert_eq!(a.next_announce, Some(t0 + secs(17)));
    assert_eq!(a.min_announce, Some(t0), "set when the announce was sent");
    assert_eq!(a.last_error, Some(TrackerError::TimedOut));
    assert_eq!(urls(&jobs), ["http://b/announce"]);
    assert_eq!(jobs[0].request.event, Event::Started);

    // b fails too: tier 1 is tried
    l.on_announce_error(
        t0,
        &jobs[0],
        &err(TrackerError::Io("refused".into())),
        &status(),
    );
    let (jobs, _) = drain(&mut l);
    assert_eq!(urls(&jobs), ["http://c/announce"]);
    l.on_announce_error(t0, &jobs[0], &err(TrackerError::TimedOut), &status());
    assert!(drain(&mut l).0.is_empty(), "everyone is backing off");
    // the earliest retry
    assert_eq!(l.next_timeout(t0), Some(t0 + secs(17)));

    // with no tracker working, every due tracker is retried (libtorrent
    // stops at the first *working* tracker of a tier)
    let t1 = t0 + secs(17);
    l.on_timer(t1, &status());
    let (jobs, _) = drain(&mut l);
    assert_eq!(
        urls(&jobs),
        [
            "http://a/announce",
            "http://b/announce",
            "http://c/announce"
        ]
    );
    assert!(jobs.iter().all(|j| j.request.event == Event::Started));
    // a fails again: fails = 2 -> 5 + 4 * 12.5 = 55 s
    l.on_announce_error(t1, &jobs[0], &err(TrackerError::TimedOut), &status());
    assert!(drain(&mut l).0.is_empty(), "the others are in flight");
    let idx = l
        .trackers()
        .iter()
        .position(|t| t.url == "http://a/announce")
        .unwrap();
    assert_eq!(state(&l, idx).fails, 2);
    assert_eq!(state(&l, idx).next_announce, Some(t1 + secs(55)));
    for j in &jobs[1..] {
        l.on_announce_error(t1, j, &err(TrackerError::TimedOut), &status());
    }
    drain(&mut l);

    // a success moves the tracker to the front of its tier and stops the rotation
    let t2 = t0 + secs(200);
    l.on_timer(t2, &status());
    let (jobs, _) = drain(&mut l);
    let j = jobs
        .into_iter()
        .find(|j| j.request.url == "http://a/announce")
        .expect("a is retried");
    l.on_announce_response(t2, &j, &ok(1800));
    assert_eq!(order(&l)[0], "http://a/announce");
    assert_eq!(state(&l, 0).fails, 0);
    assert_eq!(l.last_working(), Some(0));
}

#[test]
fn back_off_formula_and_cap() {
    let t0 = Instant::now();
    let mut a = AnnounceInfoHash::default();
    let mut delays = Vec::new();
    for _ in 0..12 {
        a.failed(t0, 250, 0);
        delays.push((a.next_announce.unwrap() - t0).as_secs());
    }
    assert_eq!(
        delays,
        [17, 55, 117, 205, 317, 455, 617, 805, 1017, 1255, 1517, 1805]
    );
    for _ in 0..30 {
        a.failed(t0, 250, 0);
    }
    assert_eq!(a.next_announce, Some(t0 + secs(3600)), "capped at an hour");
    for _ in 0..200 {
        a.failed(t0, 250, 0);
    }
    assert_eq!(a.fails, 127, "saturates");
    // tracker_backoff scales it; a retry interval from the tracker wins when longer
    let mut b = AnnounceInfoHash::default();
    b.failed(t0, 100, 0);
    assert_eq!(b.next_announce, Some(t0 + secs(10)));
    let mut c = AnnounceInfoHash::default();
    c.failed(t0, 250, 1800);
    assert_eq!(c.next_announce, Some(t0 + secs(1800)));
}

#[test]
fn failure_reason_retry_interval_and_410() {
    let t0 = Instant::now();
    let mut l = list(
        &[("http://a/announce", 0), ("http://b/announce", 0)],
        TrackerSettings::default(),
    );
    l.start_announcing(t0, &status());
    let (jobs, _) = drain(&mut l);
    let e = ReplyError {
        error: TrackerError::TrackerFailure("go away".into()),
        warning_message: String::new(),
        retry_interval: 900,
        min_interval: 30,
    };
    l.on_announce_error(t0, &jobs[0], &e, &status());
    let (jobs, events) = drain(&mut l);
    assert!(
        matches!(&events[0], TrackerOutput::Error { failure_reason, times_in_row: 1, .. } if failure_reason == "go away")
    );
    let a = l
        .trackers()
        .iter()
        .find(|t| t.url == "http://a/announce")
        .unwrap();
    assert_eq!(
        a.endpoints[0].info_hashes[0].next_announce,
        Some(t0 + secs(900))
    );
    assert_eq!(a.endpoints[0].info_hashes[0].message, "go away");
    // b answers 410 Gone: never again
    let gone = err(TrackerError::HttpStatus {
        code: 410,
        message: "Gone".into(),
    });
    l.on_announce_error(t0, &jobs[0], &gone, &status());
    drain(&mut l);
    let b = l
        .trackers()
        .iter()
        .find(|t| t.url == "http://b/announce")
        .unwrap();
    assert_eq!(b.fail_limit, 1);
    l.on_timer(t0 + secs(10_000), &status());
    let (jobs, _) = drain(&mut l);
    assert_eq!(urls(&jobs), ["http://a/announce"]);
}

#[test]
fn fail_limit_stops_retries() {
    let t0 = Instant::now();
    let mut l = list(&[("http://a/announce", 0)], TrackerSettings::default());
    l.tracker_mut(0).unwrap().fail_limit = 2;
    l.start_announcing(t0, &status());
    let mut t = t0;
    for _ in 0..2 {
        let (jobs, _) = drain(&mut l);
        assert_eq!(jobs.len(), 1);
        l.on_announce_error(t, &jobs[0], &err(TrackerError::TimedOut), &status());
        t = l.next_timeout(t).unwrap_or(t);
        l.on_timer(t, &status());
    }
    assert!(drain(&mut l).0.is_empty());
    assert_eq!(l.next_timeout(t), None);
}

#[test]
fn announce_to_all_trackers_and_tiers() {
    let t0 = Instant::now();
    let trackers = [
        ("http://a/announce", 0),
        ("http://b/announce", 0),
        ("http://c/announce", 1),
        ("http://d/announce", 1),
    ];
    // all trackers of the first tier
    let s = TrackerSettings {
        announce_to_all_trackers: true,
        ..Default::default()
    };
    let mut l = list(&trackers, s);
    l.start_announcing(t0, &status());
    assert_eq!(
        urls(&drain(&mut l).0),
        ["http://a/announce", "http://b/announce"]
    );

    // both: every tracker (strict BEP 12)
    let s = TrackerSettings {
        announce_to_all_trackers: true,
        announce_to_all_tiers: true,
        ..Default::default()
    };
    let mut l = list(&trackers, s);
    l.start_announcing(t0, &status());
    assert_eq!(
        urls(&drain(&mut l).0),
        [
            "http://a/announce",
            "http://b/announce",
            "http://c/announce",
            "http://d/announce"
        ]
    );

    let s = TrackerSettings {
        announce_to_all_tiers: true,
        ..Default::default()
    };
    let mut l = list(&trackers, s);
    l.start_announcing(t0, &status());
    let (jobs, _) = drain(&mut l);
    assert_eq!(
        urls(&jobs),
        ["http://a/announce", "http://c/announce"],
        "the first of each tier"
    );
    // with a failure in tier 1 the next tracker of that tier is tried
    l.on_announce_error(t0, &jobs[1], &err(TrackerError::TimedOut), &status());
    let (jobs2, _) = drain(&mut l);
    assert_eq!(urls(&jobs2), ["http://d/announce"]);
}

#[test]
fn completed_is_sent_once_and_bypasses_min_interval() {
    let t0 = Instant::now();
    let mut l = list(&[("http://a/announce", 0)], TrackerSettings::default());
    l.start_announcing(t0, &status());
    let (jobs, _) = drain(&mut l);
    l.on_announce_response(t0, &jobs[0], &ok(1800));
    let seed = TorrentStatus {
        is_seed: true,
        is_finished: true,
        left: 0,
        ..status()
    };
    // within min interval, but a seed that owes `completed` goes through
    l.completed(t0 + secs(10), &seed);
    let (jobs, _) = drain(&mut l);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].request.event, Event::Completed);
    assert_eq!(jobs[0].request.left, 0);
    l.on_announce_response(t0 + secs(11), &jobs[0], &ok(1800));
    assert!(state(&l, 0).complete_sent);
    l.completed(t0 + secs(20), &seed);
    assert!(drain(&mut l).0.is_empty(), "not twice");
    l.on_timer(t0 + secs(11 + 1800), &seed);
    let (jobs, _) = drain(&mut l);
    assert_eq!(jobs[0].request.event, Event::None);

    // a torrent complete before (resume data) never sends it
    let mut l = list(&[("http://a/announce", 0)], TrackerSettings::default());
    l.set_complete_sent(true);
    l.start_announcing(t0, &seed);
    let (jobs, _) = drain(&mut l);
    assert_eq!(jobs[0].request.event, Event::Started);
    l.on_announce_response(t0, &jobs[0], &ok(1800));
    l.completed(t0 + secs(100), &seed);
    let (jobs, _) = drain(&mut l);
    assert_eq!(
        jobs.len(),
        1,
        "completion re-announces (libtorrent resets the timers)"
    );
    assert_eq!(jobs[0].request.event, Event::None);
}

#[test]
fn partial_seed_announces_paused() {
    let t0 = Instant::now();
    let mut l = list(&[("http://a/announce", 0)], TrackerSettings::default());
    l.start_announcing(t0, &status());
    let (jobs, _) = drain(&mut l);
    l.on_announce_response(t0, &jobs[0], &ok(300));
    let partial = TorrentStatus {
        is_finished: true,
        ..status()
    };
    l.on_timer(t0 + secs(300), &partial);
    assert_eq!(drain(&mut l).0[0].request.event, Event::Paused);
}

#[test]
fn stopped_on_pause_and_started_again_on_resume() {
    let t0 = Instant::now();
    let mut l = list(
        &[("http://a/announce", 0), ("http://b/announce", 1)],
        TrackerSettings::default(),
    );
    l.start_announcing(t0, &status());
    let (jobs, _) = drain(&mut l);
    l.on_announce_response(t0, &jobs[0], &ok(1800));
    l.stop_announcing(t0 + secs(5), &status());
    let (jobs, _) = drain(&mut l);
    assert_eq!(
        urls(&jobs),
        ["http://a/announce"],
        "only a tracker that was sent `started`"
    );
    assert_eq!(jobs[0].request.event, Event::Stopped);
    assert_eq!(jobs[0].request.num_want, 0);
    assert!(!l.is_announcing());
    assert_eq!(l.next_timeout(t0), None);
    l.on_announce_response(t0 + secs(6), &jobs[0], &ok(1800));
    assert!(!state(&l, 0).start_sent);
    assert!(drain(&mut l).0.is_empty(), "no re-announce while stopped");
    l.on_timer(t0 + secs(5000), &status());
    assert!(drain(&mut l).0.is_empty());

    l.start_announcing(t0 + secs(7), &status());
    let (jobs, _) = drain(&mut l);
    assert_eq!(jobs[0].request.event, Event::Started);

    // stopping with nothing started sends nothing
    let mut l = list(&[("http://a/announce", 0)], TrackerSettings::default());
    l.start_announcing(t0, &status());
    let (jobs, _) = drain(&mut l);
    l.on_announce_error(t0, &jobs[0], &err(TrackerError::TimedOut), &status());
    drain(&mut l);
    l.stop_announcing(t0, &status());
    assert!(drain(&mut l).0.is_empty());
}

#[test]
fn force_reannounce() {
    let t0 = Instant::now();
    let mut l = list(&[("http://a/announce", 0)], TrackerSettings::default());
    l.start_announcing(t0, &status());
    let (jobs, _) = drain(&mut l);
    l.on_announce_response(t0, &jobs[0], &ok(1800));
    // respects min interval (60 s) by default
    l.force_reannounce(t0 + secs(10), 0, None, false);
    assert_eq!(state(&l, 0).next_announce, Some(t0 + secs(61)));
    assert!(state(&l, 0).triggered_manually);
    assert_eq!(l.next_timeout(t0 + secs(10)), Some(t0 + secs(61)));
    // ignore_min_interval: one second from now
    l.force_reannounce(t0 + secs(10), 0, Some(0), true);
    assert_eq!(l.next_timeout(t0 + secs(10)), Some(t0 + secs(11)));
    l.on_timer(t0 + secs(10), &status());
    assert!(drain(&mut l).0.is_empty());
    l.on_timer(t0 + secs(11), &status());
    let (jobs, _) = drain(&mut l);
    assert_eq!(jobs.len(), 1);
    assert!(!state(&l, 0).triggered_manually);
    // in 100 seconds
    l.on_announce_response(t0 + secs(11), &jobs[0], &ok(1800));
    l.force_reannounce(t0 + secs(11), 100, None, false);
    assert_eq!(l.next_timeout(t0 + secs(12)), Some(t0 + secs(112)));
    // an index that does not exist changes nothing
    l.force_reannounce(t0 + secs(11), 0, Some(5), true);
    assert_eq!(l.next_timeout(t0 + secs(12)), Some(t0 + secs(112)));
}

#[test]
fn hybrid_torrents_announce_both_hashes_and_endpoints() {
    let t0 = Instant::now();
    let ih = InfoHash::new(Sha1Hash([1; 20]), Sha256Hash([2; 32]));
    let mut l = TrackerList::new(ih, TrackerSettings::default());
    l.add_tracker(AnnounceEntry::new("http://a/announce", 0, source::CLIENT));
    l.set_listen_endpoints(&["0.0.0.0:1".parse().unwrap(), "[::]:2".parse().unwrap()]);
    l.start_announcing(t0, &status());
    let (jobs, _) = drain(&mut l);
    assert_eq!(jobs.len(), 4);
    let hashes: Vec<_> = jobs
        .iter()
        .map(|j| (j.key.local_endpoint.port(), j.request.info_hash))
        .collect();
    assert_eq!(
        hashes,
        [
            (1, Sha1Hash([1; 20])),
            (1, Sha1Hash([2; 20])),
            (2, Sha1Hash([1; 20])),
            (2, Sha1Hash([2; 20]))
        ]
    );
    // state is per endpoint and version
    l.on_announce_response(t0, &jobs[1], &ok(1800));
    let t = &l.trackers()[0];
    assert!(t.endpoints[0].info_hashes[1].start_sent);
    assert!(!t.endpoints[0].info_hashes[0].start_sent);
    // dropping a listen socket drops its endpoint, keeping the others' state
    l.set_listen_endpoints(&["0.0.0.0:1".parse().unwrap()]);
    assert_eq!(l.trackers()[0].endpoints.len(), 1);
    assert!(l.trackers()[0].endpoints[0].info_hashes[1].start_sent);
}

#[test]
fn tracker_list_editing() {
    let mut l = list(
        &[("http://a/announce", 1), ("http://b/announce", 0)],
        TrackerSettings::default(),
    );
    assert_eq!(
        order(&l),
        ["http://b/announce", "http://a/announce"],
        "sorted by tier"
    );
    assert!(!l.add_tracker(AnnounceEntry::new(
        "http://a/announce",
        0,
        source::MAGNET_LINK
    )));
    assert_eq!(
        l.trackers()[1].source,
        source::TORRENT | source::MAGNET_LINK
    );
    assert!(l.add_tracker(AnnounceEntry::new("  http://c/announce", 0, source::CLIENT)));
    assert_eq!(
        order(&l),
        [
            "http://b/announce",
            "http://c/announce",
            "http://a/announce"
        ]
    );
    assert!(!l.add_tracker(AnnounceEntry::new("", 0, source::CLIENT)));

    // shuffling keeps tiers together and permutes within them
    let many: Vec<(String, u8)> = (0..20)
        .map(|i| (format!("http://t{i}/announce"), (i / 10) as u8))
        .collect();
    let refs: Vec<(&str, u8)> = many.iter().map(|(u, t)| (u.as_str(), *t)).collect();
    let mut l = list(&refs, TrackerSettings::default());
    let before: Vec<String> = order(&l).iter().map(|s| s.to_string()).collect();
    l.shuffle_tiers(12345);
    let after: Vec<String> = order(&l).iter().map(|s| s.to_string()).collect();
    assert_ne!(before, after);
    let tiers: Vec<u8> = l.trackers().iter().map(|t| t.tier).collect();
    assert_eq!(tiers, [[0u8; 10], [1u8; 10]].concat());
    let mut sorted = after.clone();
    sorted.sort();
    let mut b = before.clone();
    b.sort();
    assert_eq!(sorted, b);
    for t in &after[..10] {
        assert!(before[..10].contains(t));
    }

    l.replace_trackers(vec![
        AnnounceEntry::new("udp://x:1", 3, source::CLIENT),
        AnnounceEntry::new("udp://y:1", 1, source::CLIENT),
    ]);
    assert_eq!(order(&l), ["udp://y:1", "udp://x:1"]);
}

#[test]
fn scrape_requests_and_replies() {
    let t0 = Instant::now();
    let mut l = list(
        &[("http://a/announce", 0), ("udp://b:1", 0)],
        TrackerSettings::default(),
    );
    l.scrape(Some(1), &status());
    let job = match l.poll_output() {
        Some(TrackerOutput::Scrape(j)) => j,
        other => panic!("{other:?}"),
    };
    assert_eq!(job.request.kind, RequestKind::Scrape);
    assert_eq!(job.request.url, "udp://b:1");
    assert_eq!(l.poll_output(), None);
    l.on_scrape_response(
        &job,
        &ScrapeResponse {
            complete: 1,
            incomplete: 2,
            downloaded: 3,
            downloaders: -1,
        },
    );
    assert_eq!(
        l.poll_output(),
        Some(TrackerOutput::ScrapeReply {
            key: job.key.clone(),
            complete: 1,
            incomplete: 2
        })
    );
    let a = state(&l, 1);
    assert_eq!(
        (a.scrape_complete, a.scrape_incomplete, a.scrape_downloaded),
        (1, 2, 3)
    );
    l.on_scrape_error(&job, &err(TrackerError::ScrapeNotAvailable));
    assert!(matches!(
        l.poll_output(),
        Some(TrackerOutput::ScrapeFailed { .. })
    ));
    let _ = t0;
}

#[test]
fn prefer_udp_trackers_swaps_with_http_on_the_same_host() {
    let mut l = TrackerList::new(
        InfoHash::from_v1(Sha1Hash([3; 20])),
        TrackerSettings::default(),
    );
    l.replace_trackers(vec![
        AnnounceEntry::new("http://h1/announce", 0, source::TORRENT),
        AnnounceEntry::new("http://h2/announce", 0, source::TORRENT),
        AnnounceEntry::new("udp://h2:1/announce", 1, source::TORRENT),
        AnnounceEntry::new("udp://h3:1/announce", 1, source::TORRENT),
    ]);
    assert_eq!(
        order(&l),
        [
            "http://h1/announce",
            "udp://h2:1/announce",
            "http://h2/announce",
            "udp://h3:1/announce"
        ]
    );
    let tiers: Vec<u8> = l.trackers().iter().map(|t| t.tier).collect();
    assert_eq!(
        tiers,
        [0, 1, 0, 1],
        "entries keep their tier, as libtorrent does"
    );

    let s = TrackerSettings {
        prefer_udp_trackers: false,
        ..Default::default()
    };
    let mut l = TrackerList::new(InfoHash::from_v1(Sha1Hash([3; 20])), s);
    l.replace_trackers(vec![
        AnnounceEntry::new("http://h2/announce", 0, source::TORRENT),
        AnnounceEntry::new("udp://h2:1/announce", 0, source::TORRENT),
    ]);
    assert_eq!(order(&l), ["http://h2/announce", "udp://h2:1/announce"]);
}
