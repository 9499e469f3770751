//! Whether a descriptor number still holds the open file forkmon made
//! there. A program may close all its descriptors (`close_range(3, ~0U,
//! 0)`) or `dup2` over them, and then get forkmon's numbers for files of
//! its own: forkmon must neither write into them nor take them for its own.
//!
//! A socket has an inode of its own, so its device and inode tell. Every
//! inotify instance shares one anonymous inode: forkmon marks its own with
//! `F_SETSIG` (the signal asynchronous I/O would send, which is never sent
//! without `O_ASYNC`, and which inotify never is here), and asks for the
//! mark too.

use std::os::fd::{AsRawFd, BorrowedFd};

/// The mark forkmon sets on the open file of its inotify instance: a
/// real-time signal number a program is unlikely to pick for `F_SETSIG`.
const MARK: i32 = 61;

/// fcntl commands the libc crate does not name (asm-generic/fcntl.h).
const F_SETSIG: i32 = 10;
const F_GETSIG: i32 = 11;

/// What forkmon recorded of a descriptor it made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    device: u64,
    inode: u64,
    marked: bool,
}

impl Identity {
    /// Of `fd`, just made by forkmon. With `marked`, sets the mark first
    /// (for a file whose inode is shared by every file of its kind).
    pub fn record(fd: BorrowedFd<'_>, marked: bool) -> Option<Identity> {
        if marked && set_signal(fd, MARK).is_none() {
            return None;
        }
        let stat = super::fstat(fd)?;
        Some(Identity {
            device: stat.st_dev,
            inode: stat.st_ino,
            marked,
        })
    }

    /// Whether `fd` still holds the file this identity was recorded of:
    /// two system calls at most, made only where forkmon uses the
    /// descriptor (not per watched file).
    pub fn is_held_by(&self, fd: BorrowedFd<'_>) -> bool {
        let Some(stat) = super::fstat(fd) else {
            return false;
        };
        stat.st_dev == self.device
            && stat.st_ino == self.inode
            && (!self.marked || signal_of(fd) == Some(MARK))
    }
}

/// Marks `fd`, an inotify instance of forkmon's, as forkmon's (see
/// [`is_forkmons`]).
pub fn mark(fd: BorrowedFd<'_>) {
    let _ = set_signal(fd, MARK);
}

/// Whether `fd` holds an open file forkmon marked as its own (its inotify
/// instances): not the program's.
pub fn is_forkmons(fd: BorrowedFd<'_>) -> bool {
    signal_of(fd) == Some(MARK)
}

fn set_signal(fd: BorrowedFd<'_>, signal: i32) -> Option<()> {
    // SAFETY: F_SETSIG only stores a number in the open file; `fd` is
    // borrowed for the call.
    let done = unsafe { libc::fcntl(fd.as_raw_fd(), F_SETSIG, signal) };
    (done == 0).then_some(())
}

fn signal_of(fd: BorrowedFd<'_>) -> Option<i32> {
    // SAFETY: F_GETSIG only reads a number of the open file; `fd` is
    // borrowed for the call.
    let signal = unsafe { libc::fcntl(fd.as_raw_fd(), F_GETSIG) };
    (signal >= 0).then_some(signal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_descriptor_replaced_by_another_file_of_its_kind_is_told_apart() {
        let mine = inotify::Inotify::init().unwrap();
        let theirs = inotify::Inotify::init().unwrap();
        let identity = Identity::record(mine.as_fd(), true).unwrap();
        assert!(identity.is_held_by(mine.as_fd()));
        // Another instance shares the anonymous inode: only the mark tells.
        assert!(!identity.is_held_by(theirs.as_fd()));
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let socket = Identity::record(a.as_fd(), false).unwrap();
        assert!(socket.is_held_by(a.as_fd()));
        assert!(!socket.is_held_by(b.as_fd()));
    }
}
