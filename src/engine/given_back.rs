//! What an old run must give back before the new one starts: a socket's
//! address (a server listening on its port), a file's lock (SQLite's, a
//! lock file against a second instance), a device one process has at a time.
//!
//! A resume by the standby does not wait for the killed run to end (its
//! memory takes 15 ms per GB to tear down), and the kernel closes a dying
//! process's descriptors only after its memory is gone: the new run would
//! find the port in use, the lock taken. A program started again by hand
//! would not, since the old one had ended. So the holder waits for the
//! processes of the old run that hold such a thing, until they have closed
//! it. The rest is nobody's alone, and nothing waits for it: pipes, event
//! and timer descriptors, sockets with no address (a connection to a
//! display or sound server, a socket pair), files without a lock, the
//! terminal, and what the new run inherits from the checkpoint as well.

#![forbid(unsafe_code)]

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::unistd::Pid;

use crate::sys::{descriptors, procfs};

/// How long the holder waits for the old run to give back what it holds,
/// before it lets the new run go on beside it (and says so).
pub const WAIT_LIMIT: Duration = Duration::from_secs(5);

/// How often the holder looks again meanwhile.
const POLL: Duration = Duration::from_micros(200);

/// Devices one process at a time may have open: sound cards, cameras,
/// serial lines, raw USB and HID devices.
const EXCLUSIVE_DEVICES: &[&[u8]] = &[
    b"snd/",
    b"video",
    b"ttyS",
    b"ttyUSB",
    b"ttyACM",
    b"hidraw",
    b"bus/usb/",
    b"dsp",
    b"sg",
];

/// What a descriptor leads to, as far as the next run may need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    /// A socket: needed if it listens or has an address.
    Socket,
    /// A regular file (or one of `/dev/shm`): needed if it is locked.
    File,
    /// A device one process at a time may open.
    ExclusiveDevice,
    /// Nobody's alone.
    Shared,
}

impl Held {
    /// The kind of a descriptor leading to `target` (its `/proc` link).
    pub fn of(target: &Path) -> Held {
        let bytes = target.as_os_str().as_bytes();
        if bytes.starts_with(b"socket:") {
            return Held::Socket;
        }
        if bytes.starts_with(b"pipe:") || bytes.starts_with(b"anon_inode:") {
            return Held::Shared;
        }
        if let Some(device) = bytes.strip_prefix(b"/dev/") {
            if device.starts_with(b"shm/") {
                return Held::File;
            }
            return if EXCLUSIVE_DEVICES
                .iter()
                .any(|prefix| device.starts_with(prefix))
            {
                Held::ExclusiveDevice
            } else {
                Held::Shared
            };
        }
        if bytes.starts_with(b"/") {
            Held::File
        } else {
            Held::Shared
        }
    }
}

/// Whether a lock of kind `kind` (as fdinfo names it) on a descriptor
/// stays the next run's too when the descriptor is `inherited`: a flock or
/// OFD lock belongs to the open file, which the checkpoint holds as well; a
/// POSIX (fcntl) lock belongs to the process that took it.
pub fn lock_is_given_back(kind: &str, inherited: bool) -> bool {
    kind == "POSIX" || !inherited
}

/// The holder's view: its own descriptors, to tell what the new run
/// inherits.
pub struct Holder {
    pid: Pid,
    descriptors: Vec<(i32, PathBuf)>,
}

impl Holder {
    pub fn now() -> Holder {
        let pid = nix::unistd::getpid();
        Holder {
            pid,
            descriptors: procfs::descriptors(pid),
        }
    }

    /// Whether descriptor `fd` of `run` (leading to `target`) is one the
    /// holder has too, at the same number: the same open file, inherited.
    fn shares(&self, run: Pid, fd: i32, target: &Path) -> bool {
        self.descriptors
            .iter()
            .any(|(n, t)| *n == fd && t == target)
            && descriptors::same_open_file(run, fd, self.pid, fd).unwrap_or(true)
    }

    /// Whether `run` (a process of the old run) holds something the next
    /// run may need.
    pub fn holds_what_is_needed(&self, run: Pid) -> bool {
        let (thread, listed) = procfs::descriptors_of_any_thread(run);
        listed
            .iter()
            .any(|(fd, target)| self.is_needed(run, thread, *fd, target))
    }

    fn is_needed(&self, run: Pid, thread: Pid, fd: i32, target: &Path) -> bool {
        match Held::of(target) {
            Held::Shared => false,
            Held::ExclusiveDevice => !self.shares(thread, fd, target),
            Held::Socket => {
                !self.shares(thread, fd, target)
                    && procfs::socket_inode(target.as_os_str().as_bytes())
                        .and_then(|inode| procfs::socket_takes_an_address(run, inode))
                        .unwrap_or(true)
            }
            Held::File => {
                let locks = procfs::descriptor_locks(thread, fd);
                !locks.is_empty() && {
                    let inherited = self.shares(thread, fd, target);
                    locks.iter().any(|kind| lock_is_given_back(kind, inherited))
                }
            }
        }
    }
}

/// Waits until no process of `run` holds what the next run may need, for
/// at most [`WAIT_LIMIT`]; returns those still holding it then. A process
/// holds it until it has ended: its descriptors leave `/proc` as it exits,
/// but the kernel releases what they held (a socket's address, a lock) only
/// at the end of the exit, with the work it deferred.
pub fn wait_given_back(run: &[Pid]) -> Vec<Pid> {
    let holder = Holder::now();
    let mut holding: Vec<Pid> = run
        .iter()
        .copied()
        .filter(|pid| holder.holds_what_is_needed(*pid))
        .collect();
    let deadline = Instant::now() + WAIT_LIMIT;
    while !holding.is_empty() && Instant::now() < deadline {
        std::thread::sleep(POLL);
        holding.retain(|pid| !procfs::has_ended(*pid));
    }
    holding
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(target: &str) -> Held {
        Held::of(Path::new(target))
    }

    #[test]
    fn sockets_files_and_private_devices_are_looked_at_the_rest_is_shared() {
        assert_eq!(held("socket:[5154786]"), Held::Socket);
        assert_eq!(held("/home/you/app.db"), Held::File);
        assert_eq!(held("/home/you/log.txt (deleted)"), Held::File);
        assert_eq!(held("/dev/shm/app-cache"), Held::File);
        for device in [
            "/dev/snd/pcmC0D0p",
            "/dev/ttyUSB0",
            "/dev/video0",
            "/dev/hidraw1",
        ] {
            assert_eq!(held(device), Held::ExclusiveDevice, "{device}");
        }
        for shared in [
            "pipe:[5155890]",
            "anon_inode:[eventfd]",
            "anon_inode:inotify",
            "/dev/null",
            "/dev/pts/3",
            "/dev/tty",
            "/dev/dri/renderD128",
            "/dev/input/event3",
        ] {
            assert_eq!(held(shared), Held::Shared, "{shared}");
        }
    }

    #[test]
    fn a_process_lock_is_given_back_an_inherited_open_files_lock_stays() {
        assert!(lock_is_given_back("POSIX", true));
        assert!(lock_is_given_back("POSIX", false));
        assert!(lock_is_given_back("FLOCK", false));
        assert!(lock_is_given_back("OFDLCK", false));
        assert!(!lock_is_given_back("FLOCK", true));
        assert!(!lock_is_given_back("OFDLCK", true));
    }
}
