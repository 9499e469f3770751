//! Links the unwinder statically (libgcc_eh.a) where the C compiler has it.
//!
//! Rust's std on linux-gnu unwinds panics through libgcc_s.so, which no Lua
//! interpreter or small C program loads otherwise: preloading forkmon then
//! loaded one more shared library, whose constructor probes the CPU
//! (CPUID traps to the hypervisor in a VM). That was 0.11 ms of every
//! process start, half of what loading forkmon cost. With libgcc_eh.a
//! named first, its symbols are bound inside forkmon.so, the linker's
//! `--as-needed` drops libgcc_s, and the unwinder stays private (a cdylib
//! exports only forkmon's own symbols), so a C++ host keeps its own.
//! Without libgcc_eh.a the build falls back to libgcc_s, as before.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CC");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.contains("linux-gnu") {
        return;
    }
    if let Some(dir) = libgcc_eh_dir() {
        println!("cargo::rustc-link-search=native={}", dir.display());
        println!("cargo::rustc-link-lib=static=gcc_eh");
    }
}

/// The directory of the C compiler's libgcc_eh.a, if it has one.
fn libgcc_eh_dir() -> Option<PathBuf> {
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let output = Command::new(compiler)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()?;
    let printed = String::from_utf8(output.stdout).ok()?;
    let file = PathBuf::from(printed.trim());
    // Without the file, the compiler prints the bare name back.
    if !output.status.success() || !file.is_absolute() || !file.is_file() {
        return None;
    }
    Some(file.parent()?.to_path_buf())
}
