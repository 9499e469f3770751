//! Where forkmon's lines go: the stderr the program was started with, and
//! only that. A program may close descriptor 2 and get the number back for
//! a file of its own (a daemon's database, a socket): a line written to
//! "fd 2" would then land inside its data. So the stderr of the start is
//! kept under a number of its own, and each line goes to whichever of that
//! number and 2 is still that file; to neither if both are something else.

use std::os::fd::BorrowedFd;
use std::sync::OnceLock;

/// Where the kept copy goes: above the numbers programs use for their own
/// files, so that it takes none of them.
const KEPT_FROM: i32 = 100;

#[derive(Clone, Copy)]
struct Original {
    /// The kept copy's number, if the copy could be made.
    copy: Option<i32>,
    device: u64,
    inode: u64,
}

static ORIGINAL: OnceLock<Option<Original>> = OnceLock::new();

/// Keeps the stderr this process has now as forkmon's (once; the first
/// call wins). A process started with descriptor 2 closed has none: its
/// lines go nowhere.
pub fn keep() {
    ORIGINAL.get_or_init(|| {
        let stat = super::fstat_number(2)?;
        // SAFETY: borrowed for the one fcntl call; the kernel checks the
        // number (2 was open just above).
        let stderr = unsafe { BorrowedFd::borrow_raw(2) };
        let copy = nix::fcntl::fcntl(stderr, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(KEPT_FROM)).ok();
        Some(Original {
            copy,
            device: stat.st_dev,
            inode: stat.st_ino,
        })
    });
}

/// The descriptor a line goes to now: 2 until [`keep`] ran; then the kept
/// copy or 2, whichever still is the original stderr.
pub fn target() -> Option<i32> {
    let Some(kept) = ORIGINAL.get() else {
        return Some(2);
    };
    let original = (*kept)?;
    let is_original = |fd: i32| {
        super::fstat_number(fd)
            .is_some_and(|stat| stat.st_dev == original.device && stat.st_ino == original.inode)
    };
    original
        .copy
        .filter(|&copy| is_original(copy))
        .or_else(|| is_original(2).then_some(2))
}
