//! The `[forkmon]` lines on stderr: one `write(2)` each, so that lines
//! from the holders, the watcher and the program never interleave mid-line.

#![forbid(unsafe_code)]

use std::fmt::Arguments;
use std::sync::atomic::{AtomicU8, Ordering};

const UNSET: u8 = 0;
const QUIET: u8 = 1;
const PLAIN: u8 = 2;
const COLOURED: u8 = 3;

static STYLE: AtomicU8 = AtomicU8::new(UNSET);

/// How a message reads: the colour hints at what the user should notice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// A file is watched; the program ended and forkmon waits.
    Info,
    /// A file changed and the program resumes.
    Change,
    /// Something did not work and forkmon goes on without it.
    Warn,
}

/// Where messages go and how they look, decided once from the options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Output {
    pub quiet: bool,
    pub colours: bool,
}

pub fn set_output(output: Output) {
    let style = match output {
        Output { quiet: true, .. } => QUIET,
        Output { colours: true, .. } => COLOURED,
        _ => PLAIN,
    };
    STYLE.store(style, Ordering::Relaxed);
}

/// Formats one `[forkmon]` line (without writing it).
pub fn format_line(level: Level, colours: bool, message: Arguments) -> String {
    if !colours {
        return format!("[forkmon] {message}\n");
    }
    let colour = match level {
        Level::Info => "\x1b[36m",
        Level::Change => "\x1b[33m",
        Level::Warn => "\x1b[31m",
    };
    format!("\x1b[1;36m[forkmon]\x1b[0m {colour}{message}\x1b[0m\n")
}

/// Writes one line to stderr, unless quiet. Before the options are read it
/// is plain text.
pub fn say(level: Level, message: Arguments) {
    let colours = match STYLE.load(Ordering::Relaxed) {
        QUIET => return,
        COLOURED => true,
        _ => false,
    };
    let line = format_line(level, colours, message);
    // A closed stderr is no reason to disturb the host program, nor to end
    // it by SIGPIPE.
    crate::sys::signals::write_stderr(line.as_bytes());
}

#[macro_export]
macro_rules! info { ($($t:tt)*) => { $crate::log::say($crate::log::Level::Info, format_args!($($t)*)) } }
#[macro_export]
macro_rules! change { ($($t:tt)*) => { $crate::log::say($crate::log::Level::Change, format_args!($($t)*)) } }
#[macro_export]
macro_rules! warn { ($($t:tt)*) => { $crate::log::say($crate::log::Level::Warn, format_args!($($t)*)) } }

/// A path as the user should read it in a message.
pub fn shown(path: &[u8]) -> std::borrow::Cow<'_, str> {
    // A line break in a file's name must not split forkmon's line.
    match String::from_utf8_lossy(path) {
        std::borrow::Cow::Borrowed(text) => one_line(text),
        std::borrow::Cow::Owned(text) => std::borrow::Cow::Owned(one_line(&text).into_owned()),
    }
}

/// `text` fit for one line: control characters (a line break, an escape
/// sequence) written as Rust escapes (`\n`, `\u{1b}`), the rest as it is.
/// For values the user gave, shown back in an error.
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut line = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    std::borrow::Cow::Owned(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_carry_the_prefix_and_no_escape_codes() {
        let line = format_line(Level::Warn, false, format_args!("bad {}", 1));
        assert_eq!(line, "[forkmon] bad 1\n");
    }

    #[test]
    fn one_line_escapes_control_characters_only() {
        assert_eq!(one_line("%.lua$ é"), "%.lua$ é");
        assert_eq!(one_line("1\n2\t\u{1b}[31m\r"), "1\\n2\\t\\u{1b}[31m\\r");
    }

    #[test]
    fn a_path_is_shown_on_one_line() {
        assert_eq!(shown(b"/app/two\nlines.lua"), "/app/two\\nlines.lua");
        assert_eq!(shown(b"/app/\xff.lua"), "/app/\u{fffd}.lua");
    }

    #[test]
    fn coloured_lines_reset_their_colour() {
        let line = format_line(Level::Change, true, format_args!("x"));
        assert!(line.contains("\x1b[33mx"));
        assert!(line.ends_with("\x1b[0m\n"));
    }
}
