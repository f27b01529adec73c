//! Read-only mappings of file ranges, for hashing files without copying
//! them out of the page cache.
//!
//! Reading through a mapping raises `SIGBUS` where the file no longer has
//! the mapped bytes (it was truncated while mapped) or the kernel cannot
//! read them (an I/O error). A process-wide handler, installed on first
//! use, catches such a fault inside a live [`Mapping`]: it maps a page of
//! zeros over the faulting page, so the read goes on and sees zeros, and
//! marks the mapping [`faulted`](Mapping::faulted); the caller then
//! discards what it computed and reports the error. Any other `SIGBUS` is
//! passed to the handler that was installed before ours (or, if there was
//! none, to the default action, which ends the process as it would have
//! without us).
//!
//! `Mapping::new` returns an error where mappings are not available
//! (other systems, no free slot, `mmap` failing); callers fall back to
//! `pread`.

use std::fs::File;
use std::io;

/// A read-only mapping of `len` bytes of a file.
pub struct Mapping {
    #[cfg(target_os = "linux")]
    inner: imp::Inner,
}

impl Mapping {
    /// Maps `len` bytes of `file` from `offset` (any offset; it is rounded
    /// down to a page internally). Fails with `UnexpectedEof` if the file
    /// is shorter than `offset + len` now, and with another error when the
    /// range cannot be mapped (the caller should read it instead).
    pub fn new(file: &File, offset: u64, len: usize) -> io::Result<Mapping> {
        let end = offset
            .checked_add(len as u64)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        if file.metadata()?.len() < end {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        #[cfg(target_os = "linux")]
        {
            Ok(Mapping {
                inner: imp::Inner::new(file, offset, len)?,
            })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (file, len);
            Err(io::ErrorKind::Unsupported.into())
        }
    }

    /// The mapped bytes. Pages that faulted read as zeros (see
    /// [`faulted`](Mapping::faulted)).
    pub fn bytes(&self) -> &[u8] {
        #[cfg(target_os = "linux")]
        {
            self.inner.bytes()
        }
        #[cfg(not(target_os = "linux"))]
        {
            &[]
        }
    }

    /// `bytes()[from..from + len]`, for a reader that goes front to back:
    /// the pages before `from` are first dropped from the process's page
    /// tables, a megabyte or more at a time (the page cache keeps them, and
    /// reading them again maps them again). A window read this way adds
    /// about a megabyte to the process's resident set, not its whole size.
    pub fn read_at(&mut self, from: usize, len: usize) -> Option<&[u8]> {
        #[cfg(target_os = "linux")]
        self.inner.discard_before(from);
        self.bytes().get(from..from.checked_add(len)?)
    }

    /// Whether any read of the mapping has faulted since it was made: the
    /// bytes read may then be zeros where the file had data, and anything
    /// computed from them is wrong.
    pub fn faulted(&self) -> bool {
        #[cfg(target_os = "linux")]
        {
            self.inner.faulted()
        }
        #[cfg(not(target_os = "linux"))]
        {
            false
        }
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::fs::File;
    use std::io;
    use std::os::fd::AsRawFd;
    use std::ptr::null_mut;
    use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
    use std::sync::Once;

    /// Live mappings the signal handler knows about. The handler must not
    /// lock or allocate, so it scans this fixed table of atomics.
    const SLOTS: usize = 64;

    struct Slot {
        /// First byte of the mapping, 0 for a free slot.
        start: AtomicUsize,
        /// One past the last byte; 0 while the slot is being set up or
        /// torn down, so the handler never matches a half-made entry.
        end: AtomicUsize,
        faulted: AtomicBool,
    }

    #[allow(clippy::declare_interior_mutable_const)]
    const FREE: Slot = Slot {
        start: AtomicUsize::new(0),
        end: AtomicUsize::new(0),
        faulted: AtomicBool::new(false),
    };
    static TABLE: [Slot; SLOTS] = [FREE; SLOTS];

    static PAGE: AtomicUsize = AtomicUsize::new(0);
    /// The `SIGBUS` disposition before ours (leaked, never freed: the
    /// handler may read it at any time).
    static PREVIOUS: AtomicPtr<libc::sigaction> = AtomicPtr::new(null_mut());
    static INSTALL: Once = Once::new();
    static INSTALLED: AtomicBool = AtomicBool::new(false);

    pub(super) struct Inner {
        base: *mut libc::c_void,
        map_len: usize,
        /// Offset of the first requested byte inside the mapping.
        skip: usize,
        len: usize,
        slot: usize,
        /// Bytes of the mapping, from its start, whose pages were dropped
        /// by `discard_before` (page-aligned).
        discarded: usize,
    }

    // SAFETY: `Inner` owns its mapping; the pointer is only read through
    // `bytes()` (shared, read-only pages) and unmapped in `drop`, which
    // needs `&mut self`. Nothing about the mapping is tied to the thread
    // that made it.
    unsafe impl Send for Inner {}
    // SAFETY: the only access through `&Inner` is reading the read-only
    // mapping and an atomic flag, which any number of threads may do.
    unsafe impl Sync for Inner {}

    fn install() -> bool {
        INSTALL.call_once(|| {
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            if page <= 0 {
                return;
            }
            PAGE.store(page as usize, Ordering::Release);
            // SAFETY: an all-zero sigaction is a valid value (empty mask,
            // no flags); every field we rely on is set below.
            let mut ours: libc::sigaction = unsafe { std::mem::zeroed() };
            ours.sa_sigaction = on_sigbus as *const () as usize;
            ours.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            // SAFETY: `ours.sa_mask` is a valid sigset_t to initialise.
            unsafe { libc::sigemptyset(&mut ours.sa_mask) };
            let prev = Box::into_raw(Box::new(
                // SAFETY: as above, zero is a valid sigaction; the kernel
                // overwrites it with the old disposition.
                unsafe { std::mem::zeroed::<libc::sigaction>() },
            ));
            PREVIOUS.store(prev, Ordering::Release);
            // SAFETY: `ours` is fully initialised and `on_sigbus` has the
            // SA_SIGINFO signature; `prev` points to writable memory that
            // lives for the rest of the process (it is leaked).
            if unsafe { libc::sigaction(libc::SIGBUS, &ours, prev) } == 0 {
                INSTALLED.store(true, Ordering::Release);
            }
        });
        INSTALLED.load(Ordering::Acquire)
    }

    extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // Only async-signal-safe work here: atomics, mmap, sigaction.
        // SAFETY: the kernel passes a valid siginfo_t with SA_SIGINFO.
        let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
        // si_code > 0: raised by the kernel for a fault (not kill/raise,
        // whose siginfo holds no address).
        if code > 0 {
            let page = PAGE.load(Ordering::Acquire);
            for s in &TABLE {
                let start = s.start.load(Ordering::Acquire);
                if start == 0 || addr < start || addr >= s.end.load(Ordering::Acquire) {
                    continue;
                }
                let at = addr & !(page - 1);
                // SAFETY: `at` is a page inside a mapping that `Inner` owns
                // and unmaps only after clearing this slot's `end`; placing
                // an anonymous read-only page over it with MAP_FIXED only
                // replaces that page of our own mapping.
                let r = unsafe {
                    libc::mmap(
                        at as *mut libc::c_void,
                        page,
                        libc::PROT_READ,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                        -1,
                        0,
                    )
                };
                if r != libc::MAP_FAILED {
                    s.faulted.store(true, Ordering::Release);
                    return;
                }
                break;
            }
        }
        chain(sig, info, ctx);
    }

    /// Hands a `SIGBUS` that is not ours to the disposition before ours.
    fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        let prev = PREVIOUS.load(Ordering::Acquire);
        // SAFETY: `prev` was written by sigaction before our handler was
        // installed and is never freed or written again.
        let prev = unsafe { &*prev };
        let handler = prev.sa_sigaction;
        if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
            // Restore the default: the faulting instruction runs again and
            // the kernel applies it (a SIGBUS from kill() is re-raised).
            // SAFETY: a zeroed sigaction with SIG_DFL is valid.
            let mut dfl: libc::sigaction = unsafe { std::mem::zeroed() };
            dfl.sa_sigaction = libc::SIG_DFL;
            // SAFETY: plain system calls with valid arguments.
            unsafe {
                libc::sigaction(sig, &dfl, null_mut());
                // SAFETY: `info` is valid for the duration of the handler.
                if (*info).si_code <= 0 {
                    libc::raise(sig);
                }
            }
        } else if prev.sa_flags & libc::SA_SIGINFO != 0 {
            // SAFETY: the previous handler was installed with SA_SIGINFO,
            // so it has this signature.
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                unsafe { std::mem::transmute(handler) };
            f(sig, info, ctx);
        } else {
            // SAFETY: a handler installed without SA_SIGINFO takes the
            // signal number only.
            let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
            f(sig);
        }
    }

    impl Inner {
        pub(super) fn new(file: &File, offset: u64, len: usize) -> io::Result<Inner> {
            let unsupported = || io::Error::from(io::ErrorKind::Unsupported);
            if len == 0 || !install() {
                return Err(unsupported());
            }
            let page = PAGE.load(Ordering::Acquire);
            let skip = (offset % page as u64) as usize;
            let map_len = len.checked_add(skip).ok_or_else(unsupported)?;
            let map_off = libc::off_t::try_from(offset - skip as u64).map_err(|_| unsupported())?;
            // No MAP_POPULATE: pages are mapped as they are read, so a window
            // read only in part costs only what is read.
            // SAFETY: a fresh read-only shared mapping chosen by the kernel
            // (no MAP_FIXED), of an open file descriptor; it does not alias
            // any Rust object.
            let base = unsafe {
                libc::mmap(
                    null_mut(),
                    map_len,
                    libc::PROT_READ,
                    libc::MAP_SHARED,
                    file.as_raw_fd(),
                    map_off,
                )
            };
            if base == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            let start = base as usize;
            let claimed = TABLE.iter().position(|s| {
                s.start
                    .compare_exchange(0, start, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            });
            let Some(slot) = claimed else {
                // SAFETY: unmapping the mapping made above, not yet shared.
                unsafe { libc::munmap(base, map_len) };
                return Err(unsupported());
            };
            TABLE[slot].faulted.store(false, Ordering::Release);
            TABLE[slot].end.store(start + map_len, Ordering::Release);
            Ok(Inner {
                base,
                map_len,
                skip,
                len,
                slot,
                discarded: 0,
            })
        }

        /// Drops the pages wholly before byte `upto` of the bytes, once a
        /// megabyte or more of them is mapped past `discarded`.
        pub(super) fn discard_before(&mut self, upto: usize) {
            const STEP: usize = 1 << 20;
            let page = PAGE.load(Ordering::Acquire);
            let end = (self.skip + upto.min(self.len)) / page * page;
            if end < self.discarded + STEP {
                return;
            }
            // SAFETY: `discarded..end` lies inside our live mapping and no
            // borrow of it is alive (`bytes()` borrows `self`, and we have
            // `&mut self`). MADV_DONTNEED only unmaps the range's pages from
            // this process: file pages stay in the page cache and are mapped
            // again by the next read; a zero page placed by the handler
            // becomes a fresh zero page. A file cut meanwhile makes that
            // read fault, which the handler catches as for any read of the
            // mapping, since the mapping stays registered.
            unsafe {
                libc::madvise(
                    (self.base as *mut u8).add(self.discarded).cast(),
                    end - self.discarded,
                    libc::MADV_DONTNEED,
                )
            };
            self.discarded = end;
        }

        pub(super) fn bytes(&self) -> &[u8] {
            // SAFETY: `base + skip .. + len` lies inside the live mapping,
            // which stays mapped (readable, at this address) until `drop`,
            // and the returned borrow cannot outlive `self`. Its pages are
            // file pages or, after a fault, zero pages placed by the
            // handler: always readable, so no read through the slice can
            // fault without being caught. Another process may write the
            // file while we read it; the slice is then read as it changes,
            // which the compiler's assumption of immutable `&[u8]` data
            // cannot turn into unsafety here: callers only feed the bytes to
            // hash functions, whose control flow and memory accesses depend
            // on the slice's length, never on its contents, so a changed
            // byte changes only the digest (which the caller then compares
            // and rejects like any wrong data).
            unsafe { std::slice::from_raw_parts((self.base as *const u8).add(self.skip), self.len) }
        }

        pub(super) fn faulted(&self) -> bool {
            TABLE[self.slot].faulted.load(Ordering::Acquire)
        }
    }

    impl Drop for Inner {
        fn drop(&mut self) {
            let s = &TABLE[self.slot];
            // Stop matching before the range can be reused by another mmap.
            s.end.store(0, Ordering::Release);
            // SAFETY: unmapping our own mapping; no borrow of it is alive
            // (`bytes()` borrows `self`, and we have `&mut self`).
            unsafe { libc::munmap(self.base, self.map_len) };
            s.start.store(0, Ordering::Release);
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(name: &str, bytes: &[u8]) -> (std::path::PathBuf, File) {
        let dir = std::env::temp_dir().join(format!("lt-core-mapped-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join(name);
        let mut f = File::create(&path).expect("create");
        f.write_all(bytes).expect("write");
        drop(f);
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .expect("open");
        (path, f)
    }

    #[test]
    fn maps_any_range() {
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let (path, f) = file_with("range", &data);
        for (off, len) in [
            (0, 20_000),
            (1, 5),
            (4095, 2),
            (4096, 8192),
            (12_345, 7_655),
        ] {
            let m = Mapping::new(&f, off as u64, len).expect("map");
            assert_eq!(m.bytes(), &data[off..off + len], "{off}+{len}");
            assert!(!m.faulted());
        }
        let e = Mapping::new(&f, 19_999, 2).err().expect("past the end");
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        let _ = std::fs::remove_file(path);
    }

    /// Bytes of the mapping mapped into this process (its `Rss` in
    /// /proc/self/smaps; mincore would count page-cache residency instead).
    fn rss_of(m: &Mapping) -> usize {
        let start = m.bytes().as_ptr() as usize & !4095;
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let mut lines = smaps.lines();
        while let Some(l) = lines.next() {
            let range = l.split_whitespace().next().unwrap_or("");
            let lo = range.split('-').next().unwrap_or("");
            if usize::from_str_radix(lo, 16).ok() == Some(start) {
                for l in lines.by_ref() {
                    if let Some(kb) = l.strip_prefix("Rss:") {
                        let kb = kb.trim().trim_end_matches("kB").trim();
                        return kb.parse::<usize>().expect("kB") * 1024;
                    }
                }
            }
        }
        panic!("mapping not in smaps")
    }

    #[test]
    fn reading_front_to_back_keeps_little_mapped() {
        const MIB: usize = 1 << 20;
        let data: Vec<u8> = (0..8 * MIB as u32).map(|i| (i % 253) as u8).collect();
        let (path, f) = file_with("front", &data);
        let mut m = Mapping::new(&f, 0, data.len()).expect("map");
        let chunk = 64 * 1024;
        let mut peak = 0;
        for from in (0..data.len()).step_by(chunk) {
            let got = m.read_at(from, chunk).expect("in range");
            assert_eq!(got, &data[from..from + chunk]);
            peak = peak.max(rss_of(&m));
        }
        assert!(rss_of(&m) > 0);
        assert!(peak <= 2 * MIB + 256 * 1024, "peak {peak} bytes mapped");
        // A range read again after its pages were dropped has the file's bytes.
        assert_eq!(m.read_at(100, 5000).expect("in range"), &data[100..5100]);
        assert_eq!(m.read_at(data.len() - 1, 2), None);
        assert!(!m.faulted());
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn truncation_while_mapped_reads_zeros_and_is_reported() {
        let data = vec![7u8; 3 * 4096];
        let (path, f) = file_with("trunc", &data);
        let m = Mapping::new(&f, 0, data.len()).expect("map");
        let untouched = Mapping::new(&f, 0, 4096).expect("map");
        // Pages past the new end are gone from the file: reading them
        // faults.
        f.set_len(4096).expect("truncate");
        let sum: u64 = m.bytes().iter().map(|&b| u64::from(b)).sum();
        assert_eq!(sum, 7 * 4096, "the pages past the end read as zeros");
        assert!(m.faulted(), "the fault is reported");
        assert!(!untouched.faulted(), "other mappings are not marked");
        drop(m);
        // The slot is free again and a new mapping starts clean.
        let again = Mapping::new(&f, 0, 4096).expect("map");
        assert_eq!(again.bytes(), &data[..4096]);
        assert!(!again.faulted());
        let _ = std::fs::remove_file(path);
    }
}
