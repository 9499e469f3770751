//! The few raw system calls that nix does not wrap, and `fork`. Each unsafe
//! block says why it holds; everything above this module is safe Rust.

pub mod descriptors;
pub mod identity;
pub mod original_stderr;
pub mod pidfd;
pub mod procfs;
pub mod signals;
pub mod terminal;
pub mod timers;
pub mod wait;

use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use nix::unistd::ForkResult;

/// Forks the calling process.
///
/// # Safety
/// The process has one thread (the engine checks before a checkpoint;
/// holders and the watcher are copies of such a process), so the child's
/// memory holds no lock another thread owned and it may run any code.
pub unsafe fn fork() -> nix::Result<ForkResult> {
    // SAFETY: single-threaded, per this function's contract.
    unsafe { nix::unistd::fork() }
}

/// An environment variable, read from `environ` itself rather than through
/// `getenv`: a program may define its own `getenv`, and bash's answers
/// from its own table, which holds nothing before its `main` once its
/// `setenv` has been called (by a library constructor, say).
pub fn env_var(name: &str) -> Option<std::ffi::OsString> {
    std::env::vars_os().find_map(|(key, value)| (key == name).then_some(value))
}

/// Sets an environment variable of this process, if it has one thread (the
/// only case where no other thread can be reading the environment); returns
/// whether it was set.
pub fn set_env_single_threaded(name: &str, value: &str) -> bool {
    if !matches!(procfs::thread_count(), Ok(1)) {
        return false;
    }
    // SAFETY: one thread (checked just above), so nothing reads the
    // environment concurrently.
    unsafe { std::env::set_var(name, value) };
    true
}

/// `fstat(2)` of a descriptor number the program just got from an open:
/// at worst (a number the program closed in between) the stat of another
/// file or none, never memory unsafety.
pub fn fstat_number(fd: i32) -> Option<libc::stat> {
    // SAFETY: borrowed for the one fstat call below; the kernel checks the
    // number, so a stale one only fails or stats another file.
    fstat(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) })
}

/// This process's parent, from the kernel: forkmon's own checks must not
/// go through the `getppid` detour, which answers for the program.
pub fn parent_pid() -> nix::unistd::Pid {
    // SAFETY: getppid has no arguments and cannot fail.
    let parent = unsafe { libc::syscall(libc::SYS_getppid) };
    nix::unistd::Pid::from_raw(i32::try_from(parent).unwrap_or(1))
}

/// Ends this process at once, without running the host's atexit handlers or
/// flushing its stdio buffers (a holder or watcher must not print the
/// program's buffered output a second time).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Runs `handler` when the process exits by `exit` (or a return from
/// main); in a library unloaded before that (a Lua module, at `lua_close`),
/// when it is unloaded: glibc's `atexit` ties the handler to the calling
/// library's `__dso_handle`.
pub fn at_exit(handler: extern "C" fn()) {
    // SAFETY: `handler` is a plain function of this library, which stays
    // mapped until the handler has run (see above); handlers must not
    // unwind, which the callers ensure by catching panics.
    unsafe { libc::atexit(handler) };
}

/// `fd`, moved above the standard streams' numbers (0 to 2) if it took one
/// of them: a program started with stdin or stdout closed must still find
/// it closed, and get that number from its own next open, as alone.
pub fn above_standard_streams(fd: std::os::fd::OwnedFd) -> std::os::fd::OwnedFd {
    use std::os::fd::{AsRawFd, FromRawFd};
    if fd.as_raw_fd() > 2 {
        return fd;
    }
    match nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3)) {
        // SAFETY: fcntl just made `raw`, a descriptor nothing else owns;
        // `fd` is closed when it is dropped here.
        Ok(raw) => unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) },
        Err(_) => fd,
    }
}

/// Writes out every C stdio buffer, so that output the program produced
/// before a checkpoint is not copied into each resumed child.
pub fn flush_stdio() {
    // SAFETY: fflush(NULL) flushes all open output streams; it takes the
    // stdio locks itself and the process is single-threaded here.
    unsafe { libc::fflush(std::ptr::null_mut()) };
}

pub fn errno() -> i32 {
    nix::errno::Errno::last_raw()
}

pub fn set_errno(value: i32) {
    nix::errno::Errno::set_raw(value)
}

/// The current directory written into `buffer`, without allocating.
pub fn current_dir(buffer: &mut [u8]) -> Option<&[u8]> {
    // SAFETY: getcwd writes at most buffer.len() bytes, NUL included.
    let result = unsafe { libc::getcwd(buffer.as_mut_ptr().cast(), buffer.len()) };
    if result.is_null() {
        return None;
    }
    CStr::from_bytes_until_nul(buffer).ok().map(CStr::to_bytes)
}

/// `fstat(2)` of a descriptor the caller holds open. The kernel's own
/// fstat rather than glibc's, which since 2.33 goes through
/// `fstatat(fd, "", AT_EMPTY_PATH)` and has the kernel look up an empty
/// path: 0.33 µs here against 0.40, on every watched file the program
/// reads (x86-64 has the call; other architectures keep glibc's).
pub fn fstat(fd: std::os::fd::BorrowedFd<'_>) -> Option<libc::stat> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::os::fd::AsRawFd;
        let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: the descriptor is open (borrowed for this call) and the
        // kernel writes a whole `struct stat` (the libc crate's layout is
        // the kernel's on x86-64) into `stat` when it returns 0.
        let result = unsafe { libc::syscall(libc::SYS_fstat, fd.as_raw_fd(), stat.as_mut_ptr()) };
        // SAFETY: initialised by the successful call above.
        (result == 0).then(|| unsafe { stat.assume_init() })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        nix::sys::stat::fstat(fd).ok()
    }
}

/// Duplicates `fd` onto the lowest free number and closes the copy again:
/// `None` if that worked, the errno if it failed (EMFILE when no number is
/// left below the open-file limit).
pub fn dup_errno(fd: i32) -> Option<i32> {
    // SAFETY: dup only makes a new descriptor, which is closed at once and
    // never used: nothing of the program's changes.
    let copy = unsafe { libc::dup(fd) };
    if copy < 0 {
        return Some(errno());
    }
    // SAFETY: `copy` was just made above and is owned by no one else.
    unsafe { libc::close(copy) };
    None
}

/// How many bytes wait to be read on `fd` (a pipe or a socket), without
/// reading them; `None` if it cannot tell.
pub fn bytes_waiting(fd: i32) -> Option<u64> {
    let mut count: libc::c_int = 0;
    // SAFETY: FIONREAD only writes one int through the pointer, which
    // points to `count`; on a descriptor that is not open, or that does
    // not answer FIONREAD, it fails and changes nothing.
    let answered = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut count) } == 0;
    answered.then(|| u64::try_from(count).unwrap_or(0))
}

/// The path an open directory descriptor refers to, without allocating.
pub fn fd_path(fd: i32, buffer: &mut [u8]) -> Option<&[u8]> {
    let mut link = [0u8; 32];
    let mut cursor = std::io::Cursor::new(&mut link[..]);
    std::io::Write::write_fmt(&mut cursor, format_args!("/proc/self/fd/{fd}\0")).ok()?;
    // SAFETY: `link` is NUL-terminated above; readlink writes at most
    // buffer.len() bytes and does not terminate them.
    let len = unsafe {
        libc::readlink(
            link.as_ptr().cast(),
            buffer.as_mut_ptr().cast(),
            buffer.len(),
        )
    };
    let len = usize::try_from(len).ok()?;
    buffer.get(..len).filter(|path| path.starts_with(b"/"))
}

/// True in a set-user-ID or set-group-ID program (or one with file
/// capabilities), where the dynamic loader runs in secure mode.
pub fn is_secure_execution() -> bool {
    // SAFETY: getauxval only reads the auxiliary vector.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// The file name the kernel was asked to run (`AT_EXECFN`): for a `#!`
/// script, the script (its interpreter is the executable).
pub fn exec_file_name() -> Option<&'static [u8]> {
    // SAFETY: getauxval only reads the auxiliary vector; AT_EXECFN points
    // to a NUL-terminated string at the top of the initial stack, which
    // lives as long as the process.
    let name = unsafe { libc::getauxval(libc::AT_EXECFN) } as *const std::ffi::c_char;
    // SAFETY: as above, when not null.
    (!name.is_null()).then(|| unsafe { CStr::from_ptr(name) }.to_bytes())
}

/// The file this library was loaded from, as the dynamic loader saw it.
pub fn own_library_path() -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: Dl_info is plain data; dladdr fills it for an address inside
    // a loaded object (this function is one).
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let address = own_library_path as *const libc::c_void;
    // SAFETY: see above; dli_fname is a NUL-terminated string owned by the
    // loader that lives as long as the library stays loaded.
    let name = unsafe {
        if libc::dladdr(address, &mut info) == 0 || info.dli_fname.is_null() {
            return None;
        }
        CStr::from_ptr(info.dli_fname)
    };
    Some(std::ffi::OsStr::from_bytes(name.to_bytes()).into())
}

/// The processor time this process has used so far: the work before
/// forkmon was loaded (by exec and the loader, or later by `require`), to
/// the nanosecond. (The start time in /proc counts in 10 ms ticks, which
/// made a short start-up look up to 10 ms longer than it was.)
pub fn processor_time() -> Option<std::time::Duration> {
    let used = nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID).ok()?;
    Some(std::time::Duration::new(
        u64::try_from(used.tv_sec()).ok()?,
        u32::try_from(used.tv_nsec()).ok()?,
    ))
}

static FORKS_IN_THIS_LINE: AtomicU64 = AtomicU64::new(0);
static FORKS_COUNTED: std::sync::Once = std::sync::Once::new();
static FORKS_ARE_COUNTED: AtomicBool = AtomicBool::new(false);

extern "C" fn count_fork_in_child() {
    FORKS_IN_THIS_LINE.fetch_add(1, Ordering::Relaxed);
}

/// Counts every fork(3) from now on, in the child: the engine tells a copy
/// the program forked by itself without a getpid per watched file (a tenth
/// of a tied open's cost). Returns false if that cannot be done.
pub fn count_forks() -> bool {
    FORKS_COUNTED.call_once(|| {
        // SAFETY: the handler only increments an atomic, which is safe in a
        // child just forked; no prepare or parent handler is given.
        let registered = unsafe { libc::pthread_atfork(None, None, Some(count_fork_in_child)) };
        FORKS_ARE_COUNTED.store(registered == 0, Ordering::Relaxed);
    });
    FORKS_ARE_COUNTED.load(Ordering::Relaxed)
}

/// How many forks made this process, counted since [`count_forks`]: it
/// changes in every child of fork(3) (not of a raw clone or `_Fork`, which
/// run no fork handlers).
pub fn forks() -> u64 {
    FORKS_IN_THIS_LINE.load(Ordering::Relaxed)
}

/// A descriptor that becomes readable when the child `pid` ends
/// (pidfd_open(2), Linux 5.3): a task's end can be polled together with
/// its pipe and a deadline.
pub fn pidfd_open(pid: nix::unistd::Pid) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain system call on integers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this new descriptor, owned by no one
    // else; it fits an i32 (descriptors are ints).
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}
