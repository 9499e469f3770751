//! Record locks a fork does not pass on: an fcntl or lockf lock belongs to
//! the process that took it, so one the program holds at a checkpoint stays
//! with the checkpoint's holder, and its runs do not have it (unlocking or
//! upgrading it in a run waits for the holder, or changes nothing, while
//! other processes still find the file locked). forkmon cannot move it;
//! it says so, once. flock and open-file-description locks belong to the
//! open file, which forks share.

#![forbid(unsafe_code)]

use std::os::unix::fs::MetadataExt;

use crate::sys;

/// The file of the first fcntl (POSIX) lock this process holds, if any:
/// its path, or its inode where no descriptor of this process shows it.
pub fn first_held() -> Option<String> {
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let me = nix::unistd::getpid();
    let inode = locks
        .lines()
        .find_map(|line| posix_lock_inode(line, me.as_raw()))?;
    let named = sys::procfs::descriptors(me)
        .into_iter()
        .find_map(|(fd, target)| {
            let file = std::fs::metadata(format!("/proc/self/fd/{fd}")).ok()?;
            (file.ino() == inode).then(|| target.to_string_lossy().into_owned())
        });
    Some(named.unwrap_or_else(|| format!("inode {inode}")))
}

/// The inode a `/proc/locks` line locks, if it is a POSIX lock of `pid`:
/// `1: POSIX  ADVISORY  WRITE 4242 08:02:131 0 EOF` (a waiting lock's line
/// starts `1: -> POSIX`).
fn posix_lock_inode(line: &str, pid: i32) -> Option<u64> {
    let mut fields = line.split_whitespace().skip(1);
    if fields.next()? != "POSIX" {
        return None;
    }
    let owner: i32 = fields.nth(2)?.parse().ok()?;
    if owner != pid {
        return None;
    }
    fields.next()?.rsplit(':').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_posix_lock_of_this_process_counts() {
        let line = "1: POSIX  ADVISORY  WRITE 4242 08:02:131 0 EOF";
        assert_eq!(posix_lock_inode(line, 4242), Some(131));
        assert_eq!(posix_lock_inode(line, 4243), None);
        assert_eq!(
            posix_lock_inode("2: FLOCK  ADVISORY  WRITE 4242 08:02:9 0 EOF", 4242),
            None
        );
        assert_eq!(
            posix_lock_inode("3: OFDLCK ADVISORY  READ  -1 08:02:9 0 EOF", 4242),
            None
        );
        assert_eq!(
            posix_lock_inode("1: -> POSIX  ADVISORY  WRITE 4242 08:02:131 0 EOF", 4242),
            None
        );
    }
}
