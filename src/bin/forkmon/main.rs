//! `forkmon`: run a Lua script, or any program, with forkmon checkpoints.
//!
//! ```text
//! forkmon [options] app.lua [args...]       a Lua script (lua5.4, or $FORKMON_LUA)
//! forkmon [options] -- PROGRAM [args...]    any program, with forkmon.so preloaded
//! forkmon [options] busted [busted's args]  busted, re-running the spec files a save affects
//! ```
//!
//! The command turns its options into forkmon's environment variables,
//! preloads the library and execs the program: no shell, no process of its
//! own left between the terminal and the program.

#![forbid(unsafe_code)]

mod args;
mod busted;
mod launch;
mod library_file;

use std::process::ExitCode;

use args::Parsed;

fn main() -> ExitCode {
    match args::parse(std::env::args_os().skip(1)) {
        Ok(Parsed::Help) => {
            print!("{}", args::HELP);
            ExitCode::SUCCESS
        }
        Ok(Parsed::Version) => {
            println!("forkmon {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Ok(Parsed::Run(invocation)) => {
            // Only returns if the program could not be started.
            let error: Box<dyn std::fmt::Display> = match busted::wanted(&invocation) {
                true => Box::new(busted::exec(invocation)),
                false => Box::new(launch::exec(invocation)),
            };
            eprintln!("forkmon: {error}");
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("forkmon: {error} (see forkmon --help)");
            ExitCode::from(2)
        }
    }
}
