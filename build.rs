//! Links the unwinder statically (libgcc_eh.a) where the target's C compiler
//! has it.
//!
//! Rust's std on linux-gnu unwinds panics through libgcc_s.so, which no Lua
//! interpreter or small C program loads otherwise: preloading forkmon then
//! loaded one more shared library, whose constructor probes the CPU
//! (CPUID traps to the hypervisor in a VM). That was 0.11 ms of every
//! process start, half of what loading forkmon cost. With libgcc_eh.a
//! named first, its symbols are bound inside forkmon.so, the linker's
//! `--as-needed` drops libgcc_s, and the unwinder stays private (a cdylib
//! exports only forkmon's own symbols), so a C++ host keeps its own.
//!
//! Not for the LuaJIT module: LuaJIT loads libgcc_s anyway, and raises Lua
//! errors with it through forkmon's Lua functions, which are then best
//! unwound by that same unwinder. Without libgcc_eh.a the build falls back
//! to libgcc_s, and says so.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.contains("linux-gnu") || std::env::var_os("CARGO_FEATURE_LUAJIT").is_some() {
        return;
    }
    match libgcc_eh_dir() {
        Some(dir) => {
            println!("cargo::rustc-link-search=native={}", dir.display());
            println!("cargo::rustc-link-lib=static=gcc_eh");
            // Tells the tests which unwinder to expect.
            println!("cargo::rustc-env=FORKMON_STATIC_UNWINDER=1");
        }
        None => println!(
            "cargo::warning=no libgcc_eh.a from the C compiler: forkmon.so will load libgcc_s.so (0.1 ms more per process start)"
        ),
    }
}

/// The directory of libgcc_eh.a of the C compiler for the target (the `cc`
/// crate honours `CC`, `TARGET_CC` and `CC_<target>`, as for cross builds).
fn libgcc_eh_dir() -> Option<std::path::PathBuf> {
    let compiler = cc::Build::new()
        .cargo_metadata(false)
        .cargo_warnings(false)
        .try_get_compiler()
        .ok()?;
    let output = compiler
        .to_command()
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()?;
    let printed = String::from_utf8(output.stdout).ok()?;
    let file = std::path::PathBuf::from(printed.trim());
    // Without the file, the compiler prints the bare name back.
    if !output.status.success() || !file.is_absolute() || !file.is_file() {
        return None;
    }
    Some(file.parent()?.to_path_buf())
}
