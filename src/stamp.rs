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

    /// Its bytes in the messages forkmon's processes exchange (the
    /// journal's records, `forkmon.each`'s reports).
    pub fn to_bytes(&self) -> [u8; FileStamp::ENCODED_LEN] {
        let mut out = [0u8; FileStamp::ENCODED_LEN];
        let fields = [
            self.device.to_le_bytes(),
            self.inode.to_le_bytes(),
            self.size.to_le_bytes(),
            self.modified.0.to_le_bytes(),
            self.modified.1.to_le_bytes(),
            self.changed.0.to_le_bytes(),
            self.changed.1.to_le_bytes(),
        ];
        for (slot, field) in out.chunks_exact_mut(8).zip(fields) {
            slot.copy_from_slice(&field);
        }
        out
    }

    /// The stamp `to_bytes` wrote.
    pub fn from_bytes(bytes: &[u8; FileStamp::ENCODED_LEN]) -> FileStamp {
        let mut words = bytes.chunks_exact(8).map(|word| {
            let mut field = [0u8; 8];
            field.copy_from_slice(word);
            field
        });
        let mut next = || words.next().unwrap_or_default();
        let device = u64::from_le_bytes(next());
        let inode = u64::from_le_bytes(next());
        let mut signed = || i64::from_le_bytes(next());
        FileStamp {
            device,
            inode,
            size: signed(),
            modified: (signed(), signed()),
            changed: (signed(), signed()),
        }
    }

    /// Seven 8-byte fields.
    pub const ENCODED_LEN: usize = 56;
}

#[cfg(test)]
mod tests {
    use super::FileStamp;

    #[test]
    fn a_stamp_survives_its_bytes() {
        let stamp = FileStamp {
            device: 1,
            inode: u64::MAX,
            size: -1,
            modified: (2, 3),
            changed: (i64::MIN, 999_999_999),
        };
        assert_eq!(FileStamp::from_bytes(&stamp.to_bytes()), stamp);
    }
}
