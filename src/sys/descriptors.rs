//! Whether two descriptors, of this process and another, are one open
//! file description (kcmp): `/proc` shows only where they lead; and
//! whether the program's output still has a reader.

use nix::unistd::Pid;

/// Whether descriptor `fd_a` of `a` and `fd_b` of `b` are the same open
/// file description (one inherited by fork); `None` if the kernel cannot
/// tell (no kcmp, or not allowed).
pub fn same_open_file(a: Pid, fd_a: i32, b: Pid, fd_b: i32) -> Option<bool> {
    const KCMP_FILE: libc::c_long = 0;
    // SAFETY: kcmp only compares kernel objects named by these integers and
    // writes nothing of this process's.
    let result = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            a.as_raw(),
            b.as_raw(),
            KCMP_FILE,
            fd_a as libc::c_long,
            fd_b as libc::c_long,
        )
    };
    (result >= 0).then_some(result == 0)
}

/// Whether standard output is a pipe whose reading end is closed (`app |
/// head -n 3` once head has ended): a pipe's writer polls as an error
/// then. A terminal, a file or a pipe still read is not.
pub fn output_has_no_reader() -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::BorrowedFd;
    // SAFETY: descriptor 1 is only borrowed for this poll; if it is closed,
    // poll reports POLLNVAL, not an error of a pipe.
    let output = unsafe { BorrowedFd::borrow_raw(1) };
    // A hung-up terminal polls as an error too (nohup's program runs on).
    let is_pipe = nix::sys::stat::fstat(output)
        .is_ok_and(|stat| stat.st_mode & libc::S_IFMT == libc::S_IFIFO);
    if !is_pipe {
        return false;
    }
    let mut fds = [PollFd::new(output, PollFlags::POLLOUT)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(1))
        && fds[0]
            .revents()
            .is_some_and(|events| events.contains(PollFlags::POLLERR))
}

/// `fd`, borrowed for one call: at worst (a number closed in between) the
/// call fails or reaches another file of this process, never memory.
fn borrowed(fd: i32) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: see above; the kernel checks the number on each call.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

/// The file status flags of `fd` (`F_GETFL`).
pub fn status_flags(fd: i32) -> Option<i32> {
    nix::fcntl::fcntl(borrowed(fd), nix::fcntl::FcntlArg::F_GETFL).ok()
}

/// Sets the file status flags of `fd` (`F_SETFL`: O_NONBLOCK, O_APPEND
/// and the like).
pub fn set_status_flags(fd: i32, flags: i32) {
    let flags = nix::fcntl::OFlag::from_bits_retain(flags);
    let _ = nix::fcntl::fcntl(borrowed(fd), nix::fcntl::FcntlArg::F_SETFL(flags));
}

/// The file offset of `fd`, if it has one.
pub fn offset(fd: i32) -> Option<i64> {
    nix::unistd::lseek(borrowed(fd), 0, nix::unistd::Whence::SeekCur).ok()
}

/// Moves the file offset of `fd` to `offset`.
pub fn seek(fd: i32, offset: i64) {
    let _ = nix::unistd::lseek(borrowed(fd), offset, nix::unistd::Whence::SeekSet);
}

/// Whether `fd` is a regular file.
pub fn is_regular_file(fd: i32) -> bool {
    crate::sys::fstat_number(fd).is_some_and(|stat| stat.st_mode & libc::S_IFMT == libc::S_IFREG)
}

/// Whether `fd` is one of forkmon's marked descriptors.
pub fn is_forkmons(fd: i32) -> bool {
    crate::sys::identity::is_forkmons(borrowed(fd))
}
