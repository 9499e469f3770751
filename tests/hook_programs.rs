//! Hook discipline (issue 8.5) seen from C programs with the real library
//! preloaded: no allocation for unwatched opens (malloc counted by the
//! program itself), `errno` exactly as libc set it for every kind of
//! success and failure, and a signal handler that opens files, arriving
//! at any moment (inside the hooks too), is safe.

mod common;

use common::{Launch, Scratch};

/// Runs `program` in `dir` without forkmon and returns what it printed.
fn plain_output(program: &std::path::Path, dir: &Scratch) -> String {
    let mut session = Launch::plain(program).dir(&dir.0).start();
    let status = session.wait_exit();
    assert!(status.success(), "plain run failed:\n{}", session.output());
    session.program_output()
}

/// Runs `program` in `dir` with forkmon preloaded (it watches files, so
/// forkmon waits after it ends: Ctrl+C ends the tree) and returns what the
/// program printed and the whole output.
fn preloaded_output(program: &std::path::Path, dir: &Scratch, filter: &str) -> (String, String) {
    preloaded_output_after(program, dir, filter, &[])
}

/// As [`preloaded_output`], once the output also holds each of `needles`
/// (the watcher says its `watch` lines when it has read the registrations,
/// maybe after the program's end).
fn preloaded_output_after(
    program: &std::path::Path,
    dir: &Scratch,
    filter: &str,
    needles: &[&str],
) -> (String, String) {
    let mut session = Launch::preloaded(program, filter).dir(&dir.0).start();
    session.wait_for("waiting for a change");
    for needle in needles {
        session.wait_for(needle);
    }
    let result = (session.program_output(), session.output());
    session.interrupt();
    session.assert_all_gone();
    result
}

// --- allocations ---------------------------------------------------------------

/// Counts every malloc-family call (forkmon's Rust allocator ends in these
/// too) in phases: the first hooked calls, many unwatched opens, and one
/// watched open (the positive control: a checkpoint allocates).
const COUNT_MALLOC: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern int __open_2(const char *, int);
extern int __openat_2(int, const char *, int);

static volatile int counting;
static volatile long count;
#define COUNT() do { if (counting) count++; } while (0)

void *malloc(size_t n) { COUNT(); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { COUNT(); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { COUNT(); return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t a, size_t n) { COUNT(); return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { COUNT(); return __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
    COUNT();
    void *p = __libc_memalign(a, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

static int failures;
static void done(int fd) { if (fd < 0) failures++; else close(fd); }

static void unwatched_round(int dir) {
    done(open("data/u.txt", O_RDONLY));
    done(open64("../counting/data/u.txt", O_RDONLY));
    done(openat(dir, "u.txt", O_RDONLY));
    done(openat64(AT_FDCWD, "data/./u.txt", O_RDONLY));
    done(__open_2("data/u.txt", O_RDONLY));
    done(__openat_2(dir, "u.txt", O_RDONLY));
    done(open("/proc/self/stat", O_RDONLY));
    done(open("data/out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644));
    if (open("data/missing.txt", O_RDONLY) >= 0) failures++;
    FILE *f = fopen("data/u.txt", "r");
    if (!f) failures++; else fclose(f);
    f = fopen64("data/u.txt", "re");
    if (!f) failures++; else if (!freopen("data/u.txt", "r", f)) failures++; else fclose(f);
}

int main(void) {
    int dir = open("data", O_RDONLY | O_DIRECTORY);
    counting = 1;
    unwatched_round(dir);
    counting = 0;
    printf("first calls: %ld allocations\n", count);
    count = 0;
    counting = 1;
    for (int i = 0; i < 2000; i++) unwatched_round(dir);
    counting = 0;
    printf("unwatched opens: %ld allocations\n", count);
    count = 0;
    counting = 1;
    done(open("data/w.lua", O_RDONLY));
    counting = 0;
    printf("watched open: %s\n", count > 0 ? "allocates" : "nothing");
    printf("failures: %d\nend\n", failures);
    return 0;
}
"#;

#[test]
fn unwatched_opens_allocate_nothing_in_the_preloaded_library() {
    let scratch = Scratch::new("counting");
    // The program reaches its files as ../counting/data too.
    let dir = Scratch(scratch.path("counting"));
    std::fs::create_dir_all(dir.path("data")).expect("mkdir");
    let program = dir.compile_c("count_malloc", COUNT_MALLOC);
    dir.write("data/u.txt", "u");
    dir.write("data/w.lua", "w");

    let plain = plain_output(&program, &dir);
    assert!(plain.contains("failures: 0\nend\n"), "{plain}");
    assert!(plain.contains("watched open: nothing\n"), "{plain}");
    let (preloaded, output) = preloaded_output(&program, &dir, "%.lua$");
    // The same count as without forkmon (fopen's own buffers), phase by
    // phase: the hooks add none, not even on their first call.
    let phases = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains("allocations") || l.starts_with("failures"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(phases(&preloaded), phases(&plain), "{output}");
    // Positive control: the counter sees forkmon's own allocations.
    assert!(
        preloaded.contains("watched open: allocates\n"),
        "a checkpoint allocates and is counted:\n{output}"
    );
}

// --- errno ---------------------------------------------------------------------

/// Every kind of result a hooked open can have, each started with errno at
/// 4242: a success must leave it, a failure must set libc's own value.
const ERRNO: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void report(const char *label, int failed) {
    int e = errno;
    printf("%-16s %s errno=%s\n", label, failed ? "fail" : "ok",
           e == 4242 ? "kept" : strerrorname_np(e) ? strerrorname_np(e) : "?");
    fflush(stdout);
}
#define FD(label, call) do { errno = 4242; int fd = (call); report(label, fd < 0); if (fd >= 0) close(fd); } while (0)
#define FP(label, call) do { errno = 4242; FILE *f = (call); report(label, f == NULL); if (f) fclose(f); } while (0)

int main(void) {
    static char long_name[400], long_path[5000];
    memset(long_name, 'n', 300);
    strcpy(long_name + 300, ".lua");
    for (int i = 0; i < 2100; i++) strcpy(long_path + 2 * i, "./");
    strcpy(long_path + 4200, "w1.lua");
    const char *volatile null_path = NULL;
    int dir = open(".", O_RDONLY | O_DIRECTORY);

    FD("open new", open("w1.lua", O_RDONLY));
    FD("open again", open("w1.lua", O_RDONLY));
    FD("open64 new", open64("w2.lua", O_RDONLY));
    FD("openat new", openat(AT_FDCWD, "w3.lua", O_RDONLY));
    FD("openat dirfd", openat(dir, "w4.lua", O_RDONLY));
    FP("fopen new", fopen("w5.lua", "r"));
    FP("fopen64 new", fopen64("w6.lua", "re"));
    errno = 4242;
    FILE *f = fopen("u.txt", "r");
    report("fopen unwatched", f == NULL);
    errno = 4242;
    f = f ? freopen("w1.lua", "r", f) : NULL;
    report("freopen", f == NULL);
    if (f) fclose(f);
    FD("unwatched", open("u.txt", O_RDONLY));
    FD("write tied", open("w1.lua", O_WRONLY | O_APPEND));
    FD("missing", open("missing.lua", O_RDONLY));
    FP("fopen missing", fopen("missing.lua", "r"));
    FD("not a dir", open("f.lua/x.lua", O_RDONLY));
    FD("loop", open("loop.lua", O_RDONLY));
    FD("write a dir", open("dir.lua", O_WRONLY));
    FD("O_DIRECTORY", open("f.lua", O_RDONLY | O_DIRECTORY));
    FD("exists", open("f.lua", O_WRONLY | O_CREAT | O_EXCL, 0644));
    FD("long name", open(long_name, O_RDONLY));
    FD("long path", open(long_path, O_RDONLY));
    FD("bad dirfd", openat(9999, "w1.lua", O_RDONLY));
    FD("null path", open(null_path, O_RDONLY));
    FD("empty path", open("", O_RDONLY));
    FD("bad flags", open("f.lua", O_RDONLY | O_TMPFILE));
    printf("end\n");
    return 0;
}
"#;

#[test]
fn errno_after_each_hooked_call_is_what_libc_set() {
    let scratch = Scratch::new("errno");
    let program = scratch.compile_c("errno", ERRNO);
    for name in [
        "w1.lua", "w2.lua", "w3.lua", "w4.lua", "w5.lua", "w6.lua", "f.lua", "u.txt",
    ] {
        scratch.write(name, "x\n");
    }
    std::fs::create_dir(scratch.path("dir.lua")).expect("mkdir");
    std::os::unix::fs::symlink("loop.lua", scratch.path("loop.lua")).expect("symlink");

    let plain = plain_output(&program, &scratch);
    // The program meets each failure it means to.
    for (label, result) in [
        ("open new", "ok errno=kept"),
        ("freopen", "ok errno=kept"),
        ("write tied", "ok errno=kept"),
        ("missing", "fail errno=ENOENT"),
        ("fopen missing", "fail errno=ENOENT"),
        ("not a dir", "fail errno=ENOTDIR"),
        ("loop", "fail errno=ELOOP"),
        ("write a dir", "fail errno=EISDIR"),
        ("O_DIRECTORY", "fail errno=ENOTDIR"),
        ("exists", "fail errno=EEXIST"),
        ("long name", "fail errno=ENAMETOOLONG"),
        ("long path", "fail errno=ENAMETOOLONG"),
        ("bad dirfd", "fail errno=EBADF"),
        ("null path", "fail errno=EFAULT"),
        ("empty path", "fail errno=ENOENT"),
        ("bad flags", "fail errno=EINVAL"),
    ] {
        let expected = format!("{label:<16} {result}\n");
        assert!(plain.contains(&expected), "{expected:?} in:\n{plain}");
    }
    assert!(plain.ends_with("end\n"), "{plain}");

    let (preloaded, output) =
        preloaded_output_after(&program, &scratch, "%.lua$", &["w1.lua'", "w6.lua'"]);
    assert_eq!(preloaded, plain, "{output}");
    // The new files were really watched (checkpoints, the watcher's
    // registration): errno survived all of that.
    let said = |name: &str| {
        output
            .lines()
            .any(|l| l.starts_with("[forkmon] watch") && l.contains(name))
    };
    assert!(said("w1.lua") && said("w6.lua"), "{output}");
}

// --- signals -------------------------------------------------------------------

/// A SIGALRM every 100 µs whose handler opens and reads files (watched,
/// unwatched, and once a new watched file: a checkpoint made inside the
/// handler), while the main loop opens files in every way. Each read is
/// checked, and errno around every successful open. The handler uses only
/// async-signal-safe calls; the main loop calls fopen (which allocates)
/// only after the handler's one new watched file, since forkmon's work for
/// a new watched file allocates (see the README's Security and limits).
const SIGNALS: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t handled, inside, failures, handler_new_done, in_call, failed_where;
#define FAIL(bit) do { failures++; failed_where |= (bit); } while (0)

static int check_fd(int fd, char expected) {
    char c = 0;
    if (fd < 0) return 1;
    /* pread: a checkpoint made in the handler while the main loop holds
       this descriptor shares its offset with the resumed run (the
       README's "File offsets are shared"). */
    int bad = pread(fd, &c, 1, 0) != 1 || c != expected;
    close(fd);
    return bad;
}

static void on_alarm(int sig) {
    (void)sig;
    int saved = errno;
    handled++;
    if (in_call) inside++;
    errno = 4343;
    int fd;
    if (!handler_new_done) {
        /* A new watched file, in the first 50 signals: one of them at
           least comes outside a hook (inside one, forkmon steps aside). */
        fd = open("sig_new.lua", O_RDONLY);
        handler_new_done = handled >= 50;
        if (check_fd(fd, 'n')) FAIL(1);
    } else if (handled % 2) {
        fd = open("sig.lua", O_RDONLY);
        if (check_fd(fd, 's')) FAIL(2);
    } else {
        fd = openat(AT_FDCWD, "sig.txt", O_RDONLY);
        if (check_fd(fd, 't')) FAIL(4);
    }
    if (errno != 4343) FAIL(8);
    errno = saved;
}

static pid_t armed_in;
static void arm(void) {
    /* A fork (a checkpoint) does not carry timers over: arm again in each
       new process. */
    if (armed_in == getpid()) return;
    armed_in = getpid();
    struct itimerval t = {{0, 100}, {0, 100}};
    setitimer(ITIMER_REAL, &t, NULL);
}

#define OPENED(call, expected) do { \
    errno = 4242; in_call = 1; int fd = (call); in_call = 0; \
    if (fd < 0) FAIL(16); else if (errno != 4242) FAIL(32); else if (check_fd(fd, expected)) FAIL(64); } while (0)

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 20000;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    /* Tie the handler's watched file before the timer starts. */
    OPENED(open("sig.lua", O_RDONLY), 's');
    int dir = open(".", O_RDONLY | O_DIRECTORY);
    char name[32];
    for (int i = 0; i < rounds; i++) {
        arm();
        if (i % 1000 == 999 && i < 10000) {
            snprintf(name, sizeof name, "m%d.lua", i / 1000);
            OPENED(open(name, O_RDONLY), 'm');
        }
        OPENED(open("u.txt", O_RDONLY), 'u');
        OPENED(openat(dir, "u.txt", O_RDONLY), 'u');
        OPENED(open("sig.lua", O_RDONLY), 's');
        if (handler_new_done && i % 4 == 0) {
            errno = 4242;
            in_call = 1;
            FILE *f = fopen("u.txt", "r");
            in_call = 0;
            if (!f || errno != 4242 || fgetc(f) != 'u') FAIL(128);
            if (f) fclose(f);
        }
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("signals: %d handled, %d inside an open; failed checks 0x%x\n", (int)handled, (int)inside, (int)failed_where);
    printf("handled %s, inside calls %s, failures %d\nend\n",
           handled > 100 ? "many" : "few", inside > 0 ? "yes" : "no", (int)failures);
    return 0;
}
"#;

#[test]
fn a_signal_handler_that_opens_files_at_any_moment_is_safe() {
    let scratch = Scratch::new("signals");
    let program = scratch.compile_c("signals", SIGNALS);
    scratch.write("sig.lua", "s");
    scratch.write("sig_new.lua", "n");
    scratch.write("sig.txt", "t");
    scratch.write("u.txt", "u");
    for i in 0..10 {
        scratch.write(&format!("m{i}.lua"), "m");
    }
    let expected = "handled many, inside calls yes, failures 0\nend\n";
    let plain = plain_output(&program, &scratch);
    assert!(plain.ends_with(expected), "{plain}");

    // The deadline of wait_for catches a deadlock; the checks catch a
    // wrong read or errno; a crash would leave no "end".
    let mut session = Launch::preloaded(&program, "%.lua$")
        .dir(&scratch.0)
        .start();
    session.wait_for("waiting for a change");
    let output = session.output();
    assert!(session.program_output().ends_with(expected), "{output}");
    // The checkpoint made inside the handler resumes: the new child goes
    // back into the handler, then into the main loop, and runs to its end.
    common::save(&scratch.path("sig_new.lua"), "n2", common::Save::InPlace);
    session.wait_for_count("\nend\n", 2);
    let output = session.output();
    assert!(
        output.contains(&format!(
            "'{}' changed, resuming from it",
            scratch.path("sig_new.lua").display()
        )),
        "{output}"
    );
    assert_eq!(
        session.program_output().matches(expected).count(),
        2,
        "{output}"
    );
    session.interrupt();
    session.assert_all_gone();
}
