//! The channel between the program's processes and the watcher: what they
//! share (one inotify instance, a socket pair, the [`journal`] in shared
//! memory), what a registration says ([`protocol`]), and the kernel limits
//! that setting it up can hit ([`limits`]). Both sides use it; neither
//! side's logic lives here.
//!
//! Checkpointing processes share the inotify descriptor (inherited through
//! fork) and add the watch of their file's directory themselves, so the watch
//! exists before the file is read. They then tell the watcher which holder
//! owns which file through a [`journal`] in shared memory; a
//! `SOCK_SEQPACKET` socket wakes the watcher, and its end tells the watcher
//! that the program is gone. Watching directories
//! rather than files sees every way editors save (a rename over the file
//! replaces the inode a file watch would follow) and needs one watch per
//! directory, not per file.

pub mod journal;
pub mod limits;
pub mod protocol;
pub mod resume_order;

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use inotify::{Inotify, WatchMask};
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType};
use nix::unistd::{ForkResult, Pid};

use crate::sys;
use crate::sys::identity::Identity;
use journal::{AppendError, Appended, Journal, WatcherState};
use protocol::Message;

/// How the watcher settles a save (fixed when it starts).
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub restart_delay: Duration,
    pub ignore_delay: Duration,
    /// How long a writer may keep a changed file open before the change is
    /// taken as it is.
    pub writer_wait: Duration,
}

/// What a directory watch reports: every step of every save style.
pub fn directory_events() -> WatchMask {
    directory_entry_events() | WatchMask::MODIFY | WatchMask::CLOSE_WRITE | WatchMask::ATTRIB
}

/// What a checkpointing process watches a new directory for: names coming
/// and going, not file contents (see `event_loop::watch_contents`). Added to
/// what the watch had, so it never takes the contents back.
pub fn directory_entry_events() -> WatchMask {
    WatchMask::CREATE
        | WatchMask::MOVED_TO
        | WatchMask::MOVED_FROM
        | WatchMask::DELETE
        | WatchMask::DELETE_SELF
        | WatchMask::MOVE_SELF
        | WatchMask::ONLYDIR
        | WatchMask::MASK_ADD
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// A kernel limit, with how to raise it ([`limits`]).
    #[error("cannot start inotify: {limit}")]
    Instances { limit: String },
    #[error("cannot watch '{dir}': {limit}")]
    Watches { dir: String, limit: String },
    #[error("cannot start the watcher process: {limit}")]
    SpawnLimit { limit: String },
    #[error("cannot watch '{dir}': {source}")]
    Watch { dir: String, source: io::Error },
    #[error("cannot start inotify: {0}")]
    Inotify(io::Error),
    #[error("cannot start the watcher process: {0}")]
    Spawn(nix::Error),
    #[error("cannot reach the watcher process: {0}")]
    Unreachable(nix::Error),
    #[error("cannot share memory with the watcher process: {0}")]
    Journal(nix::Error),
    #[error("cannot register with the watcher: {0}")]
    Register(AppendError),
    /// Said by the first holder, when its fork failed.
    #[error("the watcher process could not be started")]
    NotStarted,
    #[error("the first holder did not start the watcher process within 2 s")]
    StartTimedOut,
    /// The program closed forkmon's descriptor, or put a file of its own
    /// at its number (see [`sys::identity`]).
    #[error("the program closed or replaced descriptor {fd}, forkmon's {what}")]
    Replaced { fd: i32, what: &'static str },
}

/// How long a later checkpoint waits for the first holder to fork the
/// watcher, at most (it takes well under a millisecond).
const STARTED_WAIT_MILLIS: u32 = 2_000;

fn spawn_error(error: nix::Error) -> WatchError {
    match limits::descriptors(error as i32).or_else(|| limits::processes(error as i32)) {
        Some(limit) => WatchError::SpawnLimit { limit },
        None => WatchError::Spawn(error),
    }
}

/// The watcher process's body (`watcher::run`), handed in by the engine so
/// that this room does not depend on the watcher's: it gets the first
/// holder's pid and the watcher's ends of what they share.
pub type WatcherMain = fn(Pid, &mut Inotify, &OwnedFd, Journal, Timing) -> !;

/// The checkpointing side's handle on the watcher.
pub struct WatcherLink {
    inotify: Inotify,
    socket: OwnedFd,
    /// What `inotify` and `socket` were when made: checked before each use,
    /// as the program may have closed or replaced them.
    inotify_identity: Identity,
    socket_identity: Identity,
    /// The watcher's end of the socket, until the first holder hands it to
    /// the watcher it forks.
    watcher_end: Option<OwnedFd>,
    journal: Journal,
    timing: Timing,
    /// Reused for each record: no allocation per watched file.
    record: Vec<u8>,
    /// Directories already watched: inotify_add_watch (or even a stat)
    /// per file is a measurable part of start-up, and most files of a
    /// program share a few directories. The watcher counts the watches that
    /// end (a directory deleted or moved away); when that count moves, the
    /// cache is dropped, so a directory made anew is watched again.
    watched_dirs: rustc_hash::FxHashMap<Vec<u8>, i32>,
    /// The directory asked for last, and its watch: a program's files
    /// come in runs from one directory, and comparing a few bytes costs
    /// less than hashing them into the map above twice per file read.
    last_dir: Vec<u8>,
    last_watch: Option<i32>,
    watches_ended: u64,
}

impl WatcherLink {
    /// Makes what the program and the watcher share, at the first
    /// checkpoint. The watcher itself is forked later by the first holder
    /// ([`WatcherLink::start`]): its fork then costs the program nothing.
    pub fn prepare(timing: Timing) -> Result<WatcherLink, WatchError> {
        let inotify = Inotify::init().map_err(|e| {
            match e.raw_os_error().and_then(limits::inotify_instances) {
                Some(limit) => WatchError::Instances { limit },
                None => WatchError::Inotify(e),
            }
        })?;
        let inotify = Inotify::from(sys::above_standard_streams(inotify.into()));
        let (ours, theirs) = socket::socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(spawn_error)?;
        let (ours, theirs) = (
            sys::above_standard_streams(ours),
            sys::above_standard_streams(theirs),
        );
        let journal = Journal::create().map_err(WatchError::Journal)?;
        let unknown = || WatchError::Inotify(io::Error::last_os_error());
        let inotify_identity = Identity::record(inotify.as_fd(), true).ok_or_else(unknown)?;
        let socket_identity = Identity::record(ours.as_fd(), false).ok_or_else(unknown)?;
        Ok(WatcherLink {
            inotify,
            socket: ours,
            inotify_identity,
            socket_identity,
            watcher_end: Some(theirs),
            journal,
            timing,
            record: Vec::new(),
            watched_dirs: Default::default(),
            last_dir: Vec::new(),
            last_watch: None,
            watches_ended: 0,
        })
    }

    /// In the program, after the first checkpoint's fork: only the watcher
    /// may hold its end of the socket, or the program would not see the
    /// watcher end.
    pub fn leave_watcher_end(&mut self) {
        self.watcher_end = None;
    }

    /// Whether this process is to fork the watcher (the first holder).
    pub fn is_to_be_started(&self) -> bool {
        self.watcher_end.is_some()
    }

    /// In the first holder, just after the first checkpoint's fork: forks
    /// the watcher, and tells the tree its pid (or that it could not be
    /// started). Once only; returns the watcher's pid.
    pub fn start(&mut self, watcher_main: WatcherMain) -> Result<Pid, WatchError> {
        let Some(watcher_end) = self.watcher_end.take() else {
            return match self.journal.watcher() {
                WatcherState::Running(pid) => Ok(pid),
                _ => Err(WatchError::NotStarted),
            };
        };
        let holder = nix::unistd::getpid();
        sys::flush_stdio();
        // SAFETY: the first holder is a copy of the program at a checkpoint,
        // which the engine made only while it had one thread.
        match unsafe { sys::fork() } {
            Ok(ForkResult::Child) => {
                // The watcher keeps only its own end: when every process of
                // the program has closed the other one, the program is gone.
                let program_end = std::mem::replace(&mut self.socket, watcher_end);
                drop(program_end);
                // A panic must not send the watcher back into the holder.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    watcher_main(
                        holder,
                        &mut self.inotify,
                        &self.socket,
                        self.journal,
                        self.timing,
                    )
                }));
                sys::exit_now(1)
            }
            Ok(ForkResult::Parent { child }) => {
                self.journal.set_watcher(Some(child));
                Ok(child)
            }
            Err(error) => {
                self.journal.set_watcher(None);
                Err(spawn_error(error))
            }
        }
    }

    /// Waits (at a later checkpoint, which is rare) until the first holder
    /// has forked the watcher: a checkpoint with no watcher to resume it
    /// would only cost its fork.
    pub fn wait_started(&self) -> Result<(), WatchError> {
        for _ in 0..STARTED_WAIT_MILLIS {
            match self.journal.watcher() {
                WatcherState::Running(_) => return Ok(()),
                WatcherState::CouldNotStart => return Err(WatchError::NotStarted),
                WatcherState::Starting => std::thread::sleep(std::time::Duration::from_millis(1)),
            }
        }
        Err(WatchError::StartTimedOut)
    }

    /// forkmon's own descriptors in the program: its inotify instance, its
    /// end of the socket and, until the watcher has it, the watcher's.
    pub fn own_descriptors(&self) -> Vec<i32> {
        let mut own = vec![self.inotify.as_fd().as_raw_fd(), self.socket.as_raw_fd()];
        own.extend(self.watcher_end.as_ref().map(|end| end.as_raw_fd()));
        own
    }

    /// The memory shared with the watcher (its pid is read there).
    pub fn journal(&self) -> Journal {
        self.journal
    }

    /// Adds (or finds) the watch of a directory; returns its descriptor.
    pub fn watch_dir(&mut self, dir: &[u8]) -> Result<i32, WatchError> {
        if let Some(watch) = self.known_dir_watch(dir) {
            return Ok(watch);
        }
        let watch = self.add_dir_watch(dir)?;
        self.watched_dirs.insert(dir.to_vec(), watch);
        self.remember_last(dir, watch);
        Ok(watch)
    }

    /// The watch of directory `dir`, if this process added it and it has
    /// not ended since.
    pub fn known_dir_watch(&mut self, dir: &[u8]) -> Option<i32> {
        let ended = self.journal.watches_ended();
        if ended != self.watches_ended {
            self.watched_dirs.clear();
            self.last_watch = None;
            self.watches_ended = ended;
        }
        if self.last_watch.is_some() && self.last_dir == dir {
            return self.last_watch;
        }
        let watch = self.watched_dirs.get(dir).copied()?;
        self.remember_last(dir, watch);
        Some(watch)
    }

    fn remember_last(&mut self, dir: &[u8], watch: i32) {
        self.last_dir.clear();
        self.last_dir.extend_from_slice(dir);
        self.last_watch = Some(watch);
    }

    /// Whether the watcher watches the file contents of directory watch
    /// `watch` (see [`Journal::contents_watched`]).
    pub fn contents_watched(&self, watch: i32) -> bool {
        self.journal.contents_watched(watch)
    }

    /// Has the watch of `dir` report file contents too, at once (the watcher
    /// adds them only once the program's burst of reads is over).
    pub fn watch_contents(&mut self, dir: &[u8]) -> Result<i32, WatchError> {
        self.add_watch(dir, directory_events())
    }

    fn add_dir_watch(&mut self, dir: &[u8]) -> Result<i32, WatchError> {
        self.add_watch(dir, directory_entry_events())
    }

    fn add_watch(&mut self, dir: &[u8], mask: WatchMask) -> Result<i32, WatchError> {
        let path = std::ffi::OsStr::from_bytes(dir);
        let shown = || crate::log::shown(dir).into_owned();
        // A watch added to the program's own inotify instance would send it
        // events it never asked for.
        if !self.inotify_identity.is_held_by(self.inotify.as_fd()) {
            return Err(WatchError::Replaced {
                fd: self.inotify.as_fd().as_raw_fd(),
                what: "inotify instance",
            });
        }
        match self.inotify.watches().add(path, mask) {
            Ok(watch) => Ok(watch.get_watch_descriptor_id()),
            Err(source) => match source.raw_os_error().and_then(limits::inotify_watches) {
                Some(limit) => Err(WatchError::Watches {
                    dir: shown(),
                    limit,
                }),
                None => Err(WatchError::Watch {
                    dir: shown(),
                    source,
                }),
            },
        }
    }

    /// Tells the watcher: appends to the journal, and wakes the watcher if
    /// it sleeps. If the watcher has not caught up, waits for it (rings, and
    /// looks again every millisecond), for at most 10 s.
    pub fn register(&mut self, message: &Message) -> Result<(), WatchError> {
        if self.journal.watcher() == WatcherState::CouldNotStart {
            return Err(WatchError::NotStarted);
        }
        message.encode_into(&mut self.record);
        let mut waited = 0;
        loop {
            match self.journal.append(&self.record) {
                Ok(Appended::Quietly) => return Ok(()),
                Ok(Appended::RingDoorbell) => return self.ring(),
                Err(AppendError::Full) if waited < 10_000 => {
                    self.ring()?;
                    while !self.journal.has_room_for(self.record.len()) && waited < 10_000 {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                        waited += 1;
                    }
                }
                Err(error) => return Err(WatchError::Register(error)),
            }
        }
    }

    /// Appends to the journal without waking the watcher (it reads the
    /// record when it next wakes), for a record that takes back one whose
    /// doorbell could not be rung.
    pub fn append_quietly(&mut self, message: &Message) {
        message.encode_into(&mut self.record);
        let _ = self.journal.append(&self.record);
    }

    /// Wakes the watcher: any datagram does. A full socket buffer means a
    /// wake-up is pending anyway.
    fn ring(&self) -> Result<(), WatchError> {
        // Not a byte into a socket of the program's.
        if !self.socket_identity.is_held_by(self.socket.as_fd()) {
            return Err(WatchError::Replaced {
                fd: self.socket.as_raw_fd(),
                what: "socket to its watcher",
            });
        }
        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
        loop {
            match socket::send(self.socket.as_raw_fd(), &[0], flags) {
                Err(nix::errno::Errno::EINTR) => continue,
                Ok(_) | Err(nix::errno::Errno::EAGAIN) => return Ok(()),
                Err(e) => return Err(WatchError::Unreachable(e)),
            }
        }
    }
}
