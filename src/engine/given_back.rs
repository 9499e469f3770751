//! What an old run must give back before the new one starts: a socket's
//! address (a server listening on its port), a file's lock (SQLite's, a
//! lock file against a second instance), a device one process has at a time.
//!
//! A resume by the standby does not wait for the killed run to end (its
//! memory takes 15 ms per GB to tear down), and the kernel closes a dying
//! process's descriptors only after its memory is gone: the new run would
//! find the port in use, the lock taken. A program started again by hand
//! would not, since the old one had ended. So the holder waits for the
//! processes of the old run that hold such a descriptor, one the holder
//! does not hold itself (the new run has that one too), until they have
//! closed them. Pipes, event and timer descriptors, files without a lock
//! and the terminal are nobody's alone: for them nothing waits.

#![forbid(unsafe_code)]

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::unistd::Pid;

use crate::sys::procfs;

/// How long the holder waits for the old run to give back what it holds,
/// before it lets the new run go on beside it (and says so).
pub const WAIT_LIMIT: Duration = Duration::from_secs(5);

/// How often the holder looks again meanwhile.
const POLL: Duration = Duration::from_micros(200);

/// Devices any number of processes may have open.
const SHARED_DEVICES: &[&[u8]] = &[
    b"null", b"zero", b"full", b"random", b"urandom", b"tty", b"ptmx", b"console",
];

/// Whether a descriptor leading to `target` (its `/proc/PID/fd` link) may
/// hold something the next run needs for itself; `locked` tells whether it
/// holds a lock, asked only of files.
pub fn may_be_needed(target: &Path, locked: impl FnOnce() -> bool) -> bool {
    let bytes = target.as_os_str().as_bytes();
    if bytes.starts_with(b"socket:") {
        return true;
    }
    if bytes.starts_with(b"pipe:") || bytes.starts_with(b"anon_inode:") {
        return false;
    }
    if let Some(device) = bytes.strip_prefix(b"/dev/") {
        let shared = SHARED_DEVICES.contains(&device)
            || device.starts_with(b"pts/")
            || device.starts_with(b"tty") && device[3..].iter().all(u8::is_ascii_digit);
        return !shared;
    }
    locked()
}

/// Whether `run` (a process of the old run) holds a descriptor that may be
/// needed and that is not one of `own` (the holder's, by number and target:
/// inherited, so the new run holds it too).
pub fn holds_what_is_needed(run: Pid, own: &[(i32, PathBuf)]) -> bool {
    procfs::descriptors(run).into_iter().any(|(fd, target)| {
        !own.iter().any(|(n, t)| *n == fd && *t == target)
            && may_be_needed(&target, || procfs::descriptor_holds_lock(run, fd))
    })
}

/// Waits until no process of `run` holds a descriptor that the next run
/// may need (they have ended, or closed it), for at most [`WAIT_LIMIT`].
/// Returns those still holding one then.
pub fn wait_given_back(run: &[Pid]) -> Vec<Pid> {
    let own = procfs::descriptors(nix::unistd::getpid());
    let mut holding: Vec<Pid> = run
        .iter()
        .copied()
        .filter(|pid| holds_what_is_needed(*pid, &own))
        .collect();
    let deadline = Instant::now() + WAIT_LIMIT;
    while !holding.is_empty() && Instant::now() < deadline {
        std::thread::sleep(POLL);
        holding.retain(|pid| holds_what_is_needed(*pid, &own));
    }
    holding
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needed(target: &str, locked: bool) -> bool {
        may_be_needed(Path::new(target), || locked)
    }

    #[test]
    fn sockets_locked_files_and_private_devices_may_be_needed() {
        assert!(needed("socket:[5154786]", false));
        assert!(needed("/home/you/app.db", true));
        assert!(needed("/dev/snd/pcmC0D0p", false));
        assert!(needed("/dev/ttyUSB0", false));
        assert!(needed("/dev/dri/card0", false));
    }

    #[test]
    fn pipes_event_descriptors_open_files_and_the_terminal_are_not() {
        assert!(!needed("pipe:[5155890]", true));
        assert!(!needed("anon_inode:[eventfd]", true));
        assert!(!needed("anon_inode:inotify", true));
        assert!(!needed("/home/you/log.txt", false));
        assert!(!needed("/home/you/log.txt (deleted)", false));
        for device in [
            "/dev/null",
            "/dev/urandom",
            "/dev/tty",
            "/dev/pts/3",
            "/dev/tty2",
        ] {
            assert!(!needed(device, false), "{device}");
        }
    }

    #[test]
    fn a_file_is_asked_for_its_lock_only_when_nothing_else_tells() {
        let mut asked = false;
        may_be_needed(Path::new("socket:[1]"), || {
            asked = true;
            true
        });
        assert!(!asked);
        assert!(may_be_needed(Path::new("/tmp/lock"), || {
            asked = true;
            true
        }));
        assert!(asked);
    }
}
