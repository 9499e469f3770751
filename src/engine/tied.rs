//! The files that have a checkpoint in a process's past, looked up on every
//! watched open.
//!
//! Kept as 128-bit digests of the paths, not the paths: a set of paths
//! grows in the program's heap by one allocation per file, and each growth
//! of the table hashed every path again through a pointer into that heap.
//! A re-run of 10,000 modules spent about 4 ms in that set (perf); 16 bytes
//! inline per file cost a quarter of it. Two paths that share a digest
//! would make the second one unwatched: at xxh3's 128 bits, a program of a
//! million files has less than one chance in 10^26 of that.

#![forbid(unsafe_code)]

use rustc_hash::FxHashSet;
use xxhash_rust::xxh3::xxh3_128;

#[derive(Default)]
pub struct TiedFiles {
    digests: FxHashSet<u128>,
}

impl TiedFiles {
    pub fn contains(&self, path: &[u8]) -> bool {
        self.digests.contains(&xxh3_128(path))
    }

    /// Adds `path`; false if it was there already.
    pub fn insert(&mut self, path: &[u8]) -> bool {
        self.digests.insert(xxh3_128(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_tied_once_and_its_neighbours_are_not() {
        let mut tied = TiedFiles::default();
        assert!(tied.insert(b"/app/mods/a.lua"));
        assert!(!tied.insert(b"/app/mods/a.lua"));
        assert!(tied.contains(b"/app/mods/a.lua"));
        for other in [
            &b"/app/mods/a.lu"[..],
            b"/app/mods/a.lua/",
            b"/app/mods/b.lua",
            b"",
        ] {
            assert!(!tied.contains(other));
        }
        for i in 0..10_000 {
            assert!(tied.insert(format!("/app/mods/m{i:04}.lua").as_bytes()));
        }
        assert!((0..10_000).all(|i| tied.contains(format!("/app/mods/m{i:04}.lua").as_bytes())));
    }
}
