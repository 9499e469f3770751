//! Whether a file given as forkmon's library (or Lua module) is one: the
//! loader only warns about a file it cannot preload, and Lua's `require`
//! searches on past a module it cannot load, so the program would run
//! unwatched or with another copy.

use std::fs;
use std::path::{Path, PathBuf};

/// A name only forkmon's library has: its Lua entry point, in its table
/// of exported names (every build has it). Kept reversed, or this command
/// would hold it too.
const OWN_SYMBOL_REVERSED: &[u8] = b"\0nomkrof_nepoaul";

/// The file's full path, or why it is not forkmon's library.
pub fn check(path: &Path) -> Result<PathBuf, &'static str> {
    let found = fs::canonicalize(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied",
        _ => "no such file",
    })?;
    if !found.is_file() {
        return Err("not a file");
    }
    let bytes = fs::read(&found).map_err(|error| match error.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied",
        _ => "cannot be read",
    })?;
    if !bytes.starts_with(b"\x7fELF") {
        return Err("not a shared library (no ELF header)");
    }
    if has_interpreter(&bytes) {
        // (A debug build of this command even has the library's names.)
        return Err("a program, not a shared library");
    }
    let has_own_symbol = bytes
        .windows(OWN_SYMBOL_REVERSED.len())
        .any(|window| window.iter().rev().eq(OWN_SYMBOL_REVERSED));
    if !has_own_symbol {
        return Err("a shared library, but not forkmon's (it has no luaopen_forkmon)");
    }
    Ok(found)
}

/// Whether a 64-bit little-endian ELF file asks for a program interpreter
/// (`PT_INTERP`): programs do, forkmon's library does not.
fn has_interpreter(elf: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    let read = |at: usize, len: usize| elf.get(at..at + len);
    let number = |at: usize, len: usize| {
        read(at, len).map(|bytes| {
            bytes
                .iter()
                .rev()
                .fold(0u64, |value, &byte| (value << 8) | u64::from(byte))
        })
    };
    // ELFCLASS64, ELFDATA2LSB: other kinds are not told apart here.
    if elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
        return false;
    }
    let (Some(table), Some(entry_size), Some(entries)) =
        (number(0x20, 8), number(0x36, 2), number(0x38, 2))
    else {
        return false;
    };
    (0..entries).any(|n| {
        usize::try_from(table + n * entry_size)
            .ok()
            .and_then(|at| number(at, 4))
            == Some(u64::from(PT_INTERP))
    })
}

/// Whether `path` is forkmon's library, found where it was looked for.
pub fn is_one(path: &Path) -> Option<PathBuf> {
    check(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_shared_library_or_a_text_file_is_not_forkmons() {
        let dir = std::env::temp_dir().join(format!("forkmon-library-file-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let text = dir.join("text");
        fs::write(&text, "hello").unwrap();
        assert_eq!(check(&text), Err("not a shared library (no ELF header)"));
        let other = dir.join("other.so");
        fs::write(&other, b"\x7fELF\x02\x01\x01luaopen_other\0").unwrap();
        assert_eq!(
            check(&other),
            Err("a shared library, but not forkmon's (it has no luaopen_forkmon)")
        );
        let own = dir.join("own.so");
        fs::write(&own, b"\x7fELF\x02\x01\x01luaopen_forkmon\0").unwrap();
        assert_eq!(check(&own), Ok(fs::canonicalize(&own).unwrap()));
        assert_eq!(check(&dir.join("missing")), Err("no such file"));
        assert_eq!(check(&dir), Err("not a file"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
