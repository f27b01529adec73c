//! The libtorrent-rs session engine.
//!
//! A [`Session`] owns a tokio runtime on its own threads. All BitTorrent
//! state (torrents, peers, trackers, picker, choker) lives in one
//! [`engine::Engine`] value driven by a single task; user calls reach it as
//! closures sent over a channel ([`Session::call`] waits for the result,
//! [`Session::post`] does not). Sockets are pumped by small per-connection
//! tasks and disk work runs on the storage crate's thread pool; both report
//! back to the engine task through channels. Nothing in the engine ever
//! calls user code: the user learns what happened by popping [`Alert`]s.
//!
//! ```no_run
//! use lt_session::Session;
//! use lt_settings::{keys, SettingsPack};
//! let mut pack = SettingsPack::new();
//! pack.set_str(keys::LISTEN_INTERFACES, "127.0.0.1:0");
//! let ses = Session::new(&pack).unwrap();
//! let port = ses.listen_port();
//! for alert in ses.pop_alerts() {
//!     println!("{}", alert.what());
//! }
//! # let _ = port;
//! ```

pub mod alert;
pub mod alert_queue;
pub mod dht_alert;
mod engine;
mod lazy;
pub mod listen;
pub mod log_alert;
pub mod peer_class;
mod peer_io;
pub mod portmap_alert;
mod proxy_io;
pub mod ssl;
pub mod torrent;
mod tracker_io;
pub mod types;
mod udp_errqueue;
pub mod ut_metadata;
mod webseed_io;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

pub use alert::{Alert, AlertKind};
use alert_queue::AlertQueue;
pub use engine::ctl::{resume_flags, QueueMove, ResumeExtra};
pub use engine::{tracker_error_code, Engine, SslCertificate};
use lt_settings::{keys, Settings, SettingsPack};
pub use lt_storage::{MoveFlags, OpenFile, StorageMode};
pub use types::*;

/// The engine has shut down; the call could not be carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionClosed;

impl std::fmt::Display for SessionClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the session has been shut down")
    }
}

impl std::error::Error for SessionClosed {}

pub(crate) type Job = Box<dyn FnOnce(&mut Engine) + Send>;

/// State shared between the user's threads and the engine.
pub(crate) struct Shared {
    pub alerts: AlertQueue<Alert>,
    /// The torrents in the session, readable without a round trip to the
    /// engine (the engine adds; removal is marked here first).
    pub live: std::sync::Mutex<std::collections::HashSet<TorrentId>>,
}

impl Shared {
    pub(crate) fn live(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<TorrentId>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A BitTorrent session. Dropping it shuts the engine down and waits for it
/// (share it with `Arc` and hand out `Weak` references for handles).
pub struct Session {
    shared: Arc<Shared>,
    jobs: mpsc::UnboundedSender<Job>,
    stop: std::sync::Mutex<Option<(tokio::runtime::Runtime, oneshot::Receiver<()>)>>,
}

impl Session {
    /// Starts the engine threads and opens the listen sockets.
    pub fn new(pack: &SettingsPack) -> std::io::Result<Session> {
        let settings = Settings::from_pack(pack);
        // One network thread, as libtorrent has: the engine task and the
        // socket tasks hand work to each other on it without waking another
        // thread. With two, a seeder serving cached blocks switched threads
        // 25 times as often (100,000 against 4,000 for 4 GiB) for no
        // more throughput, and spent more CPU.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("lt-network")
            .enable_all()
            .build()?;
        let shared = Arc::new(Shared {
            alerts: AlertQueue::new(
                settings.get_int(keys::ALERT_QUEUE_SIZE).max(1) as usize,
                settings.get_int(keys::ALERT_MASK) as u32,
            ),
            live: Default::default(),
        });
        let (jobs, job_rx) = mpsc::unbounded_channel();
        let (done_tx, done_rx) = oneshot::channel();
        let engine = Engine::new(shared.clone(), jobs.clone(), settings);
        runtime.spawn(async move {
            engine.run(job_rx).await;
            let _ = done_tx.send(());
        });
        Ok(Session {
            shared,
            jobs,
            stop: std::sync::Mutex::new(Some((runtime, done_rx))),
        })
    }

    /// Runs `f` on the engine task and waits for its result. Blocks the
    /// calling thread (callers from Python release the GIL first).
    pub fn call<R, F>(&self, f: F) -> Result<R, SessionClosed>
    where
        R: Send + 'static,
        F: FnOnce(&mut Engine) -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move |e: &mut Engine| {
                let _ = tx.send(f(e));
            }))
            .map_err(|_| SessionClosed)?;
        rx.blocking_recv().map_err(|_| SessionClosed)
    }

    /// Runs `f` on the engine task without waiting.
    pub fn post<F>(&self, f: F) -> Result<(), SessionClosed>
    where
        F: FnOnce(&mut Engine) + Send + 'static,
    {
        self.jobs.send(Box::new(f)).map_err(|_| SessionClosed)
    }

    /// Whether torrent `id` is in the session (and not being removed),
    /// answered without waiting for the engine.
    pub fn has_torrent(&self, id: TorrentId) -> bool {
        self.shared.live().contains(&id)
    }

    /// Removes torrent `id` without waiting for the engine (as libtorrent's
    /// `remove_torrent`); false when it is not in the session.
    pub fn remove_torrent(&self, id: TorrentId, delete_files: bool) -> Result<bool, SessionClosed> {
        if !self.shared.live().remove(&id) {
            return Ok(false);
        }
        self.post(move |e| {
            e.remove_torrent(id, delete_files);
        })?;
        Ok(true)
    }

    /// Takes every queued alert. When alerts were dropped because the queue
    /// was full, an `alerts_dropped` alert comes first.
    pub fn pop_alerts(&self) -> Vec<Alert> {
        let (mut v, dropped) = self.shared.alerts.pop_all();
        if dropped.iter().any(|&w| w != 0) {
            v.insert(0, Alert::new(AlertKind::AlertsDropped { dropped }));
        }
        v
    }

    /// Waits up to `timeout` for an alert; returns whether one is waiting.
    pub fn wait_for_alert(&self, timeout: Duration) -> bool {
        self.shared.alerts.wait(timeout)
    }

    /// Whether an alert of `category` would be delivered.
    pub fn should_post(&self, category: u32) -> bool {
        self.shared.alerts.should_post(category)
    }

    /// Write one byte to `fd` whenever alerts become available.
    pub fn set_alert_fd(&self, fd: Option<std::os::fd::RawFd>) {
        self.shared.alerts.set_notify_fd(fd);
    }

    /// Applies the settings in `pack`, leaving the others as they are.
    pub fn apply_settings(&self, pack: SettingsPack) -> Result<(), SessionClosed> {
        self.call(move |e| e.apply_settings(&pack))
    }

    /// Every setting's current value.
    pub fn get_settings(&self) -> Result<Settings, SessionClosed> {
        self.call(|e| e.settings().clone())
    }

    /// The first TCP listen port, or 0 when not listening.
    pub fn listen_port(&self) -> u16 {
        self.call(|e| e.listen_port()).unwrap_or(0)
    }

    pub fn is_listening(&self) -> bool {
        self.call(|e| e.is_listening()).unwrap_or(false)
    }

    /// Stops the engine: torrents are stopped, sockets closed, threads
    /// joined. Called by `Drop`; calling it twice is harmless.
    pub fn shutdown(&self) {
        let stop = self.stop.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some((runtime, done)) = stop {
            let _ = self.post(|e| e.begin_shutdown());
            // The engine finishes within its own bounded shutdown timeout.
            let _ = done.blocking_recv();
            runtime.shutdown_timeout(Duration::from_secs(2));
        }
        self.shared.alerts.wake_all();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shutdown();
    }
}
