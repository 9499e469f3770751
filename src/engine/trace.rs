//! `FORKMON_TRACE=1`: a holder says on stderr how long each phase of a
//! resume took (a developer's measure of where the time goes; see
//! docs/ARCHITECTURE.md, *Costs*). Off by default, and then free.

use std::time::Instant;

use crate::info;

/// The phases of one resume, each with the moment it ended.
pub struct ResumeTrace {
    start: Instant,
    phases: Vec<(&'static str, Instant)>,
}

/// Whether tracing is on: read once, by the first holder (a copy of the
/// program while it has one thread).
pub fn enabled() -> bool {
    crate::sys::env_var("FORKMON_TRACE").is_some_and(|value| value == "1")
}

impl ResumeTrace {
    /// Starts a trace at the resume order, if tracing is on.
    pub fn start(on: bool) -> Option<ResumeTrace> {
        on.then(|| ResumeTrace {
            start: Instant::now(),
            phases: Vec::with_capacity(8),
        })
    }

    /// The phase `name` ended now.
    pub fn mark(&mut self, name: &'static str) {
        self.phases.push((name, Instant::now()));
    }

    /// One line: each phase's length in ms.
    pub fn say(&self, who: &str, number: u64) {
        let mut last = self.start;
        let mut line = String::new();
        for (name, at) in &self.phases {
            let took = at.saturating_duration_since(last).as_secs_f64() * 1e3;
            line.push_str(&format!(" {name} {took:.2}"));
            last = *at;
        }
        let total = last.saturating_duration_since(self.start).as_secs_f64() * 1e3;
        info!("trace: resume #{number} in the {who} (ms):{line}; total {total:.2}");
    }
}
