//! Whether two descriptors, of this process and another, are one open
//! file description (kcmp): `/proc` shows only where they lead.

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
