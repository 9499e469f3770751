//! Kernel limits lowered for the program under test: inotify instances and
//! watches (in a user namespace of its own, so the machine's limits stay as
//! they are), the open-file limit and the per-user process limit. Each gives
//! one `[forkmon]` line that names the limit and how to raise it, and the
//! program runs on to its end without new checkpoints, leaving nothing
//! behind.

use forkmon_test_support as common;

use common::{Launch, LuaApp, Save, Scratch, forkmon_lines, host_program, save};

const RUNS_ON: &str = "; the program runs on without new checkpoints, and the files it reads from now on are not watched";

/// `lua5.4 main.lua` of `app`, with forkmon preloaded by `bash -c` after
/// `setup`, itself run by `wrapper`.
fn lua_app(app: &LuaApp, wrapper: &[&str], setup: &str) -> Launch {
    Launch::wrapped(wrapper, setup, "lua5.4 main.lua", "%.lua$").dir(&app.dir.0)
}

/// Runs `launch` to its end; checks it ran completely (`expected` is the
/// program's own output), exited with status 0 and left nothing; returns
/// the `[forkmon]` lines.
fn run_to_end(launch: Launch, expected: &str) -> Vec<String> {
    let mut session = launch.start();
    let status = session.wait_exit();
    let output = session.output();
    assert!(status.success(), "{status}:\n{output}");
    assert_eq!(session.program_output(), expected, "{output}");
    session.assert_all_gone();
    forkmon_lines(&output)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

const APP_OUTPUT: &str = "startup\na=1\nb=1\ndone first\n";

/// In a user namespace, `/proc/sys/user/max_inotify_*` are the namespace's
/// own limits: setting one to 0 there changes nothing outside.
fn in_namespace_with(limit: &str) -> String {
    format!("echo 0 > /proc/sys/user/{limit}")
}

const NAMESPACE: [&str; 3] = ["unshare", "--user", "--map-root-user"];

#[test]
fn no_inotify_instance_left_is_named_and_the_program_runs_unwatched() {
    let app = LuaApp::new("limit-instances", &["a", "b"], "");
    let lines = run_to_end(
        lua_app(
            &app,
            &NAMESPACE,
            &in_namespace_with("max_inotify_instances"),
        ),
        APP_OUTPUT,
    );
    assert_eq!(
        lines,
        [format!(
            "[forkmon] cannot start inotify: the limit of inotify instances of this user namespace, \
             user.max_inotify_instances = 0, is reached; raise it in the namespace with: \
             sysctl user.max_inotify_instances=1024{RUNS_ON}"
        )]
    );
}

#[test]
fn no_inotify_watch_left_is_named_and_the_program_runs_unwatched() {
    let app = LuaApp::new("limit-watches", &["a", "b"], "");
    let lines = run_to_end(
        lua_app(&app, &NAMESPACE, &in_namespace_with("max_inotify_watches")),
        APP_OUTPUT,
    );
    assert_eq!(
        lines,
        [format!(
            "[forkmon] cannot watch '{}': the limit of inotify watches of this user namespace, \
             user.max_inotify_watches = 0, is reached; raise it in the namespace with: \
             sysctl user.max_inotify_watches=524288{RUNS_ON}",
            app.dir.0.display()
        )]
    );
}

#[test]
fn no_inotify_watch_left_for_a_link_target_is_named() {
    // One watch: the app's directory. The watcher's for the directory the
    // link points into finds none left.
    let app = LuaApp::new("limit-watches-link", &[], "dofile('link.lua')");
    app.dir.write("real/target.lua", "print('target=1')\n");
    std::os::unix::fs::symlink(app.dir.path("real/target.lua"), app.dir.path("link.lua"))
        .expect("symlink");
    let target = std::fs::canonicalize(app.dir.path("real/target.lua")).expect("target");
    let mut session = lua_app(
        &app,
        &NAMESPACE,
        "echo 1 > /proc/sys/user/max_inotify_watches",
    )
    .start();
    let line = format!(
        "[forkmon] cannot watch '{}': the limit of inotify watches of this user namespace, \
         user.max_inotify_watches = 1, is reached; raise it in the namespace with: \
         sysctl user.max_inotify_watches=524288; edits of '{}' (read through '{}') are not seen",
        target.parent().expect("target dir").display(),
        target.display(),
        app.dir.path("link.lua").display()
    );
    session.wait_for(&line);
    session.wait_for("done first");
    assert_eq!(
        session.program_output(),
        "startup\ntarget=1\ndone first\n",
        "{}",
        session.output()
    );
    session.interrupt();
    session.assert_all_gone();
}

/// The line for the open-file limit `soft`, as raised to what the hard
/// limit of this test process allows (the program inherits it).
fn open_file_limit(soft: u64) -> String {
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("getrlimit");
    let to = if hard == libc::RLIM_INFINITY {
        1024
    } else {
        hard.min(1024)
    };
    format!(
        "the open-file limit of this process, ulimit -n = {soft}, is reached; \
         raise it with: ulimit -n {to}"
    )
}

#[test]
fn the_open_file_limit_at_the_watcher_socket_is_named() {
    // Descriptors 0, 1 and 2 are the terminal; inotify gets 3, and the
    // socket pair to the watcher finds no two more.
    let app = LuaApp::new("limit-open-files", &["a", "b"], "");
    let lines = run_to_end(lua_app(&app, &[], "ulimit -Sn 4"), APP_OUTPUT);
    assert_eq!(
        lines,
        [format!(
            "[forkmon] cannot start the watcher process: {}{RUNS_ON}",
            open_file_limit(4)
        )]
    );
}

#[test]
fn the_open_file_limit_at_inotify_init_is_not_taken_for_the_instance_limit() {
    // inotify_init1 says EMFILE both for this and for the instance limit.
    let dir = Scratch::new("limit-inotify-fds");
    let exe = dir.compile_program("out_of_descriptors");
    dir.write("data.txt", "hello\n");
    let lines = run_to_end(
        Launch::wrapped(&[], "ulimit -Sn 16", &exe.display().to_string(), "%.txt$").dir(&dir.0),
        "start\nfull: -1 Too many open files\nread: hello\nend\n",
    );
    assert_eq!(
        lines,
        [format!(
            "[forkmon] cannot start inotify: {}{RUNS_ON}",
            open_file_limit(16)
        )]
    );
}

#[test]
fn an_open_file_limit_of_three_is_named_not_the_instance_limit() {
    // With no number left at all, asking for a copy at 3 or above says
    // EINVAL, not EMFILE: that must not be taken for the instance limit.
    let dir = Scratch::new("limit-three-fds");
    dir.write("data.txt", "hello\n");
    // Descriptors 0, 1 and 2 are the terminal: no number is left.
    let lines = run_to_end(
        Launch::preloaded(host_program(), "%.txt$")
            .dir(&dir.0)
            .arg("nofile")
            .arg("3")
            .arg("open")
            .arg("data.txt"),
        "open data.txt: Too many open files\n",
    );
    assert_eq!(
        lines,
        [format!(
            "[forkmon] cannot start inotify: {}{RUNS_ON}",
            open_file_limit(3)
        )]
    );
}

/// `setpriv` to the unused user `uid`, with the process limit `ulimit -Su
/// <limit>`: it binds neither root nor, here, a user namespace. None when
/// the tests do not run as root (they cannot switch users then).
fn as_other_user(uid: u32) -> Option<[String; 4]> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "skipped: switching to another user to lower its process limit needs root \
             (RLIMIT_NPROC does not bind root)"
        );
        return None;
    }
    Some([
        "setpriv".to_owned(),
        format!("--reuid={uid}"),
        format!("--regid={uid}"),
        "--clear-groups".to_owned(),
    ])
}

/// An app the other user can read.
fn readable_app(test: &str) -> LuaApp {
    use std::os::unix::fs::PermissionsExt;
    let app = LuaApp::new(test, &["a", "b"], "");
    std::fs::set_permissions(&app.dir.0, std::fs::Permissions::from_mode(0o755))
        .expect("chmod scratch");
    app
}

#[test]
fn the_process_limit_at_the_watcher_fork_is_named() {
    // Each test has a user of its own: the limit counts the user's tasks.
    let Some(user) = as_other_user(61_801) else {
        return;
    };
    let app = readable_app("limit-nproc-watcher");
    let wrapper: Vec<&str> = user.iter().map(String::as_str).collect();
    // The program and its first holder are the user's two processes: the
    // holder cannot fork the watcher, says so, and ends as the program does.
    let lines = run_to_end(lua_app(&app, &wrapper, "ulimit -Su 2"), APP_OUTPUT);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line = &lines[0];
    assert!(
        line.starts_with(
            "[forkmon] cannot start the watcher process: the per-user process limit, \
             ulimit -u = 2, is reached; raise it with: ulimit -u "
        ) && line.ends_with("; the program runs on unwatched"),
        "{line}"
    );
}

#[test]
fn the_process_limit_at_a_checkpoint_is_named_and_earlier_checkpoints_stay() {
    let Some(user) = as_other_user(61_802) else {
        return;
    };
    let app = readable_app("limit-nproc-checkpoint");
    let wrapper: Vec<&str> = user.iter().map(String::as_str).collect();
    // main.lua's checkpoint makes three processes: its holder, the watcher
    // (forked by the holder) and the program, which then cannot fork for
    // a.lua.
    let mut session = lua_app(&app, &wrapper, "ulimit -Su 3").start();
    session.wait_for("waiting for a change");
    // The watcher prints the watch lines, whenever it reads of the file.
    let main = format!("[forkmon] watch '{}'", app.dir.path("main.lua").display());
    session.wait_for(&main);
    let output = session.output();
    assert_eq!(session.program_output(), APP_OUTPUT, "{output}");
    let lines = forkmon_lines(&output);
    // A "watch 'a.lua'" line may come too: the engine registers a.lua
    // before it forks, and withdraws it when the fork fails.
    let others: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.starts_with("[forkmon] watch "))
        .collect();
    assert_eq!(others.len(), 2, "{output}");
    assert!(
        others[0].starts_with("[forkmon] cannot make a checkpoint: fork failed")
            && others[0].contains("ulimit -u")
            && others[0].ends_with(RUNS_ON),
        "{output}"
    );
    assert_eq!(
        others[1],
        "[forkmon] program exited with status 0; waiting for a change"
    );
    session.interrupt();
    session.assert_all_gone();
}

/// The host reading 16 files, a checkpoint each, under `launch`.
fn sixteen_checkpoints(dir: &Scratch, launch: Launch, limit: &[&str]) -> common::Session {
    let mut args: Vec<String> = limit.iter().map(|arg| (*arg).to_owned()).collect();
    for i in 1..=16 {
        dir.write(&format!("m{i}.txt"), &format!("m{i}=1\n"));
        args.extend(["read".to_owned(), format!("m{i}.txt")]);
    }
    args.extend(["print", "ready", "wait"].map(str::to_owned));
    launch.dir(&dir.0).args(&args).start()
}

#[test]
fn a_program_with_a_low_open_file_limit_resumes_from_each_of_its_checkpoints() {
    // The watcher keeps a descriptor per checkpoint: under the program's
    // limit of 12 it got none for the later ones, and took them for gone.
    // It raises its own (soft) limit now.
    let dir = Scratch::new("limit-many-checkpoints");
    let launch = Launch::preloaded(host_program(), "%.txt$");
    let mut session = sixteen_checkpoints(&dir, launch, &["nofile", "12"]);
    session.wait_for("ready");
    save(&dir.path("m16.txt"), "m16=2\n", Save::RenameOver);
    session.wait_for("m16=2");
    session.wait_for_count("ready", 2);
    let output = session.output();
    assert!(
        output.contains("/m16.txt' changed, resuming from it"),
        "{output}"
    );
    assert!(!output.contains("is gone"), "{output}");
    assert_eq!(session.count("m15=1"), 1, "{output}");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn under_a_hard_open_file_limit_checkpoints_are_addressed_by_pid_and_said() {
    // A hard limit the watcher cannot raise: its handle on a checkpoint's
    // process took the last number, and the check of that process failed.
    let dir = Scratch::new("limit-hard-many-checkpoints");
    let host = host_program();
    let launch = Launch::preloaded("prlimit", "%.txt$");
    let limit = ["--nofile=14:14", host.to_str().expect("utf-8 path")];
    let mut session = sixteen_checkpoints(&dir, launch, &limit);
    session.wait_for("ready");
    session
        .wait_for("[forkmon] cannot take a pidfd on a checkpoint's process (Too many open files");
    save(&dir.path("m16.txt"), "m16=2\n", Save::RenameOver);
    session.wait_for("m16=2");
    let output = session.output();
    assert!(
        output.contains("/m16.txt' changed, resuming from it"),
        "{output}"
    );
    assert!(!output.contains("is gone"), "{output}");
    assert_eq!(session.count("cannot take a pidfd"), 1, "{output}");
    session.interrupt();
    session.assert_all_gone();
}
