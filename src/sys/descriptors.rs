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
