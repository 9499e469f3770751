//! What `/proc` tells about this process and its children.

use std::io;

use nix::unistd::Pid;

/// How many threads this process has.
///
/// procfs gives `/proc/self/task` one link per thread plus two, so one
/// `stat` tells: it needs no file descriptor, and works also in a program
/// that has used up its open-file limit (reading the directory would fail
/// there with EMFILE).
pub fn thread_count() -> io::Result<usize> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata("/proc/self/task")?.nlink() {
        links @ 3.. => Ok(usize::try_from(links - 2).unwrap_or(usize::MAX)),
        _ => Ok(std::fs::read_dir("/proc/self/task")?.count()),
    }
}

/// The live and not yet reaped children of this (single-threaded) process.
pub fn children() -> io::Result<Vec<Pid>> {
    children_of(nix::unistd::getpid())
}

/// The children made by the main thread of `pid`.
fn children_of(pid: Pid) -> io::Result<Vec<Pid>> {
    let list = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))?;
    Ok(list
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .map(Pid::from_raw)
        .collect())
}

/// Every process below `root` (children of main threads, as holders and
/// the program make them), found now; `root` not included.
pub fn descendants(root: Pid) -> Vec<Pid> {
    let mut found = Vec::new();
    let mut next = vec![root];
    // A bound, in case a pid is reused into a loop while the tree is read.
    while let Some(pid) = next.pop().filter(|_| found.len() < 100_000) {
        let children = children_of(pid).unwrap_or_default();
        found.extend_from_slice(&children);
        next.extend(children);
    }
    found
}

/// Whether `ancestor` is above `pid` (its parent, or its parent's, ...),
/// as /proc tells now.
pub fn has_ancestor(pid: i32, ancestor: i32) -> bool {
    let mut process = pid;
    // A chain of processes longer than this is no program's.
    for _ in 0..256 {
        match parent_of(process) {
            Some(parent) if parent == ancestor => return true,
            Some(parent) if parent > 1 => process = parent,
            _ => return false,
        }
    }
    false
}

/// The parent of process `pid`, as /proc tells now.
pub fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the name in parentheses (which may hold anything): state, ppid.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// How many POSIX timers (`timer_create`) this process has: one `ID:`
/// line each in `/proc/self/timers`.
pub fn posix_timer_count() -> io::Result<usize> {
    let list = std::fs::read_to_string("/proc/self/timers")?;
    Ok(list.lines().filter(|line| line.starts_with("ID:")).count())
}

/// Whether `pid` has begun to exit (or is gone): the kernel set
/// `PF_EXITING` in its flags (`/proc/PID/stat`, field 9) when it entered
/// `do_exit`, after its last system call returned. Such a process never
/// runs user code again, so it writes nothing more.
pub fn has_begun_to_exit(pid: Pid) -> bool {
    const PF_EXITING: u64 = 0x4;
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // After the command name in parentheses: state (3), ppid, pgrp,
    // session, tty, tpgid, flags (9).
    let flags = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(6))
        .and_then(|flags| flags.parse::<u64>().ok());
    flags.is_none_or(|flags| flags & PF_EXITING != 0)
}

/// The command name of `pid` (`comm`), if it can be read.
pub fn command_name(pid: Pid) -> Option<String> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(comm.trim_end_matches('\n').to_owned())
}

/// The descriptors `pid` has open now, each with what its `/proc/PID/fd`
/// link leads to; none if they cannot be read (the process is gone, or has
/// closed them all as it exits).
pub fn descriptors(pid: Pid) -> Vec<(i32, std::path::PathBuf)> {
    let folder = format!("/proc/{pid}/fd");
    let Ok(entries) = std::fs::read_dir(&folder) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let fd = entry.file_name().to_str()?.parse().ok()?;
            Some((fd, std::fs::read_link(entry.path()).ok()?))
        })
        .collect()
}

/// Whether process `pid` has ended: gone, or every thread of it a zombie
/// (then the kernel has run all of its exit, releasing what its files
/// held).
pub fn has_ended(pid: Pid) -> bool {
    let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return true;
    };
    threads.filter_map(Result::ok).all(|thread| {
        std::fs::read_to_string(thread.path().join("stat")).map_or(true, |stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_none_or(|state| matches!(state, "Z" | "X"))
        })
    })
}

/// The descriptors of `pid` as [`descriptors`] lists them, with the
/// thread they were read through: the table is the process's until its
/// last thread ends, while `/proc/PID/fd` is empty once the first thread
/// has left it (a server whose main thread ended before its workers).
pub fn descriptors_of_any_thread(pid: Pid) -> (Pid, Vec<(i32, std::path::PathBuf)>) {
    let listed = descriptors(pid);
    if !listed.is_empty() {
        return (pid, listed);
    }
    let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return (pid, listed);
    };
    threads
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .map(Pid::from_raw)
        .filter(|thread| *thread != pid)
        .map(|thread| (thread, descriptors(thread)))
        .find(|(_, listed)| !listed.is_empty())
        .unwrap_or((pid, listed))
}

/// Whether the socket with inode `inode`, in the network namespace of
/// `pid`, takes an address another socket may want: it listens (TCP, a
/// Unix socket), is a bound UDP socket, or a Unix socket with a name.
/// A connection and a socket pair do not. `None` if it is in none of the
/// tables (another family).
pub fn socket_takes_an_address(pid: Pid, inode: u64) -> Option<bool> {
    let table = |name: &str| std::fs::read_to_string(format!("/proc/{pid}/net/{name}")).ok();
    if let Some(unix) = table("unix") {
        // Num RefCount Protocol Flags Type St Inode [Path]; flag 0x10000:
        // listening; type 0001: stream; state 03: connected. A connection a
        // named socket accepted shows its name too, and takes nothing.
        for line in unix.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.get(6).and_then(|f| f.parse::<u64>().ok()) == Some(inode) {
                let listening =
                    u64::from_str_radix(fields.get(3)?, 16).is_ok_and(|flags| flags & 0x10000 != 0);
                let named = fields.len() > 7;
                let connected_stream =
                    fields.get(4) == Some(&"0001") && fields.get(5) == Some(&"03");
                return Some(listening || (named && !connected_stream));
            }
        }
    }
    for (name, stream) in [
        ("tcp", true),
        ("tcp6", true),
        ("udp", false),
        ("udp6", false),
    ] {
        let Some(sockets) = table(name) else {
            continue;
        };
        // sl local_address rem_address st ... inode (field 9).
        for line in sockets.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.get(9).and_then(|f| f.parse::<u64>().ok()) == Some(inode) {
                let bound = fields
                    .get(1)
                    .and_then(|local| local.rsplit(':').next())
                    .is_some_and(|port| port != "0000");
                return Some(if stream {
                    fields.get(3) == Some(&"0A")
                } else {
                    bound
                });
            }
        }
    }
    None
}

/// The inode of a socket, from its `/proc` link (`socket:[123]`).
pub fn socket_inode(target: &[u8]) -> Option<u64> {
    std::str::from_utf8(target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?)
        .ok()?
        .parse()
        .ok()
}

/// Whether descriptor `fd` of `pid` was opened for reading (its `flags`
/// in fdinfo, octal): of a pipe's two ends, which have one inode, the one
/// that reads.
pub fn descriptor_reads(pid: Pid, fd: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).is_ok_and(|info| {
        info.lines()
            .find_map(|line| line.strip_prefix("flags:"))
            .and_then(|flags| u32::from_str_radix(flags.trim(), 8).ok())
            .is_some_and(|flags| flags & libc::O_ACCMODE as u32 != libc::O_WRONLY as u32)
    })
}

/// The kinds of lock descriptor `fd` of `pid` holds (`POSIX`, `FLOCK`,
/// `OFDLCK`): the `lock:` lines of its `/proc/PID/fdinfo` entry.
pub fn descriptor_locks(pid: Pid, fd: i32) -> Vec<String> {
    let Ok(info) = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")) else {
        return Vec::new();
    };
    info.lines()
        .filter_map(|line| line.strip_prefix("lock:"))
        .filter_map(|lock| lock.split_whitespace().nth(1).map(str::to_owned))
        .collect()
}

/// The count of this process's eventfd `fd` (its `eventfd-count` in
/// `/proc/self/fdinfo`, in hexadecimal), without reading it away.
pub fn eventfd_count(fd: i32) -> Option<u64> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
    let line = info
        .lines()
        .find_map(|line| line.strip_prefix("eventfd-count:"))?;
    u64::from_str_radix(line.trim(), 16).ok()
}

/// This process's resident pages (`/proc/self/statm`).
/// How long this thread has waited for a processor while it could run
/// (`/proc/thread-self/schedstat`, second field); a fork's child starts
/// at zero.
pub fn runqueue_wait() -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = stat.split_whitespace().nth(1)?.parse().ok()?;
    Some(std::time::Duration::from_nanos(nanos))
}

pub fn resident_pages() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    statm.split_whitespace().nth(1)?.parse().ok()
}
