//! What the runs from one checkpoint share through the descriptors a fork
//! passes on: an open file's offset and status flags are the open file's,
//! not the process's, so each run would find them as the run before it
//! left them. A run from a checkpoint starts where the program was then:
//! the offsets of the files it had open for reading are set back (a file
//! on stdin is read again from where the checkpoint was), and so are the
//! status flags of its standard descriptors (`O_NONBLOCK` set on the
//! terminal by a killed run). Event descriptors cannot be set back: that
//! the program has one at a checkpoint is said once (an eventfd's count
//! is input waiting, see `shared_input`).

#![forbid(unsafe_code)]

use crate::sys::descriptors;

/// The program's descriptors as a checkpoint found them.
pub struct SharedDescriptors {
    /// Regular files open read-only, and where each was in its file.
    offsets: Vec<(i32, i64)>,
    /// The status flags of descriptors 0 to 2.
    standard_flags: Vec<(i32, i32)>,
}

/// An event descriptor the runs share with their checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Epoll,
    Inotify,
    Signalfd,
    Timerfd,
    IoUring,
    Fanotify,
    Userfaultfd,
}

impl EventKind {
    /// The kind of a descriptor that leads to `target` (`anon_inode:...`).
    fn of(target: &[u8]) -> Option<EventKind> {
        match target {
            b"anon_inode:[eventpoll]" => Some(EventKind::Epoll),
            b"anon_inode:inotify" => Some(EventKind::Inotify),
            b"anon_inode:[signalfd]" => Some(EventKind::Signalfd),
            b"anon_inode:[timerfd]" => Some(EventKind::Timerfd),
            b"anon_inode:[io_uring]" => Some(EventKind::IoUring),
            b"anon_inode:[fanotify]" => Some(EventKind::Fanotify),
            b"anon_inode:[userfaultfd]" => Some(EventKind::Userfaultfd),
            _ => None,
        }
    }

    /// What each run finds in it, said with the descriptor's number.
    pub fn describe(self, fd: i32, path: &str) -> String {
        let (what, found) = match self {
            EventKind::Epoll => (
                "an epoll instance",
                "the descriptors the runs before it added (epoll_ctl ADD fails with EEXIST)",
            ),
            EventKind::Inotify => (
                "an inotify instance",
                "the watches the runs before it added, and the events they left unread",
            ),
            EventKind::Signalfd => (
                "a signalfd",
                "an epoll set that holds it wakes for the checkpoint's signals, not the run's",
            ),
            EventKind::Timerfd => ("a timerfd", "the timer as the run before it set it"),
            EventKind::IoUring => (
                "an io_uring instance",
                "its rings as the runs before it advanced them",
            ),
            EventKind::Fanotify => (
                "a fanotify instance",
                "the marks the runs before it added, and the events they left unread",
            ),
            EventKind::Userfaultfd => (
                "a userfaultfd",
                "the ranges and events the runs before it left there",
            ),
        };
        format!(
            "the program has {what} (descriptor {fd}) at the checkpoint of '{path}': a fork \
             shares it, so each run from this checkpoint finds {found}, not what the program \
             had at the checkpoint; make it after the watched files are read"
        )
    }
}

impl SharedDescriptors {
    /// Reads them in the program, just before a checkpoint's fork, of what
    /// it has `open` (`procfs::descriptors`); with the event descriptors the
    /// program has (not forkmon's own).
    pub fn read(open: &[(i32, std::path::PathBuf)]) -> (SharedDescriptors, Vec<(i32, EventKind)>) {
        let mut offsets = Vec::new();
        let mut events = Vec::new();
        for &(fd, ref target) in open {
            use std::os::unix::ffi::OsStrExt;
            if let Some(kind) = EventKind::of(target.as_os_str().as_bytes()) {
                if !descriptors::is_forkmons(fd) {
                    events.push((fd, kind));
                }
                continue;
            }
            let read_only = descriptors::status_flags(fd)
                .is_some_and(|flags| flags & libc::O_ACCMODE == libc::O_RDONLY);
            if read_only
                && descriptors::is_regular_file(fd)
                && let Some(offset) = descriptors::offset(fd)
            {
                offsets.push((fd, offset));
            }
        }
        let standard_flags = (0..=2)
            .filter_map(|fd| Some((fd, descriptors::status_flags(fd)?)))
            .collect();
        let shared = SharedDescriptors {
            offsets,
            standard_flags,
        };
        (shared, events)
    }

    /// Sets them back, in the holder, before a run resumes from it (the old
    /// run does not run its code any more).
    pub fn restore(&self) {
        for &(fd, offset) in &self.offsets {
            if descriptors::offset(fd) != Some(offset) {
                descriptors::seek(fd, offset);
            }
        }
        for &(fd, flags) in &self.standard_flags {
            if descriptors::status_flags(fd) != Some(flags) {
                descriptors::set_status_flags(fd, flags);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_descriptors_a_fork_shares_are_told_by_their_link() {
        for (target, kind) in [
            (&b"anon_inode:[eventpoll]"[..], EventKind::Epoll),
            (b"anon_inode:inotify", EventKind::Inotify),
            (b"anon_inode:[signalfd]", EventKind::Signalfd),
            (b"anon_inode:[timerfd]", EventKind::Timerfd),
            (b"anon_inode:[io_uring]", EventKind::IoUring),
            (b"anon_inode:[fanotify]", EventKind::Fanotify),
            (b"anon_inode:[userfaultfd]", EventKind::Userfaultfd),
        ] {
            assert_eq!(EventKind::of(target), Some(kind));
        }
        // An eventfd's count is input waiting (`shared_input`); a pidfd
        // holds nothing a run changes.
        assert_eq!(EventKind::of(b"anon_inode:[eventfd]"), None);
        assert_eq!(EventKind::of(b"anon_inode:[pidfd]"), None);
        assert_eq!(EventKind::of(b"/dev/pts/0"), None);
    }
}
