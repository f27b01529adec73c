//! The alert queue between the engine threads and the user.
//!
//! Engine threads post; the user pops. The queue is bounded by
//! `alert_queue_size`: alerts posted while it is full are dropped and counted
//! per type, and the next pop reports them (libtorrent's
//! `alerts_dropped_alert`). Posting never blocks on the user and never calls
//! user code: waiting users are woken through a condition variable, and an
//! optional file descriptor gets one byte written whenever the queue goes from
//! empty to non-empty.

use std::os::fd::RawFd;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What the queue needs to know about an alert.
pub trait QueuedAlert {
    /// The alert's category bits (`alert.category_t`).
    fn category(&self) -> u32;
    /// A small integer naming the alert type, used to report drops.
    fn type_id(&self) -> usize;
    /// Alerts answering an explicit request (or that libtorrent always
    /// posts) ignore the mask.
    fn always_post(&self) -> bool {
        false
    }
}

struct State<A> {
    queue: Vec<A>,
    limit: usize,
    mask: u32,
    /// Bit `i` set: an alert of type id `i` was dropped since the last pop.
    dropped: [u64; 4],
    notify_fd: Option<RawFd>,
}

/// A bounded, thread-safe alert queue.
pub struct AlertQueue<A> {
    state: Mutex<State<A>>,
    cond: Condvar,
}

impl<A: QueuedAlert> AlertQueue<A> {
    pub fn new(limit: usize, mask: u32) -> Self {
        AlertQueue {
            state: Mutex::new(State {
                queue: Vec::new(),
                limit: limit.max(1),
                mask,
                dropped: [0; 4],
                notify_fd: None,
            }),
            cond: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<A>> {
        // A poisoned lock only means another thread panicked while holding
        // it; the queue itself is always in a consistent state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether an alert of `category` would be kept (lets callers skip
    /// building alerts nobody asked for).
    pub fn should_post(&self, category: u32) -> bool {
        self.lock().mask & category != 0
    }

    /// Queues `alert` unless its category is masked out or the queue is
    /// full (then it is counted as dropped). Returns whether it was queued.
    pub fn post(&self, alert: A) -> bool {
        let mut st = self.lock();
        if st.mask & alert.category() == 0 && !alert.always_post() {
            return false;
        }
        if st.queue.len() >= st.limit {
            let t = alert.type_id();
            if let Some(word) = st.dropped.get_mut(t / 64) {
                *word |= 1 << (t % 64);
            }
            return false;
        }
        let was_empty = st.queue.is_empty();
        st.queue.push(alert);
        if was_empty {
            if let Some(fd) = st.notify_fd {
                write_notify_byte(fd);
            }
            self.cond.notify_all();
        }
        true
    }

    /// Takes every queued alert, and the dropped-type bitmap (all zero when
    /// nothing was dropped).
    pub fn pop_all(&self) -> (Vec<A>, [u64; 4]) {
        let mut st = self.lock();
        let dropped = std::mem::take(&mut st.dropped);
        (std::mem::take(&mut st.queue), dropped)
    }

    /// Waits until at least one alert is queued or `timeout` passes.
    /// Returns whether an alert is waiting.
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        while st.queue.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = match self.cond.wait_timeout(st, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        true
    }

    /// Wakes every waiter (used at shutdown).
    pub fn wake_all(&self) {
        self.cond.notify_all();
    }

    pub fn set_limit(&self, limit: usize) {
        self.lock().limit = limit.max(1);
    }

    pub fn set_mask(&self, mask: u32) {
        self.lock().mask = mask;
    }

    pub fn mask(&self) -> u32 {
        self.lock().mask
    }

    /// Sets (or clears, with `None`) the descriptor to notify. If alerts are
    /// already waiting, a byte is written at once.
    pub fn set_notify_fd(&self, fd: Option<RawFd>) {
        let mut st = self.lock();
        st.notify_fd = fd;
        if let Some(fd) = fd {
            if !st.queue.is_empty() {
                write_notify_byte(fd);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn write_notify_byte(fd: RawFd) {
    let b = [0u8; 1];
    // SAFETY: `b` is a valid, initialised 1-byte buffer that outlives the
    // call; `write` on an arbitrary integer fd cannot violate memory safety
    // (a closed or invalid fd makes it fail with EBADF, which we ignore, as
    // we ignore EAGAIN on a full non-blocking pipe: a byte is already there).
    unsafe {
        libc::write(fd, b.as_ptr().cast(), 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    struct A(u32, usize);
    impl QueuedAlert for A {
        fn category(&self) -> u32 {
            self.0
        }
        fn type_id(&self) -> usize {
            self.1
        }
    }

    #[test]
    fn mask_limit_and_drops() {
        let q = AlertQueue::new(2, 0b11);
        assert!(!q.post(A(0b100, 1)), "masked out");
        assert!(q.post(A(0b01, 1)));
        assert!(q.post(A(0b10, 2)));
        assert!(!q.post(A(0b01, 70)), "full");
        let (v, dropped) = q.pop_all();
        assert_eq!(v.len(), 2);
        assert_eq!(dropped[1], 1 << 6);
        let (v, dropped) = q.pop_all();
        assert!(v.is_empty());
        assert_eq!(dropped, [0; 4]);
    }

    #[test]
    fn wait_wakes_on_post_and_times_out() {
        let q = Arc::new(AlertQueue::new(10, !0));
        assert!(!q.wait(Duration::from_millis(10)));
        let q2 = q.clone();
        let t = std::thread::spawn(move || q2.wait(Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(20));
        q.post(A(1, 0));
        assert!(t.join().unwrap());
    }

    #[test]
    fn notify_fd_gets_one_byte_per_empty_to_nonempty() {
        let mut fds = [0; 2];
        // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
        assert_eq!(
            unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK) },
            0
        );
        let q = AlertQueue::new(10, !0);
        q.set_notify_fd(Some(fds[1]));
        q.post(A(1, 0));
        q.post(A(1, 0));
        let mut buf = [0u8; 8];
        // SAFETY: `buf` is valid for 8 bytes.
        let n = unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), 8) };
        assert_eq!(n, 1);
        q.pop_all();
        q.post(A(1, 0));
        // SAFETY: as above.
        let n = unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), 8) };
        assert_eq!(n, 1);
        // SAFETY: closing the two descriptors this test opened.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
    }
}
