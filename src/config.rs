//! Options, read once from the environment into a typed [`Config`].
//!
//! Every bad value is a [`ConfigError`] that names the variable and the
//! value. The caller prints one line per error and leaves the program to run
//! on unwatched; no value is silently replaced by a default.

#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::time::Duration;

use crate::filter::{Filter, FilterError};
use crate::log::{Output, one_line};
use crate::published::Published;

pub const FILTER: &str = "FORKMON_FILTER";
pub const QUIET: &str = "FORKMON_QUIET";
pub const NO_COLORS: &str = "FORKMON_NO_COLORS";
pub const NO_COLOR: &str = "NO_COLOR";
pub const RESTART_DELAY: &str = "FORKMON_RESTART_DELAY";
pub const IGNORE_DELAY: &str = "FORKMON_IGNORE_DELAY";
/// Least work, in ms, between two checkpoints (files opened sooner are tied
/// to the last checkpoint).
pub const MIN_WORK: &str = "FORKMON_MIN_WORK";
/// Clear the terminal before each resume (what `forkmon -c` sets).
pub const CLEAR: &str = "FORKMON_CLEAR";
/// Set in a resumed child: how many resumes happened so far (1 on the first).
pub const RESTART_TICKS: &str = "FORKMON_RESTART_TICKS";
/// Set by the `forkmon` command when FORKMON_FILTER is its own default
/// (every file below the current directory), not one the user chose.
pub const DEFAULT_FILTER: &str = "FORKMON_DEFAULT_FILTER";
/// Set by the process that made a program's first checkpoint, to its pid
/// (that of the tree's first holder): a Lua a spec starts as its own
/// interpreter was started (`arg[-3] .. " " .. arg[-2] .. " " .. arg[-1]`,
/// which under `forkmon busted` is `lua5.4 -l forkmon.busted`) runs
/// without forkmon, as it would under plain busted.
pub const WATCHED_TREE: &str = "FORKMON_WATCHED_TREE";

/// The variables the user sets for forkmon (the library's options, and
/// the command's and its busted integration's), besides those it sets for
/// itself: another `FORKMON_` variable close to one of the first is most
/// likely a typo of it.
const OPTIONS: [&str; 12] = [
    FILTER,
    QUIET,
    NO_COLORS,
    RESTART_DELAY,
    IGNORE_DELAY,
    MIN_WORK,
    CLEAR,
    "FORKMON_TRACE",
    "FORKMON_LIBRARY",
    "FORKMON_LUA",
    "FORKMON_MODULE",
    "FORKMON_BUSTED_TIMEOUT",
];
const OWN_VARIABLES: [&str; 5] = [
    RESTART_TICKS,
    DEFAULT_FILTER,
    WATCHED_TREE,
    "FORKMON_OPTIONS_CHECKED",
    "FORKMON_FIRST_PID",
];

/// The environment variables among `names` that look like a misspelled
/// option, each with the option it is closest to: `FORKMON_FILTR`,
/// `FORKMON_NO_COLOR`, `forkmon_filter`. A variable of another tool that
/// merely starts with `FORKMON_` is too far from every option to count.
pub fn misspelled_options<'a>(names: impl Iterator<Item = &'a str>) -> Vec<(String, &'static str)> {
    let mut found = Vec::new();
    for name in names {
        let upper = name.to_ascii_uppercase();
        if !upper.starts_with("FORKMON_")
            || OPTIONS.contains(&name)
            || OWN_VARIABLES.contains(&name)
        {
            continue;
        }
        let closest = OPTIONS
            .iter()
            .map(|option| (strsim::levenshtein(&upper, option), *option))
            .min();
        // Two letters off a short name (`FORKMON_LOG`, `FORKMON_LUA`) is
        // another word.
        if let Some((distance, option)) = closest
            && distance
                <= if option.len() <= "FORKMON_".len() + 4 {
                    1
                } else {
                    2
                }
        {
            found.push((name.to_owned(), option));
        }
    }
    found
}

/// Quiet window after the last change event (of a file whose writer has
/// closed it) before the program resumes: long enough to fold the files of
/// one `git checkout` or the steps of one save into one resume, short
/// enough to stay out of the way (the benchmark's edit-to-output median is
/// about this plus 1.5 ms).
pub const DEFAULT_RESTART_DELAY: Duration = Duration::from_millis(4);
/// Changes seen this soon after a resume are dropped. Off by default: the
/// settling above already folds one save into one resume.
pub const DEFAULT_IGNORE_DELAY: Duration = Duration::ZERO;
/// A fork costs about a millisecond for a small program and more for a big
/// heap: below this much work since the last checkpoint, a new one would cost
/// more than it saves.
pub const DEFAULT_MIN_WORK: Duration = Duration::from_millis(5);
/// The longest delay accepted, so that a typo cannot freeze resumes.
pub const MAX_DELAY_MS: u64 = 60_000;

#[derive(Debug, Clone)]
pub struct Config {
    /// The spec the filter was compiled from, to show and to change.
    pub filter_spec: String,
    pub filter: Filter,
    pub output: Output,
    pub restart_delay: Duration,
    pub ignore_delay: Duration,
    pub min_work: Duration,
    pub clear: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{FILTER} is not set: say which files to watch, for example {FILTER}='%.lua$'")]
    FilterUnset,
    #[error("{var}='{}' has no pattern: give at least one, for example '%.lua$'", one_line(.value))]
    FilterEmpty { var: &'static str, value: String },
    #[error("{var}: {source}")]
    Filter {
        var: &'static str,
        source: FilterError,
    },
    #[error("{var}='{}' is not a whole number of milliseconds", one_line(.value))]
    NotANumber { var: &'static str, value: String },
    #[error("{var}='{}' is negative: a delay is 0 or more milliseconds", one_line(.value))]
    Negative { var: &'static str, value: String },
    #[error("{var}='{}' is too long: at most {MAX_DELAY_MS} milliseconds", one_line(.value))]
    TooLong { var: &'static str, value: String },
    #[error("{var}='{}' is not a switch: use 1 or 0 (also true/false, yes/no, on/off)", one_line(.value))]
    NotASwitch { var: &'static str, value: String },
    #[error("{var} is not valid UTF-8: {}", one_line(.value))]
    NotUtf8 { var: &'static str, value: String },
}

/// Where the values come from: the process environment in production, a
/// map in tests.
pub trait Source {
    fn get(&self, var: &str) -> Option<OsString>;
}

/// The real environment.
pub struct Environment;

impl Source for Environment {
    fn get(&self, var: &str) -> Option<OsString> {
        crate::sys::env_var(var)
    }
}

impl<F: Fn(&str) -> Option<OsString>> Source for F {
    fn get(&self, var: &str) -> Option<OsString> {
        self(var)
    }
}

/// An unset or empty variable is absent.
fn text(source: &dyn Source, var: &'static str) -> Result<Option<String>, ConfigError> {
    match source.get(var) {
        None => Ok(None),
        Some(value) if value.is_empty() => Ok(None),
        Some(value) => value
            .into_string()
            .map(Some)
            .map_err(|raw| ConfigError::NotUtf8 {
                var,
                value: raw.to_string_lossy().into_owned(),
            }),
    }
}

pub fn parse_switch(var: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::NotASwitch {
            var,
            value: value.to_owned(),
        }),
    }
}

fn switch(source: &dyn Source, var: &'static str) -> Result<bool, ConfigError> {
    match text(source, var)? {
        None => Ok(false),
        Some(value) => parse_switch(var, &value),
    }
}

pub fn parse_delay(var: &'static str, value: &str) -> Result<Duration, ConfigError> {
    let owned = || value.to_owned();
    if let Some(rest) = value.strip_prefix('-') {
        if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::Negative {
                var,
                value: owned(),
            });
        }
    }
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError::NotANumber {
            var,
            value: owned(),
        });
    }
    match value.parse::<u64>() {
        Ok(ms) if ms <= MAX_DELAY_MS => Ok(Duration::from_millis(ms)),
        _ => Err(ConfigError::TooLong {
            var,
            value: owned(),
        }),
    }
}

fn delay(
    source: &dyn Source,
    var: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match text(source, var)? {
        None => Ok(default),
        Some(value) => parse_delay(var, &value),
    }
}

pub fn parse_filter(var: &'static str, value: &str) -> Result<Filter, ConfigError> {
    let filter = Filter::parse(value).map_err(|source| ConfigError::Filter { var, source })?;
    if filter.is_empty() {
        return Err(ConfigError::FilterEmpty {
            var,
            value: value.to_owned(),
        });
    }
    Ok(filter)
}

/// `dir` as a Lua pattern that matches it at the start of a path, with a
/// trailing '/'. A ';' (which would split the filter) becomes '.', which
/// matches it too; bytes that are not UTF-8 become '.' as well.
fn below(dir: &[u8]) -> String {
    let mut pattern = String::from("^");
    for part in dir.utf8_chunks() {
        for c in part.valid().chars() {
            match c {
                ';' => pattern.push('.'),
                c if "^$()%.[]*+-?".contains(c) => {
                    pattern.push('%');
                    pattern.push(c);
                }
                c => pattern.push(c),
            }
        }
        pattern.extend(std::iter::repeat_n('.', part.invalid().len()));
    }
    if !pattern.ends_with('/') {
        pattern.push('/');
    }
    pattern
}

/// The Lua module's filter when FORKMON_FILTER is unset: the app's own Lua
/// files, below the directory it started in, not installed modules.
pub fn default_lua_filter(start_dir: &[u8]) -> String {
    below(start_dir) + ".*%.lua$"
}

/// The `forkmon` command's filter for a program: every file below the
/// current directory (the project), none of the system's.
pub fn default_project_filter(start_dir: &[u8]) -> String {
    below(start_dir)
}

/// The output options alone: they decide how the other errors are shown.
pub fn output(source: &dyn Source, stderr_is_terminal: bool) -> (Output, Vec<ConfigError>) {
    let mut errors = Vec::new();
    let quiet = switch(source, QUIET).unwrap_or_else(|e| {
        errors.push(e);
        false
    });
    let no_colours = switch(source, NO_COLORS).unwrap_or_else(|e| {
        errors.push(e);
        false
    });
    // NO_COLOR (no-color.org): present and not empty disables colour.
    let no_color = source.get(NO_COLOR).is_some_and(|v| !v.is_empty());
    let colours = stderr_is_terminal && !no_colours && !no_color;
    (Output { quiet, colours }, errors)
}

/// All options. `default_filter` is used when FORKMON_FILTER is unset (the
/// Lua module has one; the preload library has none and requires it).
pub fn load(
    source: &dyn Source,
    stderr_is_terminal: bool,
    default_filter: Option<&str>,
) -> Result<Config, (Output, Vec<ConfigError>)> {
    let (output, mut errors) = output(source, stderr_is_terminal);
    let compile = |value: &str, errors: &mut Vec<ConfigError>| {
        parse_filter(FILTER, value)
            .map(|f| (value.to_owned(), f))
            .map_err(|e| errors.push(e))
            .ok()
    };
    let filter = match text(source, FILTER) {
        Ok(Some(value)) => compile(&value, &mut errors),
        Ok(None) => match default_filter {
            Some(value) => compile(value, &mut errors),
            None => {
                errors.push(ConfigError::FilterUnset);
                None
            }
        },
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let restart_delay = delay(source, RESTART_DELAY, DEFAULT_RESTART_DELAY)
        .map_err(|e| errors.push(e))
        .ok();
    let ignore_delay = delay(source, IGNORE_DELAY, DEFAULT_IGNORE_DELAY)
        .map_err(|e| errors.push(e))
        .ok();
    let min_work = delay(source, MIN_WORK, DEFAULT_MIN_WORK)
        .map_err(|e| errors.push(e))
        .ok();
    let clear = switch(source, CLEAR).unwrap_or_else(|e| {
        errors.push(e);
        false
    });
    match (filter, restart_delay, ignore_delay, min_work) {
        (Some((filter_spec, filter)), Some(restart_delay), Some(ignore_delay), Some(min_work))
            if errors.is_empty() =>
        {
            Ok(Config {
                filter_spec,
                filter,
                output,
                restart_delay,
                ignore_delay,
                min_work,
                clear,
            })
        }
        _ => Err((output, errors)),
    }
}

/// The options in force for this process: set by the way in that switched
/// forkmon on, replaced by `forkmon.configure` from Lua; read by the hooks
/// on every open, without a lock.
static ACTIVE: Published<Config> = Published::new();

pub fn active() -> Option<&'static Config> {
    ACTIVE.get()
}

/// Makes `config` the active one.
pub fn publish(config: Config) -> &'static Config {
    ACTIVE.publish(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |var: &str| map.get(var).cloned()
    }

    fn errors_of(pairs: &[(&str, &str)]) -> Vec<String> {
        match load(&env(pairs), false, None) {
            Ok(_) => vec![],
            Err((_, errors)) => errors.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn defaults_apply_when_only_the_filter_is_given() {
        let config = load(&env(&[(FILTER, "%.lua$")]), true, None).expect("valid");
        assert_eq!(config.restart_delay, DEFAULT_RESTART_DELAY);
        assert_eq!(config.ignore_delay, DEFAULT_IGNORE_DELAY);
        assert_eq!(
            config.output,
            Output {
                quiet: false,
                colours: true
            }
        );
    }

    #[test]
    fn the_preload_library_requires_a_filter() {
        assert_eq!(errors_of(&[]), vec![ConfigError::FilterUnset.to_string()]);
        assert!(load(&env(&[]), false, Some("%.lua$")).is_ok());
    }

    #[test]
    fn bad_numbers_name_the_variable_and_the_value() {
        let errors = errors_of(&[
            (FILTER, "%.lua$"),
            (RESTART_DELAY, "abc"),
            (IGNORE_DELAY, "-5"),
        ]);
        assert_eq!(
            errors,
            vec![
                "FORKMON_RESTART_DELAY='abc' is not a whole number of milliseconds",
                "FORKMON_IGNORE_DELAY='-5' is negative: a delay is 0 or more milliseconds",
            ]
        );
        for bad in ["1.5", " 5", "5ms", "0x10", "-", "99999999999999999999999"] {
            assert!(parse_delay(RESTART_DELAY, bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(parse_delay(RESTART_DELAY, "0"), Ok(Duration::ZERO));
        assert_eq!(
            parse_delay(RESTART_DELAY, "60000"),
            Ok(Duration::from_secs(60))
        );
    }

    #[test]
    fn colours_follow_the_terminal_and_both_opt_outs() {
        let on = |pairs: &[(&str, &str)], tty| output(&env(pairs), tty).0.colours;
        assert!(on(&[], true));
        assert!(!on(&[], false));
        assert!(!on(&[(NO_COLOR, "1")], true));
        assert!(on(&[(NO_COLOR, "")], true));
        assert!(!on(&[(NO_COLORS, "1")], true));
    }

    #[test]
    fn switches_accept_the_usual_words_and_reject_others() {
        assert_eq!(parse_switch(QUIET, "YES"), Ok(true));
        assert_eq!(parse_switch(QUIET, "off"), Ok(false));
        let errors = errors_of(&[(FILTER, "%.lua$"), (QUIET, "maybe")]);
        assert_eq!(
            errors,
            vec![
                "FORKMON_QUIET='maybe' is not a switch: use 1 or 0 (also true/false, yes/no, on/off)"
            ]
        );
    }

    #[test]
    fn the_default_filters_take_files_below_the_start_directory_only() {
        let lua = Filter::parse(&default_lua_filter(b"/home/u/my-app.v2")).expect("valid");
        assert!(
            lua.matches(b"/home/u/my-app.v2/src/game.lua")
                .expect("bounded")
        );
        assert!(
            !lua.matches(b"/home/u/my-app.v2/data.json")
                .expect("bounded")
        );
        assert!(
            !lua.matches(b"/usr/share/lua/5.4/inspect.lua")
                .expect("bounded")
        );
        assert!(!lua.matches(b"/home/u/my-appXv2/a.lua").expect("bounded"));
        let accents =
            Filter::parse(&default_lua_filter("/home/josé/a;b".as_bytes())).expect("valid");
        assert_eq!(
            accents.patterns().count(),
            1,
            "';' must not split the filter"
        );
        assert!(
            accents
                .matches("/home/josé/a;b/x.lua".as_bytes())
                .expect("bounded")
        );
        let bytes = Filter::parse(&default_lua_filter(b"/d/\xff")).expect("valid");
        assert!(bytes.matches(b"/d/\xff/x.lua").expect("bounded"));
        let project = Filter::parse(&default_project_filter(b"/src/")).expect("valid");
        assert!(project.matches(b"/src/main.c").expect("bounded"));
        assert!(!project.matches(b"/usr/include/stdio.h").expect("bounded"));
    }

    #[test]
    fn an_empty_filter_list_is_an_error() {
        assert_eq!(
            errors_of(&[(FILTER, ";;")]),
            vec!["FORKMON_FILTER=';;' has no pattern: give at least one, for example '%.lua$'"]
        );
    }

    #[test]
    fn a_misspelled_option_is_found_and_another_tools_variable_is_not() {
        let names = [
            "FORKMON_FILTR",
            "FORKMON_NO_COLOR",
            "forkmon_filter",
            "FORKMON_MIN_WORKS",
            "FORKMON_FILTER",
            "FORKMON_RESTART_TICKS",
            "FORKMON_TEST_MARKER",
            "FORKMON_SPEC_LUA",
            "FORKMON_LOG",
            "FORKMON_LIBRARI",
            "FORKMON_BUSTED_TIMOUT",
            "FORKMON_LUA",
            "PATH",
        ];
        assert_eq!(
            misspelled_options(names.into_iter()),
            [
                ("FORKMON_FILTR".to_owned(), FILTER),
                ("FORKMON_NO_COLOR".to_owned(), NO_COLORS),
                ("forkmon_filter".to_owned(), FILTER),
                ("FORKMON_MIN_WORKS".to_owned(), MIN_WORK),
                ("FORKMON_LIBRARI".to_owned(), "FORKMON_LIBRARY"),
                ("FORKMON_BUSTED_TIMOUT".to_owned(), "FORKMON_BUSTED_TIMEOUT"),
            ]
        );
    }
}
