//! Options from the environment, bad values, messages, and what the
//! program's own subprocesses inherit.

use forkmon_test_support as common;

use common::{Launch, LuaApp, Save, forkmon_lines, save};

fn libc_path() -> String {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
    maps.lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| path.contains("/libc.so"))
        .expect("libc is mapped")
        .to_owned()
}

/// Runs the app with one environment change; returns its output and
/// asserts that the program ran to its end unwatched.
fn unwatched_with(test: &str, change: impl FnOnce(Launch) -> Launch) -> String {
    let app = LuaApp::new(test, &["a"], "os.exit(5)");
    let mut session = change(app.launch()).start();
    let status = session.wait_exit();
    let output = session.output();
    assert_eq!(
        status.code(),
        Some(5),
        "the program's own exit status:\n{output}"
    );
    assert!(
        session.program_output().contains("startup\na=1\n"),
        "{output}"
    );
    assert_eq!(
        session.count("[forkmon] watch"),
        0,
        "nothing is watched:\n{output}"
    );
    session.assert_all_gone();
    output
}

#[test]
fn each_bad_value_is_one_line_naming_the_variable_and_the_program_runs_unwatched() {
    let cases: [(&str, &str, &str); 5] = [
        (
            "FORKMON_RESTART_DELAY",
            "abc",
            "FORKMON_RESTART_DELAY='abc' is not a whole number of milliseconds",
        ),
        (
            "FORKMON_IGNORE_DELAY",
            "-5",
            "FORKMON_IGNORE_DELAY='-5' is negative",
        ),
        (
            "FORKMON_RESTART_DELAY",
            "1.5",
            "FORKMON_RESTART_DELAY='1.5' is not a whole number",
        ),
        (
            "FORKMON_FILTER",
            "[a",
            "FORKMON_FILTER: malformed pattern (missing ']') in pattern '[a'",
        ),
        (
            "FORKMON_QUIET",
            "maybe",
            "FORKMON_QUIET='maybe' is not a switch",
        ),
    ];
    for (n, (var, value, message)) in cases.iter().enumerate() {
        let output = unwatched_with(&format!("bad-{n}"), |launch| launch.env(var, value));
        assert_eq!(
            output.matches("[forkmon]").count(),
            1,
            "{var}={value}: one line:\n{output}"
        );
        let line = format!("[forkmon] {message}");
        assert!(
            output.contains(&line),
            "{var}={value}: expected {line:?}:\n{output}"
        );
        assert!(
            output.contains("forkmon is off and the program runs unwatched"),
            "{output}"
        );
    }
}

#[test]
fn the_preload_library_without_a_filter_says_so_and_runs_unwatched() {
    let output = unwatched_with("no-filter", |launch| launch.env_remove("FORKMON_FILTER"));
    assert!(
        output.contains("[forkmon] FORKMON_FILTER is not set"),
        "{output}"
    );
    assert_eq!(output.matches("[forkmon]").count(), 1, "{output}");
}

#[test]
fn quiet_prints_nothing_and_still_resumes() {
    let app = LuaApp::new("quiet", &["a", "b"], "");
    let session = app.launch().env("FORKMON_QUIET", "1").start();
    session.wait_for("done first");
    save(&app.module("b"), "print(\"b=2\")\n", Save::RenameOver);
    session.wait_for("done 1");
    assert_eq!(session.count("[forkmon]"), 0, "{}", session.output());
}

#[test]
fn colours_only_on_a_terminal_without_no_color() {
    let coloured = |test: &str, change: &dyn Fn(Launch) -> Launch| {
        let app = LuaApp::new(test, &["a"], "");
        let session = change(app.launch().env_remove("NO_COLOR")).start();
        session.wait_for("waiting for a change");
        session.output().contains("\x1b[")
    };
    assert!(coloured("colour-on", &|l| l));
    assert!(!coloured("colour-no-color", &|l| l.env("NO_COLOR", "1")));
    assert!(!coloured("colour-forkmon", &|l| l.env("FORKMON_NO_COLORS", "1")));
}

#[test]
fn subprocesses_do_not_inherit_forkmon_but_keep_other_preloads() {
    let app = LuaApp::new(
        "subprocess",
        &["a"],
        "print('preload=' .. tostring(os.getenv('LD_PRELOAD')))\nos.execute('lua5.4 sub.lua')",
    );
    app.dir.write("sub.lua", "print('sub ran')\n");
    let libc = libc_path();
    // forkmon first: an entry before it that defines fopen64 would come
    // first in the lookup order and leave nothing to watch.
    let preload = format!("{}:{libc}", common::library().display());
    let session = app.launch().env("LD_PRELOAD", &preload).start();
    session.wait_for("done first");
    let output = session.output();
    assert!(output.contains(&format!("preload={libc}\n")), "{output}");
    assert!(output.contains("sub ran"), "{output}");
    assert!(
        !output.contains("sub.lua'"),
        "the subprocess was watched:\n{output}"
    );
}

#[test]
fn a_filter_that_exhausts_the_match_budget_is_said_once_and_the_program_runs() {
    let app = LuaApp::new("budget", &["a", "b"], "");
    let pattern = "(.-)(.-)(.-)(.-)(.-)(.-)(.-)(.-)(.-)(.-)(.-)(.-)y";
    let session = app.launch().env("FORKMON_FILTER", pattern).start();
    session.wait_for("done first");
    let output = session.output();
    assert_eq!(session.count("pattern too complex"), 1, "{output}");
}

#[test]
fn a_misspelled_option_is_said_once_through_a_launcher_and_the_program_runs() {
    let app = LuaApp::new("misspelled", &["a"], "");
    // `sh -c 'exec ...'`: the shell and lua5.4 both load forkmon as the
    // process the user started; only the first says it.
    let mut session = Launch::preloaded("sh", "%.lua$")
        .env("FORKMON_FILTR", "%.txt$")
        .env("FORKMON_NO_COLOR", "1")
        .env("FORKMON_SOMETHING_ELSE_ENTIRELY", "1")
        .arg("-c")
        .arg("exec lua5.4 main.lua")
        .dir(&app.dir.0)
        .start();
    session.wait_for("done first");
    session.wait_for("waiting for a change");
    let output = session.output();
    let said: Vec<&str> = forkmon_lines(&output)
        .into_iter()
        .filter(|line| line.contains("is not an option of forkmon"))
        .collect();
    for expected in [
        "[forkmon] FORKMON_FILTR is not an option of forkmon and is ignored: did you mean FORKMON_FILTER?",
        "[forkmon] FORKMON_NO_COLOR is not an option of forkmon and is ignored: did you mean FORKMON_NO_COLORS?",
    ] {
        assert!(said.contains(&expected), "{output}");
    }
    assert_eq!(said.len(), 2, "{output}");
    session.interrupt();
    session.assert_all_gone();
}
