//! Where forkmon's lines go: the stderr the program was started with, and
//! only that. A program may close descriptor 2 and get the number back for
//! a file of its own (a daemon's database, a socket): a line written to
//! "fd 2" would then land inside its data. So each line goes to
//! descriptor 2 only while it is still the file it was at the start;
//! otherwise, if that was the terminal, to the controlling terminal; else
//! nowhere.
//!
//! (A copy of the original kept under a number of its own would also keep
//! the starter's pipe open after a daemon pointed its descriptors
//! elsewhere: `out=$(forkmon ./start-daemon)` would never end.)

use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::OnceLock;

/// The device and inode of descriptor 2 at the start, and whether it was
/// a terminal; `None` if it was closed.
static ORIGINAL: OnceLock<Option<(u64, u64, bool)>> = OnceLock::new();

/// Takes the stderr this process has now as forkmon's (once; the first
/// call wins).
pub fn keep() {
    ORIGINAL.get_or_init(|| {
        let stat = super::fstat_number(2)?;
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        Some((stat.st_dev, stat.st_ino, terminal))
    });
}

/// Where a line goes now: descriptor 2 until [`keep`] ran, or while it is
/// the original stderr; else the controlling terminal (opened for the
/// line); else nowhere.
pub fn target() -> Option<Target> {
    let Some(original) = ORIGINAL.get() else {
        return Some(Target::Stderr);
    };
    let still = |(device, inode, _): (u64, u64, bool)| {
        super::fstat_number(2).is_some_and(|stat| stat.st_dev == device && stat.st_ino == inode)
    };
    if original.is_some_and(still) {
        return Some(Target::Stderr);
    }
    // Only where the user had them on the terminal (`2>/dev/null` keeps
    // them away).
    if !original.is_some_and(|(_, _, terminal)| terminal) {
        return None;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open("/dev/tty")
        .ok()
        .map(Target::Terminal)
}

/// A line's destination, as a descriptor number while it is held.
pub enum Target {
    Stderr,
    Terminal(std::fs::File),
}

impl Target {
    pub fn fd(&self) -> i32 {
        match self {
            Target::Stderr => 2,
            Target::Terminal(file) => file.as_raw_fd(),
        }
    }
}
