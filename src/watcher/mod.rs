//! The one watcher of a process tree: a process of its own, forked at the
//! first checkpoint, with one inotify instance for every watched file.
//!
//! Checkpointing processes share the inotify descriptor (inherited through
//! fork) and add the watch of their file's directory themselves, so the watch
//! exists before the file is read. They then tell the watcher over a
//! `SOCK_SEQPACKET` socket which holder owns which file. Watching directories
//! rather than files sees every way editors save (a rename over the file
//! replaces the inode a file watch would follow) and needs one watch per
//! directory, not per file.

mod event_loop;
pub mod limits;
pub mod protocol;
pub mod watchlist;

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use inotify::{Inotify, WatchMask};
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType};
use nix::unistd::{ForkResult, Pid};

use crate::sys;
use protocol::Registration;
use watchlist::Timing;

/// What a directory watch reports: every step of every save style.
pub fn directory_events() -> WatchMask {
    WatchMask::MODIFY
        | WatchMask::CLOSE_WRITE
        | WatchMask::CREATE
        | WatchMask::MOVED_TO
        | WatchMask::MOVED_FROM
        | WatchMask::DELETE
        | WatchMask::ATTRIB
        | WatchMask::DELETE_SELF
        | WatchMask::MOVE_SELF
        | WatchMask::ONLYDIR
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
}

/// The checkpointing side's handle on the watcher.
pub struct WatcherLink {
    inotify: Inotify,
    socket: OwnedFd,
    pid: Pid,
    /// Directories already watched, with the inode the watch is on:
    /// inotify_add_watch costs much more than a stat, and most files of a
    /// program share a few directories. A directory deleted and made anew
    /// has another inode and is watched again.
    watched_dirs: std::collections::HashMap<Vec<u8>, (i32, (u64, u64))>,
}

impl WatcherLink {
    /// Forks the watcher process. Called once, by the first checkpoint.
    pub fn spawn(timing: Timing) -> Result<WatcherLink, WatchError> {
        let inotify = Inotify::init().map_err(|e| {
            match e.raw_os_error().and_then(limits::inotify_instances) {
                Some(limit) => WatchError::Instances { limit },
                None => WatchError::Inotify(e),
            }
        })?;
        let spawn_error = |e: nix::Error| match limits::descriptors(e as i32)
            .or_else(|| limits::processes(e as i32))
        {
            Some(limit) => WatchError::SpawnLimit { limit },
            None => WatchError::Spawn(e),
        };
        let (ours, theirs) = socket::socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(spawn_error)?;
        let parent = nix::unistd::getpid();
        sys::flush_stdio();
        match sys::fork().map_err(spawn_error)? {
            ForkResult::Child => {
                drop(ours);
                // A panic must not send the watcher back into the program.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    event_loop::run(parent, inotify, theirs, timing)
                }));
                sys::exit_now(1)
            }
            ForkResult::Parent { child } => Ok(WatcherLink {
                inotify,
                socket: ours,
                pid: child,
                watched_dirs: Default::default(),
            }),
        }
    }

    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Adds (or finds) the watch of a directory; returns its descriptor.
    pub fn watch_dir(&mut self, dir: &[u8]) -> Result<i32, WatchError> {
        use std::os::unix::fs::MetadataExt;
        let inode = std::fs::metadata(std::ffi::OsStr::from_bytes(dir))
            .map(|m| (m.dev(), m.ino()))
            .ok();
        match (self.watched_dirs.get(dir), inode) {
            (Some(&(watch, known)), Some(inode)) if known == inode => Ok(watch),
            _ => {
                let watch = self.add_dir_watch(dir)?;
                if let Some(inode) = inode {
                    self.watched_dirs.insert(dir.to_vec(), (watch, inode));
                }
                Ok(watch)
            }
        }
    }

    fn add_dir_watch(&mut self, dir: &[u8]) -> Result<i32, WatchError> {
        let path = std::ffi::OsStr::from_bytes(dir);
        let shown = || crate::log::shown(dir).into_owned();
        match self.inotify.watches().add(path, directory_events()) {
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

    pub fn register(&self, registration: &Registration) -> Result<(), WatchError> {
        let packet = registration.encode();
        loop {
            match socket::send(self.socket.as_raw_fd(), &packet, MsgFlags::empty()) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(WatchError::Unreachable(e)),
                Ok(_) => return Ok(()),
            }
        }
    }
}
