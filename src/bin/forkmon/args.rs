//! The command line, in the habits of entr, watchexec and nodemon. Values
//! are checked with the library's own parsers, so a bad one is refused here
//! with the message the environment variable would give.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use forkmon::config;

pub const HELP: &str = "\
forkmon: resume a program from just before a changed file was read

Usage:
  forkmon [options] app.lua [args...]       run a Lua script with checkpoints
  forkmon [options] -- PROGRAM [args...]    preload forkmon into any program
  forkmon [options] PROGRAM [args...]       the same, when PROGRAM is not a .lua file
  forkmon [options] busted [busted's args]  busted: each save runs the spec files it affects

Options:
  -f, --filter PATTERNS   ;-separated Lua patterns matched against absolute paths
                          (default: .lua files below the current directory for a
                          script; every file below it for a program)
  -q, --quiet             print nothing
      --restart-delay MS  quiet time after a save before resuming (default 4)
      --ignore-delay MS   ignore changes this long after a resume (default 0)
      --min-work MS       least work between two checkpoints; files read sooner
                          are tied to the last one (default 5; 0: one per file)
      --no-color          no colours
  -c, --clear             clear the screen before each resume
      --library PATH      the forkmon.so to preload (default: found next to this
                          command, or $FORKMON_LIBRARY)
  -h, --help              this help
  -V, --version           the version

A script runs under $FORKMON_LUA, else lua5.4, else lua. Ctrl+C ends everything.
";

/// What to run.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// A Lua script, run by a Lua interpreter.
    Script {
        script: OsString,
        args: Vec<OsString>,
    },
    /// Any program.
    Program {
        program: OsString,
        args: Vec<OsString>,
    },
}

#[derive(Debug, PartialEq, Eq)]
pub struct Invocation {
    /// forkmon's environment variables to set, in order.
    pub environment: Vec<(&'static str, OsString)>,
    pub filter_given: bool,
    pub library: Option<PathBuf>,
    pub target: Target,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Run(Invocation),
    Help,
    Version,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UsageError {
    #[error("unknown option '{}'", forkmon::log::one_line(.0))]
    Unknown(String),
    #[error("{0} needs a value")]
    MissingValue(&'static str),
    #[error("{} takes no value (given '{}')", .0, forkmon::log::one_line(.1))]
    UnexpectedValue(String, String),
    #[error("no program given: forkmon app.lua, or forkmon -- PROGRAM")]
    NoProgram,
    #[error("{0}")]
    BadValue(String),
}

fn text(option: &'static str, value: &OsStr) -> Result<String, UsageError> {
    value
        .to_str()
        .map(str::to_owned)
        .ok_or_else(|| UsageError::BadValue(format!("{option}: not valid UTF-8")))
}

pub fn parse(arguments: impl Iterator<Item = OsString>) -> Result<Parsed, UsageError> {
    let mut arguments = arguments.peekable();
    let mut environment = Vec::new();
    let mut filter_given = false;
    let mut library = None;
    let mut explicit_program = false;
    while let Some(argument) = arguments.peek().cloned() {
        let Some(flag) = argument.to_str().filter(|a| a.starts_with('-')) else {
            break;
        };
        arguments.next();
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(OsString::from(value))),
            _ => (flag, None),
        };
        let mut value = |option: &'static str| -> Result<OsString, UsageError> {
            inline
                .clone()
                .or_else(|| arguments.next())
                .ok_or(UsageError::MissingValue(option))
        };
        // `--quiet=no` must not quietly mean `--quiet`.
        let switch = matches!(
            name,
            "-h" | "--help"
                | "-V"
                | "--version"
                | "-q"
                | "--quiet"
                | "--no-color"
                | "--no-colour"
                | "-c"
                | "--clear"
        );
        if let (true, Some(given)) = (switch, &inline) {
            return Err(UsageError::UnexpectedValue(
                name.to_owned(),
                given.to_string_lossy().into_owned(),
            ));
        }
        match name {
            "--" => {
                explicit_program = true;
                break;
            }
            "-h" | "--help" => return Ok(Parsed::Help),
            "-V" | "--version" => return Ok(Parsed::Version),
            "-f" | "--filter" => {
                let spec = text("--filter", &value("--filter")?)?;
                config::parse_filter("--filter", &spec)
                    .map_err(|e| UsageError::BadValue(e.to_string()))?;
                environment.push((config::FILTER, spec.into()));
                filter_given = true;
            }
            "-q" | "--quiet" => environment.push((config::QUIET, "1".into())),
            "--no-color" | "--no-colour" => environment.push((config::NO_COLORS, "1".into())),
            "-c" | "--clear" => environment.push((config::CLEAR, "1".into())),
            "--restart-delay" | "--ignore-delay" | "--min-work" => {
                let (option, variable) = match name {
                    "--restart-delay" => ("--restart-delay", config::RESTART_DELAY),
                    "--ignore-delay" => ("--ignore-delay", config::IGNORE_DELAY),
                    _ => ("--min-work", config::MIN_WORK),
                };
                let ms = text(option, &value(option)?)?;
                config::parse_delay(option, &ms)
                    .map_err(|e| UsageError::BadValue(e.to_string()))?;
                environment.push((variable, ms.into()));
            }
            "--library" => library = Some(PathBuf::from(value("--library")?)),
            _ => return Err(UsageError::Unknown(flag.to_owned())),
        }
    }
    let program = arguments.next().ok_or(UsageError::NoProgram)?;
    let args: Vec<OsString> = arguments.collect();
    let is_script = !explicit_program && program.as_encoded_bytes().ends_with(b".lua");
    let target = if is_script {
        Target::Script {
            script: program,
            args,
        }
    } else {
        Target::Program { program, args }
    };
    Ok(Parsed::Run(Invocation {
        environment,
        filter_given,
        library,
        target,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &str) -> Result<Parsed, UsageError> {
        parse(line.split_whitespace().map(OsString::from))
    }

    fn run(line: &str) -> Invocation {
        match parse_line(line) {
            Ok(Parsed::Run(invocation)) => invocation,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn a_switch_given_a_value_is_refused_not_taken() {
        for line in [
            "--quiet=no app.lua",
            "--clear=0 app.lua",
            "--no-color=1 app.lua",
            "--help=x",
            "--version=2",
        ] {
            let error = parse_line(line).expect_err(line).to_string();
            assert!(error.contains("takes no value (given '"), "{line}: {error}");
        }
        assert!(matches!(parse_line("--quiet app.lua"), Ok(Parsed::Run(_))));
    }

    #[test]
    fn a_lua_file_is_a_script_and_the_rest_its_arguments() {
        let invocation = run("-q app.lua --level 3");
        assert_eq!(
            invocation.target,
            Target::Script {
                script: "app.lua".into(),
                args: vec!["--level".into(), "3".into()]
            }
        );
        assert_eq!(invocation.environment, vec![(config::QUIET, "1".into())]);
    }

    #[test]
    fn after_a_double_dash_comes_any_program() {
        let invocation = run("-f %.h$;%.c$ --restart-delay=20 -- tcc -run main.c");
        assert_eq!(
            invocation.target,
            Target::Program {
                program: "tcc".into(),
                args: vec!["-run".into(), "main.c".into()]
            }
        );
        assert!(invocation.filter_given);
        assert_eq!(
            invocation.environment,
            vec![
                (config::FILTER, "%.h$;%.c$".into()),
                (config::RESTART_DELAY, "20".into())
            ]
        );
        let invocation = run("-- run.lua");
        assert!(
            matches!(invocation.target, Target::Program { .. }),
            "-- forces a program"
        );
    }

    #[test]
    fn usage_errors_are_one_line_each() {
        assert_eq!(
            parse_line("--frobnicate app.lua"),
            Err(UsageError::Unknown("--frobnicate".into()))
        );
        assert_eq!(parse_line("-q"), Err(UsageError::NoProgram));
        assert_eq!(parse_line("--"), Err(UsageError::NoProgram));
        assert_eq!(
            parse_line("--filter"),
            Err(UsageError::MissingValue("--filter"))
        );
        assert_eq!(
            parse_line("--restart-delay soon app.lua").map_err(|e| e.to_string()),
            Err("--restart-delay='soon' is not a whole number of milliseconds".into())
        );
        assert_eq!(
            parse_line("-f [a app.lua").map_err(|e| e.to_string()),
            Err("--filter: malformed pattern (missing ']') in pattern '[a'".into())
        );
        assert_eq!(parse_line("--help app.lua"), Ok(Parsed::Help));
        assert_eq!(parse_line("-V"), Ok(Parsed::Version));
    }

    mod fuzz {
        //! Arbitrary command lines (issue 8.4): no input panics, every
        //! error is one line, and a command line built from valid options
        //! parses back to exactly what it says.

        use super::super::*;
        use proptest::prelude::*;
        use std::os::unix::ffi::OsStringExt;

        const VALUE_OPTIONS: [&str; 8] = [
            "-f",
            "--filter",
            "--restart-delay",
            "--ignore-delay",
            "--min-work",
            "--library",
            "--restart-delay=",
            "--filter=",
        ];

        fn cases() -> u32 {
            ["FORKMON_PROPTEST_CASES", "PROPTEST_CASES"]
                .iter()
                .find_map(|v| std::env::var(v).ok()?.parse().ok())
                .unwrap_or(512)
        }

        fn argument() -> impl Strategy<Value = OsString> {
            let words = [
                "-f",
                "--filter",
                "-q",
                "--quiet",
                "--restart-delay",
                "--ignore-delay",
                "--min-work",
                "--no-color",
                "--no-colour",
                "-c",
                "--clear",
                "--library",
                "-h",
                "--help",
                "-V",
                "--version",
                "--",
                "-",
                "--filter=%.lua$",
                "--filter=[a",
                "--min-work=5",
                "--restart-delay=-1",
                "--ignore-delay=",
                "-q=1",
                "%.lua$",
                "[a",
                "5",
                "-5",
                "60001",
                "abc",
                "app.lua",
                "prog",
                "a\nb",
                "-x\ny",
                ";;",
                "",
            ];
            prop_oneof![
                6 => proptest::sample::select(words.to_vec()).prop_map(OsString::from),
                1 => any::<String>().prop_map(OsString::from),
                1 => proptest::collection::vec(any::<u8>(), 0..8).prop_map(OsString::from_vec),
            ]
        }

        /// One option with a valid value, and what it should set.
        #[derive(Debug, Clone)]
        enum Valid {
            Filter(&'static str),
            Quiet,
            NoColor,
            Clear,
            Delay(&'static str, &'static str, u64),
            Library(String),
        }

        fn valid_option() -> impl Strategy<Value = Valid> {
            prop_oneof![
                proptest::sample::select(vec!["%.lua$", "%.h$;%.c$", "^/src/", "a b", "%-x="])
                    .prop_map(Valid::Filter),
                Just(Valid::Quiet),
                Just(Valid::NoColor),
                Just(Valid::Clear),
                (
                    proptest::sample::select(vec![
                        ("--restart-delay", config::RESTART_DELAY),
                        ("--ignore-delay", config::IGNORE_DELAY),
                        ("--min-work", config::MIN_WORK),
                    ]),
                    0..=config::MAX_DELAY_MS
                )
                    .prop_map(|((option, var), ms)| Valid::Delay(option, var, ms)),
                "[a-z/.=-]{1,12}".prop_map(Valid::Library),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: cases(),
                failure_persistence: None,
                ..ProptestConfig::default()
            })]

            #[test]
            fn any_command_line_parses_or_gives_one_line(argv in proptest::collection::vec(argument(), 0..8)) {
                match parse(argv.clone().into_iter()) {
                    Ok(Parsed::Run(invocation)) => {
                        // What the options set parses again, as the
                        // library will read it from the environment.
                        for (var, value) in &invocation.environment {
                            let value = value.to_str().ok_or_else(|| TestCaseError::fail("not UTF-8"))?;
                            let fine = match *var {
                                config::FILTER => config::parse_filter(var, value).is_ok(),
                                config::RESTART_DELAY | config::IGNORE_DELAY | config::MIN_WORK => {
                                    config::parse_delay(var, value).is_ok()
                                }
                                _ => config::parse_switch(var, value) == Ok(true),
                            };
                            prop_assert!(fine, "{}={:?}", var, value);
                        }
                        prop_assert_eq!(
                            invocation.filter_given,
                            invocation.environment.iter().any(|(var, _)| *var == config::FILTER)
                        );
                        // The program and its arguments are the end of the
                        // command line, untouched.
                        let (program, args, script) = match &invocation.target {
                            Target::Script { script, args } => (script, args, true),
                            Target::Program { program, args } => (program, args, false),
                        };
                        let tail: Vec<OsString> = std::iter::once(program.clone()).chain(args.iter().cloned()).collect();
                        prop_assert!(argv.ends_with(&tail), "{:?} -> {:?}", argv, tail);
                        let before = &argv[..argv.len() - tail.len()];
                        prop_assert_eq!(
                            script,
                            program.as_encoded_bytes().ends_with(b".lua") && before.last().is_none_or(|a| a != "--")
                        );
                    }
                    Ok(Parsed::Help | Parsed::Version) => {
                        let asked = argv.iter().any(|a| ["-h", "--help", "-V", "--version"].iter().any(|f| a == *f));
                        prop_assert!(asked, "{:?}", argv);
                    }
                    Err(error) => {
                        let message = error.to_string();
                        prop_assert!(!message.is_empty());
                        prop_assert!(!message.chars().any(char::is_control), "not one line: {:?}", message);
                        match &error {
                            UsageError::Unknown(option) => {
                                prop_assert!(option.starts_with('-'));
                                prop_assert!(argv.iter().any(|a| a.to_str() == Some(option.as_str())));
                            }
                            UsageError::MissingValue(_) => {
                                let last = argv.last().and_then(|a| a.to_str()).unwrap_or_default();
                                prop_assert!(VALUE_OPTIONS.contains(&last), "{:?}", argv);
                            }
                            UsageError::UnexpectedValue(switch, value) => {
                                let given = format!("{switch}={value}");
                                prop_assert!(argv.iter().any(|a| a.to_str() == Some(given.as_str())), "{:?}", argv);
                            }
                            UsageError::NoProgram | UsageError::BadValue(_) => {}
                        }
                    }
                }
            }

            #[test]
            fn valid_options_parse_back_to_what_they_say(
                options in proptest::collection::vec((valid_option(), any::<bool>(), any::<bool>()), 0..6),
                script in any::<bool>(),
                dash_dash in any::<bool>(),
                args in proptest::collection::vec(argument(), 0..4),
            ) {
                let mut argv: Vec<OsString> = Vec::new();
                let mut environment: Vec<(&'static str, OsString)> = Vec::new();
                let mut library = None;
                let mut push = |long: &str, short: Option<&str>, value: Option<&str>, inline: bool, use_short: bool| {
                    let name = match short {
                        Some(short) if use_short => short,
                        _ => long,
                    };
                    match value {
                        Some(value) if inline && name.starts_with("--") => argv.push(format!("{name}={value}").into()),
                        Some(value) => {
                            argv.push(name.into());
                            argv.push(value.into());
                        }
                        None => argv.push(name.into()),
                    }
                };
                for (option, inline, short) in &options {
                    match option {
                        Valid::Filter(spec) => {
                            push("--filter", Some("-f"), Some(spec), *inline, *short);
                            environment.push((config::FILTER, (*spec).into()));
                        }
                        Valid::Quiet => {
                            push("--quiet", Some("-q"), None, *inline, *short);
                            environment.push((config::QUIET, "1".into()));
                        }
                        Valid::NoColor => {
                            push(if *short { "--no-colour" } else { "--no-color" }, None, None, *inline, false);
                            environment.push((config::NO_COLORS, "1".into()));
                        }
                        Valid::Clear => {
                            push("--clear", Some("-c"), None, *inline, *short);
                            environment.push((config::CLEAR, "1".into()));
                        }
                        Valid::Delay(option, var, ms) => {
                            push(option, None, Some(&ms.to_string()), *inline, false);
                            environment.push((var, ms.to_string().into()));
                        }
                        Valid::Library(path) => {
                            push("--library", None, Some(path), *inline, false);
                            library = Some(PathBuf::from(path));
                        }
                    }
                }
                let program: OsString = if script { "app.lua".into() } else { "prog".into() };
                if dash_dash {
                    argv.push("--".into());
                }
                argv.push(program.clone());
                argv.extend(args.iter().cloned());
                let target = if script && !dash_dash {
                    Target::Script { script: program, args }
                } else {
                    Target::Program { program, args }
                };
                let filter_given = environment.iter().any(|(var, _)| *var == config::FILTER);
                let expected = Invocation { environment, filter_given, library, target };
                prop_assert_eq!(parse(argv.clone().into_iter()), Ok(Parsed::Run(expected)), "{:?}", argv);
            }
        }
    }
}
