//! What `stat` said of a file when the program read it: the engine sends it
//! with each registration, the watcher compares it with the file later.

#![forbid(unsafe_code)]

/// What `stat` said of a file when the program read it. The watcher
/// watches a directory's file contents only once the program's burst of
/// opens there is over (see `event_loop`), and then compares: a stamp that
/// changed is an edit made before its events were watched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    pub device: u64,
    pub inode: u64,
    pub size: i64,
    pub modified: (i64, i64),
    pub changed: (i64, i64),
}

impl FileStamp {
    pub fn of(stat: &libc::stat) -> FileStamp {
        FileStamp {
            device: stat.st_dev,
            inode: stat.st_ino,
            size: stat.st_size,
            modified: (stat.st_mtime, stat.st_mtime_nsec),
            changed: (stat.st_ctime, stat.st_ctime_nsec),
        }
    }

    /// The file at `path` as `stat` sees it now, if it is there.
    pub fn of_path(path: &std::ffi::CStr) -> Option<FileStamp> {
        nix::sys::stat::stat(path)
            .ok()
            .map(|stat| FileStamp::of(&stat))
    }
}
