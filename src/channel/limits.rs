//! Which kernel limit a failed call ran into, and how to raise it: the end
//! of a `[forkmon]` line such as `cannot start inotify: <this>`.
//!
//! One errno has several causes, so each is told apart by asking the kernel
//! again:
//! - `EMFILE` from `inotify_init1` is either this process's open-file limit
//!   (`ulimit -n`) or the per-user inotify instance limit. A second probe,
//!   duplicating a descriptor, fails the same way only in the first case.
//! - The inotify limits are per user and per user namespace. In the initial
//!   namespace they are the sysctls `fs.inotify.max_user_instances` and
//!   `fs.inotify.max_user_watches`; inside a user namespace (a container)
//!   the namespace has its own `user.max_inotify_*`, and the host's still
//!   apply on top. The lower one is named.
//! - `EAGAIN` from `fork` is the per-user process limit (`ulimit -u`) when the
//!   user has that many tasks, or a cgroup's `pids.max` when that is full.
//!
//! Only error paths come here, once: reading `/proc` and `/sys` is fine.

#![forbid(unsafe_code)]

use std::os::unix::fs::MetadataExt;

use nix::sys::resource::Resource;

/// A limit with no bound, as `getrlimit` reports it.
const UNLIMITED: u64 = libc::RLIM_INFINITY;

/// Why a call that makes file descriptors (`socketpair`)
/// failed with `errno`, if a descriptor limit explains it.
pub fn descriptors(errno: i32) -> Option<String> {
    match errno {
        // Whenever a call that makes descriptors says EMFILE (inotify_init1
        // aside, see `inotify_instances`).
        libc::EMFILE => {
            let (soft, hard) = rlimit(Resource::RLIMIT_NOFILE)?;
            Some(rlimit_reached(
                "open-file limit of this process",
                'n',
                soft,
                hard,
            ))
        }
        libc::ENFILE => Some(format!(
            "the system-wide limit fs.file-max = {} is reached; raise it with: sudo sysctl fs.file-max={}",
            sysctl("fs/file-max").unwrap_or_else(|| "?".to_owned()),
            sysctl("fs/file-max")
                .and_then(|v| v.parse::<u64>().ok())
                .map_or_else(|| "<more>".to_owned(), |v| v.saturating_mul(2).to_string())
        )),
        _ => None,
    }
}

/// Why `inotify_init1` failed with `errno`, if a limit explains it.
pub fn inotify_instances(errno: i32) -> Option<String> {
    match errno {
        libc::EMFILE if descriptor_table_full() => descriptors(errno),
        libc::EMFILE => Some(inotify_limit(&INSTANCES)),
        libc::ENFILE => descriptors(errno),
        _ => None,
    }
}

/// Why `inotify_add_watch` failed with `errno`, if a limit explains it.
pub fn inotify_watches(errno: i32) -> Option<String> {
    (errno == libc::ENOSPC).then(|| inotify_limit(&WATCHES))
}

/// Why `fork` failed with `errno`, if a limit explains it.
pub fn processes(errno: i32) -> Option<String> {
    if errno != libc::EAGAIN {
        return None;
    }
    user_processes().or_else(cgroup_processes)
}

/// One of the two inotify limits, by its names.
struct InotifyLimit {
    /// What is counted, in words.
    what: &'static str,
    /// The sysctl of the initial namespace (under /proc/sys).
    host: &'static str,
    /// The sysctl of a user namespace (under /proc/sys).
    namespace: &'static str,
    /// A value to suggest when the current one is small.
    suggested: u64,
}

const INSTANCES: InotifyLimit = InotifyLimit {
    what: "inotify instances",
    host: "fs/inotify/max_user_instances",
    namespace: "user/max_inotify_instances",
    suggested: 1024,
};

const WATCHES: InotifyLimit = InotifyLimit {
    what: "inotify watches",
    host: "fs/inotify/max_user_watches",
    namespace: "user/max_inotify_watches",
    suggested: 524_288,
};

/// Where this process runs, as far as the inotify limits go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Namespace {
    Initial,
    /// Inside a user namespace whose own limit is `own` (if readable).
    Nested {
        own: Option<u64>,
    },
}

/// Whether this process is in the initial user namespace, which maps every
/// uid to itself.
fn in_initial_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").map_or(true, |map| {
        map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]
    })
}

/// The words for the inotify limit `limit`, reached by this process.
fn inotify_limit(limit: &InotifyLimit) -> String {
    let value = |name| sysctl(name).and_then(|v| v.parse().ok());
    let place = if in_initial_namespace() {
        Namespace::Initial
    } else {
        Namespace::Nested {
            own: value(limit.namespace),
        }
    };
    describe_inotify_limit(limit, place, value(limit.host))
}

/// The words for an inotify limit reached at `place`; `host` is the value
/// of the initial namespace's sysctl, as this process reads it.
fn describe_inotify_limit(limit: &InotifyLimit, place: Namespace, host: Option<u64>) -> String {
    let dotted = |name: &str| name.replace('/', ".");
    let shown = |value: Option<u64>| value.map_or_else(|| "?".to_owned(), |v| v.to_string());
    let more = |value: Option<u64>| {
        value
            .map_or(limit.suggested, |v| {
                v.saturating_mul(2).max(limit.suggested)
            })
            .to_string()
    };
    match place {
        // The namespace's own limit is the lower one: only it can be hit.
        Namespace::Nested { own: Some(own), .. } if host.is_none_or(|host| own < host) => {
            format!(
                "the limit of {} of this user namespace, {} = {own}, is reached; raise it in the namespace with: sysctl {}={}",
                limit.what,
                dotted(limit.namespace),
                dotted(limit.namespace),
                more(Some(own))
            )
        }
        Namespace::Nested { .. } => format!(
            "the host's per-user limit of {}, {} = {}, is reached; raise it on the host with: sudo sysctl {}={}",
            limit.what,
            dotted(limit.host),
            shown(host),
            dotted(limit.host),
            more(host)
        ),
        Namespace::Initial => format!(
            "the per-user limit of {}, {} = {}, is reached; raise it with: sudo sysctl {}={}",
            limit.what,
            dotted(limit.host),
            shown(host),
            dotted(limit.host),
            more(host)
        ),
    }
}

/// The words for a resource limit (`ulimit -<flag>`) that is reached.
fn rlimit_reached(what: &str, flag: char, soft: u64, hard: u64) -> String {
    let wanted = soft.saturating_mul(4).max(1024);
    if hard > soft {
        let to = if hard == UNLIMITED {
            wanted
        } else {
            wanted.min(hard)
        };
        format!(
            "the {what}, ulimit -{flag} = {soft}, is reached; raise it with: ulimit -{flag} {to}"
        )
    } else {
        format!(
            "the {what}, ulimit -{flag} = {soft} (also its hard limit), is reached; raise it as root with: ulimit -{flag} {wanted}"
        )
    }
}

/// Whether this process has no descriptor number left: `dup` of one of its
/// standard descriptors fails with EMFILE too. (Not `F_DUPFD_CLOEXEC`, as
/// std's `try_clone` is: it asks for a number of at least 3, which a limit
/// of 3 refuses with EINVAL, and the instance limit was blamed.)
fn descriptor_table_full() -> bool {
    let said: Vec<i32> = (0..=2)
        .filter_map(crate::sys::dup_errno)
        // A closed standard descriptor gives EBADF, which says nothing.
        .filter(|errno| *errno != libc::EBADF)
        .collect();
    !said.is_empty() && said.iter().all(|errno| *errno == libc::EMFILE)
}

/// The soft and hard value of a resource limit.
fn rlimit(resource: Resource) -> Option<(u64, u64)> {
    nix::sys::resource::getrlimit(resource).ok()
}

/// The per-user process limit, if this user has reached it. It does not
/// bind root (nor a process with CAP_SYS_RESOURCE, which is rare).
fn user_processes() -> Option<String> {
    let uid = nix::unistd::getuid();
    if uid.is_root() {
        return None;
    }
    let (soft, hard) = rlimit(Resource::RLIMIT_NPROC)?;
    if soft == UNLIMITED {
        return None;
    }
    // The limit counts tasks (threads too) of the real user.
    let tasks: u64 = std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .filter(|entry| entry.metadata().is_ok_and(|m| m.uid() == uid.as_raw()))
        .map(|entry| {
            std::fs::read_dir(entry.path().join("task")).map_or(1, |tasks| tasks.count() as u64)
        })
        .sum();
    (tasks >= soft).then(|| rlimit_reached("per-user process limit", 'u', soft, hard))
}

/// A cgroup's `pids.max`, if this process's cgroup or one above it is full.
fn cgroup_processes() -> Option<String> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    // cgroup v2: the one line "0::/path".
    let path = cgroups.lines().find_map(|line| line.strip_prefix("0::"))?;
    let mut dir = std::path::PathBuf::from(format!("/sys/fs/cgroup{}", path.trim_end()));
    loop {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        if let (Some(max), Some(current)) = (read("pids.max"), read("pids.current")) {
            if current >= max {
                return Some(format!(
                    "the process limit of the cgroup {}, pids.max = {max}, is reached; raise it with: echo {} > {}",
                    dir.display(),
                    max.saturating_mul(2).max(1024),
                    dir.join("pids.max").display()
                ));
            }
        }
        if dir.as_os_str() == "/sys/fs/cgroup" || !dir.pop() {
            return None;
        }
    }
}

/// A sysctl's value by its path under /proc/sys.
fn sysctl(name: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/sys/{name}"))
        .ok()
        .map(|v| v.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initial_namespace_names_the_sysctl() {
        assert_eq!(
            describe_inotify_limit(&INSTANCES, Namespace::Initial, Some(128)),
            "the per-user limit of inotify instances, fs.inotify.max_user_instances = 128, is reached; \
             raise it with: sudo sysctl fs.inotify.max_user_instances=1024"
        );
        assert_eq!(
            describe_inotify_limit(&WATCHES, Namespace::Initial, Some(8192)),
            "the per-user limit of inotify watches, fs.inotify.max_user_watches = 8192, is reached; \
             raise it with: sudo sysctl fs.inotify.max_user_watches=524288"
        );
    }

    #[test]
    fn a_user_namespace_names_the_lower_of_its_own_and_the_hosts() {
        let own_lower = Namespace::Nested { own: Some(0) };
        assert_eq!(
            describe_inotify_limit(&INSTANCES, own_lower, Some(128)),
            "the limit of inotify instances of this user namespace, user.max_inotify_instances = 0, \
             is reached; raise it in the namespace with: sysctl user.max_inotify_instances=1024"
        );
        let host_lower = Namespace::Nested {
            own: Some(2_147_483_647),
        };
        assert_eq!(
            describe_inotify_limit(&INSTANCES, host_lower, Some(128)),
            "the host's per-user limit of inotify instances, fs.inotify.max_user_instances = 128, \
             is reached; raise it on the host with: sudo sysctl fs.inotify.max_user_instances=1024"
        );
    }

    #[test]
    fn a_resource_limit_says_whether_the_hard_limit_allows_more() {
        assert_eq!(
            rlimit_reached("open-file limit of this process", 'n', 8, UNLIMITED),
            "the open-file limit of this process, ulimit -n = 8, is reached; raise it with: ulimit -n 1024"
        );
        assert_eq!(
            rlimit_reached("open-file limit of this process", 'n', 8, 100),
            "the open-file limit of this process, ulimit -n = 8, is reached; raise it with: ulimit -n 100"
        );
        assert_eq!(
            rlimit_reached("per-user process limit", 'u', 3, 3),
            "the per-user process limit, ulimit -u = 3 (also its hard limit), is reached; \
             raise it as root with: ulimit -u 1024"
        );
    }

    #[test]
    fn other_errors_are_no_limit() {
        assert_eq!(inotify_watches(libc::EACCES), None);
        assert_eq!(processes(libc::ENOMEM), None);
        assert_eq!(descriptors(libc::EBADF), None);
        assert_eq!(inotify_instances(libc::EINVAL), None);
        // This test process has descriptors to spare: an EMFILE of
        // inotify_init1 is the instance limit, not its open-file limit.
        let emfile = inotify_instances(libc::EMFILE).unwrap_or_default();
        assert!(emfile.contains("of inotify instances"), "{emfile}");
    }
}
