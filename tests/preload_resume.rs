//! Resuming from checkpoints under LD_PRELOAD: lua5.4 running a real app
//! whose files are edited the way editors save them.

use forkmon_test_support as common;

use common::{ALL_SAVES, Launch, LuaApp, Save, Scratch, chain, inotify_fds, save};

#[test]
fn an_edit_resumes_from_the_changed_file_without_rerunning_what_came_before() {
    let app = LuaApp::new("basic", &["a", "b", "c"], "");
    app.dir.write("d.lua", "print(\"d=1\")\n");
    let session = app.launch().start();
    session.wait_for("done first");
    session.wait_for("program exited with status 0; waiting for a change");

    save(&app.module("b"), "print(\"b=2\")\n", Save::InPlace);
    session.wait_for("done 1");
    let output = session.output();
    let program = session.program_output();
    assert!(
        program.contains("b=2\nc=1\ndone 1"),
        "b and what follows it re-ran:\n{output}"
    );
    assert_eq!(
        session.count("startup"),
        1,
        "the start-up ran again:\n{output}"
    );
    assert_eq!(
        session.count("a=1"),
        1,
        "a module before the change ran again:\n{output}"
    );
    assert!(
        output.contains("changed, resuming from it (resume #1, skipping "),
        "{output}"
    );
    // Files read after the resumed one get new checkpoints in the new run,
    // but each file's `watch` line is said once a session; a file read for
    // the first time in the new run is said.
    save(
        &app.module("c"),
        "print(\"c=2\")\nrequire \"d\"\n",
        Save::InPlace,
    );
    session.wait_for("done 2");
    let d = format!("[forkmon] watch '{}'", app.dir.path("d.lua").display());
    session.wait_for(&d);
    let output = session.output();
    for module in ["main", "a", "b", "c", "d"] {
        let line = format!(
            "[forkmon] watch '{}'",
            app.dir.path(&format!("{module}.lua")).display()
        );
        assert_eq!(session.count(&line), 1, "{line} once:\n{output}");
    }
}

#[test]
fn every_editor_save_style_gives_exactly_one_resume_with_the_new_content() {
    let app = LuaApp::new("saves", &["a", "b"], "");
    let session = app.launch().start();
    session.wait_for("done first");
    for (n, how) in ALL_SAVES.iter().enumerate() {
        let value = format!("{how:?}");
        save(&app.module("b"), &format!("print(\"b={value}\")\n"), *how);
        session.wait_for(&format!("done {}", n + 1));
        let expected = format!("b={value}\ndone {}", n + 1);
        assert!(
            session.program_output().contains(&expected),
            "{}",
            session.output()
        );
    }
    // A last edit is a barrier: any second resume of an earlier save would
    // have printed before it.
    save(&app.module("b"), "print(\"b=last\")\n", Save::RenameOver);
    let last = ALL_SAVES.len() + 1;
    session.wait_for(&format!("done {last}"));
    let output = session.output();
    assert_eq!(
        session.count("done "),
        last + 1,
        "one run per save:\n{output}"
    );
    assert_eq!(
        session.count("changed, resuming"),
        last,
        "one resume per save:\n{output}"
    );
    for how in ALL_SAVES {
        assert_eq!(
            session.count(&format!("b={how:?}\n")),
            1,
            "{how:?}:\n{output}"
        );
    }
    assert_eq!(session.count("startup"), 1, "{output}");
    assert_eq!(session.count("a=1"), 1, "{output}");
}

#[test]
fn files_changed_together_resume_once_from_the_earliest() {
    let app = LuaApp::new("batch", &["a", "b", "c", "d"], "");
    let session = app.launch().start();
    session.wait_for("done first");
    // As a `git checkout` does: several files replaced at once, last first.
    save(&app.module("d"), "print(\"d=2\")\n", Save::RenameOver);
    save(&app.module("b"), "print(\"b=2\")\n", Save::RenameOver);
    save(&app.module("c"), "print(\"c=2\")\n", Save::InPlace);
    session.wait_for("done 1");
    // Barrier, as above.
    save(&app.module("d"), "print(\"d=3\")\n", Save::InPlace);
    session.wait_for("done 2");
    let output = session.output();
    assert!(
        session.program_output().contains("b=2\nc=2\nd=2\ndone 1\n"),
        "{output}"
    );
    assert_eq!(session.count("changed, resuming"), 2, "{output}");
    let from_b = format!(
        "resuming from '{}' (resume #1, skipping ",
        app.module("b").display()
    );
    assert!(output.contains(&from_b), "expected {from_b}:\n{output}");
    assert_eq!(session.count("a=1"), 1, "{output}");
}

#[test]
fn a_thousand_files_changed_at_once_are_named_a_few_and_counted() {
    let files: Vec<String> = (0..1000).map(|n| format!("m/{n:04}.lua")).collect();
    let reads: String = files.iter().map(|f| format!("dofile('{f}')\n")).collect();
    let app = LuaApp::new("thousand-changed", &[], &reads);
    for file in &files {
        app.dir.write(file, "x = 1\n");
    }
    // One checkpoint (main.lua's) holds all; the long delay makes the
    // thousand saves one change, however slow the machine.
    let session = app
        .launch()
        .env("FORKMON_MIN_WORK", "60000")
        .env("FORKMON_RESTART_DELAY", "1000")
        .start();
    session.wait_for("done first");
    for file in &files {
        save(&app.dir.path(file), "x = 2\n", Save::InPlace);
    }
    session.wait_for("done 1");
    let output = session.output();
    let line = output
        .lines()
        .find(|l| l.contains("changed, resuming"))
        .expect("a resume line");
    let expected = format!(
        "[forkmon] '{}', '{}', '{}' and 997 more files changed, resuming from '{}' (resume #1,",
        app.dir.path(&files[0]).display(),
        app.dir.path(&files[1]).display(),
        app.dir.path(&files[2]).display(),
        app.dir.path("main.lua").display()
    );
    assert!(line.starts_with(&expected), "{line:.500}");
}

#[test]
fn two_hundred_watched_files_share_one_watcher_and_one_inotify_instance() {
    let names: Vec<String> = (1..=200).map(|n| format!("m{n}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let app = LuaApp::new("many", &refs, "");
    let mut session = app.launch().start();
    session.wait_for("program exited with status 0");
    let processes = session.processes();
    let watchers: Vec<_> = processes
        .iter()
        .filter(|p| p.name == "forkmon-watch")
        .collect();
    assert_eq!(watchers.len(), 1, "{watchers:#?}");
    // A holder for main.lua and each module; the program itself has exited.
    assert_eq!(chain(&processes, session.pid()).len(), 201);
    for process in &processes {
        assert!(
            inotify_fds(process.pid) <= 1,
            "{process:?} has several inotify instances"
        );
    }

    save(&app.module("m150"), "print(\"m150=2\")\n", Save::RenameOver);
    session.wait_for("done 1");
    let output = session.output();
    assert!(
        session.program_output().contains("m150=2\nm151=1"),
        "{output}"
    );
    assert_eq!(session.count("m149=1"), 1, "{output}");
    save(&app.module("m1"), "print(\"m1=2\")\n", Save::InPlace);
    session.wait_for("done 2");
    assert_eq!(session.count("m200=1"), 3);

    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_resume_leaves_no_process_of_the_old_run_behind() {
    // The module starts a subprocess of its own that would outlive it.
    let app = LuaApp::new("subtree", &["a", "b"], "os.execute('sleep 300 &')");
    let session = app.launch().start();
    session.wait_for("done first");
    let before = session.wait_for_processes("the sleep to start", |ps| {
        ps.iter().any(|p| p.name == "sleep")
    });
    let old_sleep = before.iter().find(|p| p.name == "sleep").map(|p| p.pid);

    save(&app.module("b"), "print(\"b=2\")\n", Save::InPlace);
    session.wait_for("done 1");
    let after = session.wait_for_processes("one sleep of the new run", |ps| {
        ps.iter()
            .filter(|p| p.name == "sleep" && p.state != 'Z')
            .count()
            == 1
    });
    let sleeps: Vec<_> = after
        .iter()
        .filter(|p| p.name == "sleep" && p.state != 'Z')
        .collect();
    assert_ne!(
        Some(sleeps[0].pid),
        old_sleep,
        "the old run's subprocess is still running"
    );
    let chain = chain(&after, session.pid());
    for process in &after {
        assert!(
            process.state != 'Z' || !chain.contains(&process.ppid),
            "a forkmon process left a zombie: {process:?}"
        );
    }
}

#[test]
fn the_resume_line_says_how_much_start_up_it_skipped() {
    // 0.3 s of work before b.lua is read, by both ways in.
    let busy = "local t = os.clock() while os.clock() - t < 0.3 do end";
    for module_way in [false, true] {
        let app = LuaApp::new("skipped", &["a", "b"], "");
        let main = std::fs::read_to_string(app.dir.path("main.lua")).expect("main");
        app.dir.write(
            "main.lua",
            &main.replace("require \"b\"", &format!("{busy}\nrequire \"b\"")),
        );
        let session = if module_way {
            app.launch_module()
        } else {
            app.launch()
        }
        .start();
        session.wait_for("done first");
        save(&app.module("b"), "print(\"b=2\")\n", Save::InPlace);
        session.wait_for("done 1");
        let output = session.output();
        let seconds: f64 = output
            .split("skipping ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no skipped time:\n{output}"));
        assert!(
            (0.3..30.0).contains(&seconds),
            "skipped {seconds} s (module way: {module_way}):\n{output}"
        );
    }
}

#[test]
fn files_read_soon_after_a_checkpoint_are_tied_to_it() {
    // The default FORKMON_MIN_WORK (5 ms): main.lua, a.lua and b.lua are read
    // within a few ms, so one checkpoint (main.lua's) holds all three.
    let app = LuaApp::new("min-work-tied", &["a", "b"], "");
    let mut session = app.launch().env_remove("FORKMON_MIN_WORK").start();
    session.wait_for("program exited");
    // The watcher says this once it is set up (and named): only then does
    // the tree show it for what it is.
    session.wait_for(&format!("watch '{}'", app.module("b").display()));
    assert_eq!(
        chain(&session.processes(), session.pid()).len(),
        1,
        "one holder"
    );
    save(&app.module("b"), "print(\"b=2\")\n", Save::InPlace);
    session.wait_for("done 1");
    let from_main = format!(
        "changed, resuming from '{}'",
        app.dir.path("main.lua").display()
    );
    assert!(
        session.output().contains(&from_main),
        "{}",
        session.output()
    );
    assert_eq!(session.count("startup"), 2, "{}", session.output());
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn the_file_an_edit_was_for_gets_a_checkpoint_of_its_own_in_the_run_it_started() {
    // a.lua works 30 ms, far less than FORKMON_MIN_WORK (even on a busy
    // machine, where it takes longer): b.lua is tied to main.lua's
    // checkpoint, and its first edit re-runs main.lua and a.lua.
    // The run that edit started gives b.lua a checkpoint of its own (it
    // costs less than the 30 ms each next edit skips), and the next edit of
    // b.lua re-runs nothing before it.
    let app = LuaApp::new("changed-gets-own", &["a", "b"], "");
    app.dir.write(
        "a.lua",
        "local t = os.clock() while os.clock() - t < 0.03 do end\nprint(\"a=1\")\n",
    );
    let mut session = app.launch().env("FORKMON_MIN_WORK", "5000").start();
    session.wait_for("program exited");
    save(&app.module("b"), "print(\"b=2\")\n", Save::RenameOver);
    session.wait_for("done 1");
    session.wait_for_count("program exited", 2);
    let b = app.module("b");
    let from_main = format!(
        "'{}' changed, resuming from '{}'",
        b.display(),
        app.dir.path("main.lua").display()
    );
    assert_eq!(session.count(&from_main), 1, "{}", session.output());
    save(&b, "print(\"b=3\")\n", Save::InPlace);
    session.wait_for("done 2");
    let from_itself = format!("'{}' changed, resuming from it", b.display());
    assert_eq!(session.count(&from_itself), 1, "{}", session.output());
    // a.lua ran twice (the first run, the first edit's), not a third time.
    assert_eq!(session.count("a=1"), 2, "{}", session.output());
    assert!(session.program_output().ends_with("b=3\ndone 2\n"));
    // An edit of a.lua still resumes from main.lua: the checkpoint of b.lua
    // ends with the run it belongs to.
    save(&app.module("a"), "print(\"a=2\")\n", Save::InPlace);
    session.wait_for("done 3");
    assert!(session.program_output().ends_with("a=2\nb=3\ndone 3\n"));
    assert_eq!(session.count("startup"), 3, "{}", session.output());
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn after_enough_work_the_next_file_gets_a_checkpoint_of_its_own() {
    // 0.3 s of work: past FORKMON_MIN_WORK, and past 20 times what the first
    // checkpoint cost (its fork and the faults after it) even on a busy
    // machine.
    let app = LuaApp::new(
        "min-work-own",
        &["a"],
        "local t = os.clock() while os.clock() - t < 0.3 do end\nrequire \"b\"",
    );
    app.dir.write("b.lua", "print(\"b=1\")\n");
    let session = app.launch().env_remove("FORKMON_MIN_WORK").start();
    session.wait_for("program exited");
    save(&app.module("b"), "print(\"b=2\")\n", Save::InPlace);
    session.wait_for("done 1");
    assert!(
        session
            .output()
            .contains("b.lua' changed, resuming from it"),
        "{}",
        session.output()
    );
    assert_eq!(session.count("startup"), 1, "{}", session.output());
}

#[test]
fn a_tenth_of_a_second_of_work_gets_a_checkpoint_after_it() {
    // Weighed at its wall time, the first checkpoint (which starts the
    // watcher, and whose child waits for a processor) looked too dear for
    // another one so soon: a save of b.lua re-ran the 0.1 s in 4 runs of 4.
    let app = LuaApp::new(
        "tenth-of-a-second",
        &[],
        "local t = os.clock() while os.clock() - t < 0.1 do end\nrequire \"a\"\nrequire \"b\"",
    );
    app.dir.write("a.lua", "print(\"a=1\")\n");
    app.dir.write("b.lua", "print(\"b=1\")\n");
    let session = app.launch().env_remove("FORKMON_MIN_WORK").start();
    session.wait_for("program exited");
    save(&app.module("b"), "print(\"b=2\")\n", Save::InPlace);
    session.wait_for("done 1");
    let from_a = format!(
        "'{}' changed, resuming from '{}'",
        app.module("b").display(),
        app.module("a").display()
    );
    assert!(session.output().contains(&from_a), "{}", session.output());
    assert_eq!(session.count("startup"), 1, "{}", session.output());
}

#[test]
fn a_program_whose_collector_walks_its_heap_gets_checkpoints_as_far_apart_as_their_faults_cost() {
    // 200,000 small tables (about 20 MB) that every full collection marks:
    // after each checkpoint the program copies most of its heap again,
    // page by page. With 30 modules read 5 ms of work apart, a checkpoint
    // per 20 ms (as forkmon made them) took a checkpoint per module and
    // made the run twice as long as a plain one.
    let modules: Vec<String> = (1..=30).map(|n| format!("m{n}")).collect();
    let app = LuaApp::new("collector", &[], "");
    for module in &modules {
        app.dir.write(
            &format!("{module}.lua"),
            &format!("print(\"{module}=1\")\n"),
        );
    }
    app.dir.write(
        "main.lua",
        "print(\"startup\")\n\
         local heap = {}\n\
         for i = 1, 200000 do heap[i] = {i} end\n\
         for i = 1, 30 do\n\
           local t = os.clock() while os.clock() - t < 0.005 do end\n\
           collectgarbage(\"collect\")\n\
           require(\"m\" .. i)\n\
         end\n\
         print(\"done \" .. (os.getenv(\"FORKMON_RESTART_TICKS\") or \"first\"))\n",
    );
    let mut session = app.launch().env_remove("FORKMON_MIN_WORK").start();
    session.wait_for("program exited");
    let holders = chain(&session.processes(), session.pid()).len();
    assert!(
        (2..=8).contains(&holders),
        "{holders} checkpoints for 30 modules (one each before)\n{}",
        session.output()
    );
    // Every module is still tied to one of them.
    save(&app.module("m30"), "print(\"m30=2\")\n", Save::RenameOver);
    session.wait_for("done 1");
    assert!(session.program_output().contains("m30=2\ndone 1"));
    assert_eq!(session.count("startup"), 1, "{}", session.output());
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn ten_thousand_watched_modules_start_resume_from_first_middle_last_and_end() {
    let names: Vec<String> = (1..=10_000).map(|n| format!("m{n}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let app = LuaApp::new("ten-thousand", &refs, "");
    // The default FORKMON_MIN_WORK: a checkpoint every 5 ms of work.
    let mut session = app.launch().env_remove("FORKMON_MIN_WORK").start();
    session.wait_for("done first");
    for (n, module) in ["m1", "m5000", "m10000"].iter().enumerate() {
        save(
            &app.module(module),
            &format!("print(\"{module}=2\")\n"),
            Save::RenameOver,
        );
        session.wait_for(&format!("done {}", n + 1));
        assert!(
            session.program_output().contains(&format!("{module}=2\n")),
            "{module}"
        );
    }
    let processes = session.processes();
    assert_eq!(common::watcher_count(&processes), 1);
    assert!(
        chain(&processes, session.pid()).len() <= 257,
        "at most 256 checkpoints"
    );
    for process in &processes {
        assert!(inotify_fds(process.pid) <= 1, "{process:?}");
    }
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn the_programs_own_writes_to_a_watched_file_are_no_edit() {
    // Each run reads data.txt and then rewrites it, as a cache or a
    // coverage report would: without care, every run would resume the next.
    let tail = "local f = io.open('data.txt'); print('data=' .. f:read('l')); f:close()\n\
                local w = io.open('data.txt', 'w'); w:write('written by run\\n'); w:close()";
    for module_way in [false, true] {
        let app = LuaApp::new("own-write", &["a"], tail);
        app.dir.write("data.txt", "first\n");
        let launch = if module_way {
            app.launch_module()
        } else {
            app.launch()
        };
        let session = launch.env("FORKMON_FILTER", "%.lua$;%.txt$").start();
        session.wait_for("done first");
        save(
            &app.dir.path("data.txt"),
            "from the user\n",
            Save::RenameOver,
        );
        session.wait_for("data=from the user");
        session.wait_for("done 1");
        // Barrier: a later edit shows that no resume came from the writes.
        save(&app.module("a"), "print(\"a=2\")\n", Save::InPlace);
        session.wait_for("done 2");
        let output = session.output();
        let data = format!(
            "'{}' changed, resuming from it (resume #1,",
            app.dir.path("data.txt").display()
        );
        let a = format!(
            "'{}' changed, resuming from it (resume #2,",
            app.module("a").display()
        );
        assert!(
            output.contains(&data) && output.contains(&a),
            "module way: {module_way}\n{output}"
        );
        assert_eq!(
            session.count("changed, resuming"),
            2,
            "module way: {module_way}\n{output}"
        );
        assert_eq!(
            session.count("done "),
            3,
            "module way: {module_way}\n{output}"
        );
    }
}

/// A program that writes a module and then requires it (a config or
/// generated code): the read may tie the file before the watcher sees the
/// write's events, which are the program's all the same. (One run in five
/// resumed itself at least once.)
#[test]
fn a_file_the_program_writes_and_then_requires_is_no_edit() {
    let dir = Scratch::new("write-then-require");
    dir.write(
        "main.lua",
        "package.path = './?.lua;' .. package.path\n\
         local t = os.clock() while os.clock() - t < 0.05 do end\n\
         for i = 1, 20 do\n\
           local f = io.open('c' .. i .. '.lua', 'w') f:write('return ' .. i .. '\\n') f:close()\n\
           require('c' .. i)\n\
           local t = os.clock() while os.clock() - t < 0.002 do end\n\
         end\n\
         print('generated')\n\
         require 'z'\n\
         print('done ' .. (os.getenv('FORKMON_RESTART_TICKS') or 'first'))\n",
    );
    dir.write("z.lua", "print('z=1')\n");
    let session = Launch::preloaded("lua5.4", "%.lua$")
        .arg("main.lua")
        .dir(&dir.0)
        .start();
    session.wait_for("done first");
    // A barrier: the save of z.lua comes after the writes' events.
    save(&dir.path("z.lua"), "print('z=2')\n", Save::InPlace);
    session.wait_for("done 1");
    // Again from the start: the run writes files the replaced run tied,
    // and each gets its own checkpoint anew.
    save(
        &dir.path("main.lua"),
        &std::fs::read_to_string(dir.path("main.lua")).expect("main.lua"),
        Save::RenameOver,
    );
    session.wait_for("done 2");
    save(&dir.path("z.lua"), "print('z=3')\n", Save::InPlace);
    session.wait_for("done 3");
    let output = session.output();
    assert_eq!(session.count("changed, resuming"), 3, "{output}");
    assert_eq!(session.count("generated"), 2, "{output}");
    assert!(output.contains("z=3\ndone 3"), "{output}");
}

/// The same after a resume, with the generated file tied to the
/// checkpoint before it (the default `FORKMON_MIN_WORK`): the resumed run
/// writes a file the replaced run tied, and that write is its own too,
/// also when the watcher reads the write's events before the read's record
/// (20 ms apart here). (Each run resumed the next, 246 times in 10 s.)
#[test]
fn a_file_a_resumed_run_writes_and_then_requires_is_no_edit() {
    let dir = Scratch::new("write-then-require-again");
    dir.write(
        "main.lua",
        "package.path = './?.lua;' .. package.path\n\
         local f = io.open('gen.lua', 'w') f:write('return 42\\n') f:close()\n\
         local t = os.clock() while os.clock() - t < 0.02 do end\n\
         print('gen ' .. require 'gen')\n\
         require 'z'\n\
         print('done ' .. (os.getenv('FORKMON_RESTART_TICKS') or 'first'))\n",
    );
    dir.write("z.lua", "print('z=1')\n");
    let session = Launch::preloaded("lua5.4", "%.lua$")
        .env_remove("FORKMON_MIN_WORK")
        .arg("main.lua")
        .dir(&dir.0)
        .start();
    session.wait_for("done first");
    let main = std::fs::read_to_string(dir.path("main.lua")).expect("main.lua");
    save(
        &dir.path("main.lua"),
        &format!("{main}-- saved\n"),
        Save::InPlace,
    );
    session.wait_for("done 1");
    // A barrier: z.lua's save comes after the resumed run's writes.
    save(&dir.path("z.lua"), "print('z=2')\n", Save::InPlace);
    session.wait_for("z=2");
    let output = session.output();
    assert!(!output.contains("/gen.lua' changed"), "{output}");
    assert_eq!(session.count("changed, resuming"), 2, "{output}");
}

#[test]
fn an_edit_made_while_the_program_still_reads_files_resumes_once() {
    // The watcher watches a directory's file contents only once the
    // program's burst of reads there is over (up to 100 ms): an in-place
    // save of a.lua right after it was read, while the program reads 300
    // more files for 300 ms, is found by comparing a.lua with its stamp.
    let burst = "for i = 1, 300 do\n\
                 local t = os.clock() while os.clock() - t < 0.001 do end\n\
                 require(\"g\" .. i)\n\
                 end";
    for module_way in [false, true] {
        let app = LuaApp::new("edit-in-burst", &["a"], burst);
        for i in 1..=300 {
            app.dir.write(&format!("g{i}.lua"), "return 1\n");
        }
        let launch = if module_way {
            app.launch_module()
        } else {
            app.launch()
        };
        let mut session = launch.env_remove("FORKMON_MIN_WORK").start();
        session.wait_for("a=1");
        save(&app.module("a"), "print(\"a=2\")\n", Save::InPlace);
        session.wait_for("done 1");
        let output = session.output();
        assert!(
            output.contains("a.lua' changed, resuming"),
            "module way: {module_way}\n{output}"
        );
        assert!(
            session.program_output().contains("a=2\n"),
            "module way: {module_way}\n{output}"
        );
        assert_eq!(
            session.count("changed, resuming"),
            1,
            "module way: {module_way}\n{output}"
        );
        session.interrupt();
        session.assert_all_gone();
    }
}

/// A module tied to a checkpoint by the first run, read again by a resumed
/// run after a checkpoint of its own: its saves resume (a change that
/// ignored ties of replaced runs missed them, as its events still went to
/// the first run's tie).
#[test]
fn a_module_read_again_after_a_new_checkpoint_resumes_when_saved() {
    let dir = Scratch::new("resume-retied-module");
    dir.write(
        "main.lua",
        "function busy(ms) local t = os.clock() while os.clock() - t < ms / 1000 do end end\n\
         busy(100)\n\
         require 'a'\n\
         print('d says ' .. require('d'))\n",
    );
    dir.write("a.lua", "return 1\n");
    dir.write("d.lua", "return 'd1'\n");
    dir.write("x.lua", "return 1\n");
    let mut session = Launch::preloaded("lua5.4", "%.lua$")
        .env("FORKMON_MIN_WORK", "20")
        .arg("main.lua")
        .dir(&dir.0)
        .start();
    session.wait_for("d says d1");
    // d.lua was read at once after a.lua: tied to a.lua's checkpoint. The
    // new a.lua works, then requires x.lua, which gets a checkpoint.
    save(
        &dir.path("a.lua"),
        "busy(60) require 'x' return 2\n",
        Save::RenameOver,
    );
    session.wait_for_count("d says d1", 2);
    session.wait_for_count("program exited", 2);
    save(&dir.path("d.lua"), "return 'd2'\n", Save::RenameOver);
    session.wait_for("d says d2");
    session.interrupt();
    session.assert_all_gone();
}
