//! Registrations in memory shared with the watcher. The program appends a
//! record without a system call, and the watcher reads every record before
//! it looks at the file events it has read: a registration matters only
//! once its file changes. (A datagram per watched file made the start-up of
//! an app with 1,000 modules three times slower.)
//!
//! There is one writer at a time: the program process that runs now.
//! Holders write nothing after their fork, a holder kills and reaps the
//! whole old run before it forks the next one, and a copy the program forks
//! by itself makes no checkpoints. A writer killed in the middle of a record
//! never published it, and the next writer starts at the same place.

use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};

use nix::unistd::Pid;

/// Bytes of record data. Pages are made as records reach them (the first
/// ones ahead of time, see `Journal::make_room_ahead`).
const DATA_BYTES: usize = 4 << 20;
const LENGTH_BYTES: usize = 4;
/// A longer record (a 4 KiB path under 256 checkpoints is about 7 KiB)
/// is refused rather than left to wait for room that cannot come.
pub const MAX_RECORD: usize = 64 * 1024;

/// A field on cache lines of its own (two: the processor fetches them in
/// pairs). The program appends while the watcher drains on the other
/// processor: with `written`, `read` and the rest on one line, each side's
/// store took the line from the other, a miss in most of the program's
/// hooks.
#[repr(C, align(128))]
struct OwnLine<T>(T);

impl<T> std::ops::Deref for OwnLine<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

#[repr(C)]
struct Header {
    /// Bytes appended since the start, by the writers.
    written: OwnLine<AtomicU64>,
    /// Bytes consumed since the start, by the watcher.
    read: OwnLine<AtomicU64>,
    /// The watcher is about to sleep without a timeout: the next record
    /// should ring the doorbell.
    asleep: OwnLine<AtomicBool>,
    /// How many directory watches have ended (the directory was deleted or
    /// moved), counted by the watcher: a writer's cache of watched
    /// directories is out of date when this moved.
    watches_ended: AtomicU64,
    /// The watcher's pid once it is forked ([`NO_WATCHER`] if that failed;
    /// 0 until then): a holder takes a resume order only from it.
    watcher: AtomicI32,
    /// A holder took a signal that ends the tree (Ctrl+C, `kill`) since the
    /// last resume: a holder made just after it (the program took the
    /// signal at its checkpoint) ends with its child too.
    ending: AtomicBool,
    /// A copy the program forked by itself read a watched file, and said
    /// so: once per tree.
    forked_read_said: AtomicBool,
    /// Bytes of records the watcher has acted on, their `watch` lines said:
    /// a holder says its program's end after them.
    handled: AtomicU64,
    /// One bit per directory watch (by its descriptor) whose file contents
    /// the watcher has watched since, set once the watch is in place: a
    /// file opened in there afterwards needs no stamp (see
    /// [`Journal::contents_watched`]).
    contents_watched: [AtomicU64; CONTENTS_WORDS],
}

/// Watch descriptors the contents bits cover: inotify numbers its watches
/// from 1, one per directory, so a program would need more directories
/// than this to go past it (a watch past it is taken as unwatched).
const CONTENTS_WORDS: usize = 1024;

/// The header's room: whole pages, ahead of the data.
const HEADER_BYTES: usize = size_of::<Header>().div_ceil(4096) * 4096;

/// What `Header::watcher` holds when the watcher could not be started.
const NO_WATCHER: i32 = -1;

/// Where the watcher process stands, as told by the first holder (which
/// forks it) and by the watcher itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatcherState {
    Starting,
    Running(Pid),
    CouldNotStart,
}

/// The shared mapping; a forked child shares it with its parent.
#[derive(Clone, Copy)]
pub struct Journal {
    header: NonNull<Header>,
    data: NonNull<u8>,
}

// SAFETY: the mapping lives as long as the process (it is never unmapped),
// and every access follows the protocol below: the header only through
// atomics, the data only in the ranges the atomics hand to each side.
unsafe impl Send for Journal {}

/// What an append asks of the writer next.
#[derive(Debug, PartialEq, Eq)]
pub enum Appended {
    /// The record is in; the watcher will read it when it needs it.
    Quietly,
    /// The record is in, and the watcher sleeps: ring its doorbell.
    RingDoorbell,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    #[error("the watcher has not read the records before it")]
    Full,
    #[error("a record of {0} bytes is too long to register")]
    TooLong(usize),
}

impl Journal {
    /// Maps a fresh journal, to be shared by the processes forked after.
    pub fn create() -> nix::Result<Journal> {
        use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};
        let header_bytes = HEADER_BYTES;
        let length = NonZeroUsize::new(header_bytes + DATA_BYTES).ok_or(nix::Error::EINVAL)?;
        // SAFETY: a new anonymous mapping at an address the kernel picks
        // aliases no Rust object; zeroed pages are a valid Header (zero
        // atomics) and valid bytes.
        let base = unsafe {
            mmap_anonymous(
                None,
                length,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED | MapFlags::MAP_NORESERVE,
            )
        }?;
        let base = base.cast::<u8>();
        // SAFETY: header_bytes is inside the mapping just made.
        let data = unsafe { base.add(header_bytes) };
        Ok(Journal {
            header: base.cast(),
            data,
        })
    }

    /// Allocates the pages the next `bytes` of records will take (up to the
    /// end of the data area), without writing them. Called by the first
    /// holder just after its fork, on its own processor: the program,
    /// appending meanwhile, then finds each page there (a fault of about
    /// 1 µs here) instead of having a shared page made for it (about 3 µs,
    /// a quarter of what its 1,000 registrations of an app of many modules
    /// cost). Best effort for the caller: before Linux 5.14 the kernel has
    /// no such advice (EINVAL), and the program makes the pages as before.
    pub fn make_room_ahead(&self, bytes: usize) -> nix::Result<()> {
        let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .and_then(|size| usize::try_from(size).ok())
            .filter(|&size| size > 0)
            .unwrap_or(4096);
        let start = (self.header().written.load(Ordering::Relaxed) % DATA_BYTES as u64) as usize;
        let first = self.data.as_ptr().wrapping_add(start);
        // Back to the page boundary: with pages larger than the header's
        // that is in the header, which the advice leaves as it is too.
        let behind = first as usize % page;
        let length = behind + bytes.min(DATA_BYTES - start);
        let address = NonNull::new(first.wrapping_sub(behind)).ok_or(nix::Error::EINVAL)?;
        // SAFETY: the range lies in the journal's mapping: it starts on the
        // page boundary at or below `first`, which is no lower than the
        // mapping's page-aligned start (the header comes before the data),
        // and ends at most at the end of the data area, the mapping's end.
        // MADV_POPULATE_WRITE only allocates and maps the pages: their
        // contents, which the program may be writing now, stay as they are.
        unsafe {
            nix::sys::mman::madvise(
                address.cast(),
                length,
                nix::sys::mman::MmapAdvise::MADV_POPULATE_WRITE,
            )
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the header is mapped for the life of the process and
        // only accessed through its atomics.
        unsafe { self.header.as_ref() }
    }

    /// Appends one record (the writer side).
    pub fn append(&self, record: &[u8]) -> Result<Appended, AppendError> {
        if record.len() > MAX_RECORD {
            return Err(AppendError::TooLong(record.len()));
        }
        if !self.has_room_for(record.len()) {
            return Err(AppendError::Full);
        }
        let header = self.header();
        let written = header.written.load(Ordering::Relaxed);
        let size = LENGTH_BYTES + record.len();
        let length = (record.len() as u32).to_le_bytes();
        self.copy_in(written, &length);
        self.copy_in(written + LENGTH_BYTES as u64, record);
        // Publishes the bytes above to the watcher.
        header
            .written
            .store(written + size as u64, Ordering::SeqCst);
        // SeqCst pairs with `arm`: either the watcher sees this record
        // before it sleeps, or the writer sees it asleep. Loaded before it
        // is swapped: a swap per record would take the line each time.
        if header.asleep.load(Ordering::SeqCst) && header.asleep.swap(false, Ordering::SeqCst) {
            Ok(Appended::RingDoorbell)
        } else {
            Ok(Appended::Quietly)
        }
    }

    /// Whether the watcher has read everything (the writer side, while it
    /// waits for room).
    pub fn has_room_for(&self, record_len: usize) -> bool {
        let header = self.header();
        let used = header
            .written
            .load(Ordering::Relaxed)
            .wrapping_sub(header.read.load(Ordering::Acquire)) as usize;
        used + LENGTH_BYTES + record_len <= DATA_BYTES
    }

    /// Hands each unread record to `each` and frees its room (the watcher
    /// side); returns how many there were.
    pub fn drain(&self, mut each: impl FnMut(&[u8])) -> usize {
        let header = self.header();
        let written = header.written.load(Ordering::Acquire);
        let mut read = header.read.load(Ordering::Relaxed);
        let mut record = Vec::new();
        let mut count = 0;
        while written.wrapping_sub(read) >= LENGTH_BYTES as u64 {
            let mut length = [0u8; LENGTH_BYTES];
            self.copy_out(read, &mut length);
            let length = u32::from_le_bytes(length) as usize;
            let size = (LENGTH_BYTES + length) as u64;
            if length > MAX_RECORD || written.wrapping_sub(read) < size {
                // Not what a writer writes: skip all that is there.
                read = written;
                break;
            }
            record.resize(length, 0);
            self.copy_out(read + LENGTH_BYTES as u64, &mut record);
            read += size;
            each(&record);
            count += 1;
        }
        header.read.store(read, Ordering::Release);
        count
    }

    /// The watcher is about to sleep without a timeout; returns false if a
    /// record came meanwhile (then it must not sleep).
    pub fn arm(&self) -> bool {
        let header = self.header();
        header.asleep.store(true, Ordering::SeqCst);
        let idle = header.written.load(Ordering::SeqCst) == header.read.load(Ordering::Relaxed);
        if !idle {
            header.asleep.store(false, Ordering::SeqCst);
        }
        idle
    }

    /// A directory watch ended (the watcher side).
    pub fn note_watch_ended(&self) {
        self.header().watches_ended.fetch_add(1, Ordering::SeqCst);
    }

    /// The watcher watches the file contents of directory watch `watch`
    /// now (`true`), or that watch has ended (`false`). Set only once the
    /// kernel has the watch: a program that sees the bit before its open
    /// knows any later write there is reported.
    pub fn set_contents_watched(&self, watch: i32, watched: bool) {
        let Some((word, bit)) = contents_bit(watch) else {
            return;
        };
        let word = &self.header().contents_watched[word];
        if watched {
            word.fetch_or(bit, Ordering::Release);
        } else {
            word.fetch_and(!bit, Ordering::Release);
        }
    }

    /// Whether the file contents of directory watch `watch` are watched:
    /// then an edit of a file opened there from now on makes an event, and
    /// its registration needs no stamp (an `fstat` per file read, a twentieth
    /// of what a module of one line costs Lua to load).
    pub fn contents_watched(&self, watch: i32) -> bool {
        contents_bit(watch).is_some_and(|(word, bit)| {
            self.header().contents_watched[word].load(Ordering::Acquire) & bit != 0
        })
    }

    /// How many directory watches have ended so far.
    pub fn watches_ended(&self) -> u64 {
        self.header().watches_ended.load(Ordering::SeqCst)
    }

    /// Tells every process of the tree the watcher's pid (`Some`) or that it
    /// could not be started (`None`).
    pub fn set_watcher(&self, watcher: Option<Pid>) {
        let value = watcher.map_or(NO_WATCHER, Pid::as_raw);
        self.header().watcher.store(value, Ordering::SeqCst);
    }

    /// Says whether the tree is ending (see `Header::ending`).
    pub fn set_ending(&self, ending: bool) {
        self.header().ending.store(ending, Ordering::SeqCst);
    }

    /// Whether this process is the first of the tree to tell that a copy
    /// the program forked read a watched file.
    pub fn first_to_tell_forked_read(&self) -> bool {
        !self.header().forked_read_said.swap(true, Ordering::SeqCst)
    }

    /// The watcher has acted on every record drained so far.
    pub fn mark_handled(&self) {
        let header = self.header();
        let read = header.read.load(Ordering::Acquire);
        header.handled.store(read, Ordering::Release);
    }

    /// Waits, up to `limit`, until the watcher has acted on every record
    /// written so far: a program that reads a file and ends at once has
    /// its `watch` line said before its end.
    pub fn wait_handled(&self, limit: std::time::Duration) {
        let header = self.header();
        let written = header.written.load(Ordering::Acquire);
        let until = std::time::Instant::now() + limit;
        while (written.wrapping_sub(header.handled.load(Ordering::Acquire)) as i64) > 0
            && std::time::Instant::now() < until
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    pub fn is_ending(&self) -> bool {
        self.header().ending.load(Ordering::SeqCst)
    }

    pub fn watcher(&self) -> WatcherState {
        match self.header().watcher.load(Ordering::SeqCst) {
            0 => WatcherState::Starting,
            NO_WATCHER => WatcherState::CouldNotStart,
            pid => WatcherState::Running(Pid::from_raw(pid)),
        }
    }

    /// The watcher is awake: records need no doorbell.
    pub fn disarm(&self) {
        self.header().asleep.store(false, Ordering::SeqCst);
    }

    fn copy_in(&self, offset: u64, bytes: &[u8]) {
        let start = (offset % DATA_BYTES as u64) as usize;
        let first = bytes.len().min(DATA_BYTES - start);
        // SAFETY: both ranges lie inside the data area (start < DATA_BYTES,
        // first ≤ DATA_BYTES - start, the rest wraps to 0 and is shorter
        // than a record ≤ MAX_RECORD < DATA_BYTES). They are free room: the
        // watcher reads only below `written`, which this writer alone moves,
        // after these bytes are in.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.data.as_ptr().add(start), first);
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr().add(first),
                self.data.as_ptr(),
                bytes.len() - first,
            );
        }
    }

    fn copy_out(&self, offset: u64, bytes: &mut [u8]) {
        let start = (offset % DATA_BYTES as u64) as usize;
        let first = bytes.len().min(DATA_BYTES - start);
        // SAFETY: inside the data area as in copy_in; these bytes were
        // published by a store of `written` this side loaded with Acquire,
        // and no writer touches them until `read` moves past them.
        unsafe {
            std::ptr::copy_nonoverlapping(self.data.as_ptr().add(start), bytes.as_mut_ptr(), first);
            std::ptr::copy_nonoverlapping(
                self.data.as_ptr(),
                bytes.as_mut_ptr().add(first),
                bytes.len() - first,
            );
        }
    }
}

/// Where watch `watch`'s bit is: its word and the bit in it.
fn contents_bit(watch: i32) -> Option<(usize, u64)> {
    let watch = usize::try_from(watch).ok()?;
    (watch < CONTENTS_WORDS * 64).then(|| (watch / 64, 1u64 << (watch % 64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_watch_is_told_as_watched_from_when_it_is_set_until_it_ends() {
        let journal = Journal::create().expect("map");
        for watch in [1, 63, 64, 65_535] {
            assert!(!journal.contents_watched(watch));
            journal.set_contents_watched(watch, true);
            assert!(journal.contents_watched(watch), "{watch}");
        }
        journal.set_contents_watched(64, false);
        assert!(!journal.contents_watched(64));
        assert!(journal.contents_watched(63) && journal.contents_watched(65_535));
        // Past the bits, or not a watch: never taken as watched.
        for watch in [65_536, -1, i32::MAX] {
            journal.set_contents_watched(watch, true);
            assert!(!journal.contents_watched(watch), "{watch}");
        }
    }

    #[test]
    fn records_come_out_in_order_across_the_wrap() {
        let journal = Journal::create().expect("map");
        let record = vec![7u8; 1000];
        let mut total = 0;
        // Several times the data area, so the offsets wrap.
        for round in 0..20u8 {
            let mut sent = 0;
            for i in 0..1000usize {
                let mut r = record.clone();
                r[0] = round;
                r[1] = (i % 251) as u8;
                if journal.append(&r).is_err() {
                    break;
                }
                sent += 1;
            }
            let mut seen = 0;
            journal.drain(|r| {
                assert_eq!(r.len(), 1000);
                assert_eq!(r[0], round);
                assert_eq!(r[1], (seen % 251) as u8);
                seen += 1;
            });
            assert_eq!(seen, sent);
            total += seen;
        }
        assert!(total * 1004 > 2 * DATA_BYTES, "the offsets wrapped");
    }

    #[test]
    fn a_full_journal_refuses_until_drained() {
        let journal = Journal::create().expect("map");
        let record = vec![1u8; MAX_RECORD];
        let mut appended = 0;
        while journal.append(&record).is_ok() {
            appended += 1;
        }
        assert_eq!(appended, DATA_BYTES / (MAX_RECORD + LENGTH_BYTES));
        assert_eq!(journal.append(&record), Err(AppendError::Full));
        assert!(!journal.has_room_for(record.len()));
        assert_eq!(journal.drain(|_| {}), appended);
        assert!(journal.has_room_for(record.len()));
        assert_eq!(
            journal.append(&vec![0; MAX_RECORD + 1]),
            Err(AppendError::TooLong(MAX_RECORD + 1))
        );
    }

    #[test]
    fn a_sleeping_watcher_gets_exactly_one_doorbell() {
        let journal = Journal::create().expect("map");
        assert!(journal.arm());
        assert_eq!(journal.append(b"a"), Ok(Appended::RingDoorbell));
        assert_eq!(journal.append(b"b"), Ok(Appended::Quietly));
        // Records wait: the watcher must not sleep.
        assert!(!journal.arm());
        assert_eq!(journal.append(b"c"), Ok(Appended::Quietly));
        journal.drain(|_| {});
        journal.disarm();
        assert_eq!(journal.append(b"d"), Ok(Appended::Quietly));
    }

    #[test]
    fn the_watcher_state_is_shared_with_forked_processes() {
        let journal = Journal::create().expect("map");
        assert_eq!(journal.watcher(), WatcherState::Starting);
        // SAFETY: the child only writes to the journal and exits at once.
        match unsafe { nix::unistd::fork() }.expect("fork") {
            nix::unistd::ForkResult::Child => {
                journal.set_watcher(Some(Pid::from_raw(4242)));
                crate::sys::exit_now(0);
            }
            nix::unistd::ForkResult::Parent { child } => {
                nix::sys::wait::waitpid(child, None).expect("wait");
            }
        }
        assert_eq!(
            journal.watcher(),
            WatcherState::Running(Pid::from_raw(4242))
        );
        journal.set_watcher(None);
        assert_eq!(journal.watcher(), WatcherState::CouldNotStart);
    }

    /// Whether every page of `bytes` bytes of the data area from `from` is
    /// in memory.
    fn is_resident(journal: &Journal, from: usize, bytes: usize) -> bool {
        let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .expect("sysconf")
            .expect("a page size") as usize;
        let first = journal.data.as_ptr().wrapping_add(from);
        let behind = first as usize % page;
        let pages = (behind + bytes).div_ceil(page);
        let mut status = vec![0u8; pages];
        // SAFETY: the range starts on a page boundary inside the mapping
        // (no lower than its page-aligned start) and ends inside it.
        let result = unsafe {
            libc::mincore(
                first.wrapping_sub(behind).cast(),
                pages * page,
                status.as_mut_ptr(),
            )
        };
        assert_eq!(result, 0, "mincore");
        status.iter().all(|&s| s & 1 == 1)
    }

    #[test]
    fn room_made_ahead_is_in_memory_and_changes_no_record() {
        let journal = Journal::create().expect("map");
        journal.append(b"before").expect("room");
        match journal.make_room_ahead(64 << 10) {
            // A kernel before 5.14: nothing to test.
            Err(nix::Error::EINVAL) => return,
            result => result.expect("madvise"),
        }
        assert!(is_resident(&journal, 0, 64 << 10));
        journal.append(b"after").expect("room");
        let mut records = Vec::new();
        journal.drain(|r| records.push(r.to_vec()));
        assert_eq!(records, vec![b"before".to_vec(), b"after".to_vec()]);
        // Near the end of the data area: only what is left of it (beyond
        // the mapping, the kernel would answer ENOMEM).
        let record = vec![3u8; MAX_RECORD - LENGTH_BYTES];
        for _ in 0..DATA_BYTES / MAX_RECORD - 1 {
            journal.append(&record).expect("room after a drain");
            journal.drain(|_| {});
        }
        let position = journal.header().written.load(Ordering::Relaxed) as usize % DATA_BYTES;
        assert!(position > DATA_BYTES - MAX_RECORD, "at {position}");
        journal.make_room_ahead(1 << 20).expect("madvise");
    }

    #[test]
    fn the_child_of_a_fork_writes_to_the_same_journal() {
        let journal = Journal::create().expect("map");
        journal.append(b"parent").expect("room");
        // SAFETY: the child only appends and exits at once.
        match unsafe { nix::unistd::fork() }.expect("fork") {
            nix::unistd::ForkResult::Child => {
                let _ = journal.append(b"child");
                crate::sys::exit_now(0);
            }
            nix::unistd::ForkResult::Parent { child } => {
                nix::sys::wait::waitpid(child, None).expect("wait");
            }
        }
        let mut records = Vec::new();
        journal.drain(|r| records.push(r.to_vec()));
        assert_eq!(records, vec![b"parent".to_vec(), b"child".to_vec()]);
    }
}
