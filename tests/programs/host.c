/* The tests' host program: does the steps given on its command line, in
 * order, so that a new case is one line of a test.
 *
 *   host STEP [ARG...] STEP [ARG...] ...
 *
 * Each step is a word followed by a fixed number of arguments (the
 * `arity` of its row in STEPS below). Signals are named without "SIG"
 * (INT, TERM, RTMIN+2) or given by number. Steps:
 *
 *   print TEXT          prints TEXT and a line break
 *   read FILE           opens FILE, reads it and prints its content (the
 *                       open is what forkmon checkpoints; a resume reads
 *                       the file again)
 *   sleep MS            sleeps MS milliseconds
 *   wait                pauses until a signal is handled (returns at once
 *                       if `mark` noted one already)
 *   on SIG save FILE N  on SIG: prints "saving...", takes a while (100 ms),
 *                       ends and reaps the child of `spawn` if any, writes
 *                       "saved" to FILE, prints "saved" and exits with N
 *   ignore SIG          sets SIG to be ignored
 *   block SIG           blocks SIG
 *   unblock SIG         unblocks SIG
 *   raise SIG           sends SIG to itself (pending, if it is blocked)
 *   fd N                prints "fd N: open" or "fd N: closed"
 *   noecho              turns the terminal's echo off (on stdin)
 *   echo                prints "echo on" or "echo off" (the terminal's)
 *   mark SIG            on SIG, only notes that it came (the program
 *                       goes on)
 *   marked N            exits with status N if a noted signal came
 *   spawn               forks a child that sleeps until killed, prints
 *                       "child PID"
 *   exit N              exits with status N
 *   input               reads a line from stdin, prints "got LINE" (or
 *                       "got EOF")
 *   write FILE TEXT     writes TEXT and a line break to FILE
 *   line                waits for a line on stdin (the test's go-ahead)
 *   closefds            closes every descriptor from 3 up (close_range)
 *   dup2 N              puts /dev/null at descriptor N (dup2 over it)
 *   ppid                prints "parent N", its parent's pid (getppid)
 *   pdeathsig SIG       asks for SIG when its parent dies (prctl)
 *   whosent SIG         on SIG, notes who sent it (as `mark` does)
 *   sender              prints "sent by N", the sender `whosent` noted
 *   count SIG           on SIG, counts it (the program goes on)
 *   untilmarked         waits until a signal `mark` notes has come
 *   counted             prints "counted N", the signals `count` counted
 *   rawfork             makes a child with the raw fork system call (no
 *                       fork handlers run) that prints "raw child's
 *                       parent is me" or "... is N"; waits for it
 *   burn MS             uses MS milliseconds of processor time
 *   clock               prints "clock S.S", clock() in seconds
 *   forkclock           forks a child that prints "child clock S.S" and
 *                       exits; waits for it
 *   nonblock            sets O_NONBLOCK on stdin (a killed run may
 *                       leave it so)
 *   flags               prints "stdin blocking" or "stdin nonblocking"
 *   epoll               makes an epoll instance, prints "epoll N"
 *   reopen N FILE       closes descriptor N and opens FILE (write-only,
 *                       made or emptied), which takes the lowest free
 *                       number: N, as a daemon's own file after close(2)
 *   socketpair          makes a socket pair (the lowest free numbers),
 *                       prints "sockets A B"
 *   stray               prints "stray bytes: N", the bytes waiting on the
 *                       first end of the socket pair (none were sent)
 *   itimer MS           arms ITIMER_REAL every MS ms; each SIGALRM counts
 *                       a tick
 *   alarm S             alarm(S); its SIGALRM counts a tick
 *   ticks N             waits until N ticks were counted, prints "ticks N"
 *   posixtimer          creates a POSIX timer (timer_create), not armed
 *   popen CMD           starts CMD with popen (its output is not read)
 *   pclose              pcloses it, prints "pclose: ok" or the error
 *   chroot DIR          changes the root directory to DIR (needs root),
 *                       and the current directory to the new root
 *   open FILE           opens FILE read-only without blocking (a FIFO
 *                       too), closes it, prints "open FILE: ok" or the error
 *   nofile N            lowers its open-file limit (soft) to N
 *   heap MB             allocates MB megabytes and writes every page
 *   listen NAME         listens on the abstract Unix socket NAME (only one
 *                       process at a time can), prints "listening NAME"
 *                       or "listen NAME: ERROR"
 *   forkread FILE       forks a copy of itself that reads FILE (as `read`)
 *                       and exits; waits for it
 *   pipe                makes a pipe (its read end not blocking) and
 *                       writes "hello" into it, prints "pipe R W"
 *   drain               reads what waits in that pipe, prints "drained N"
 *   keep FILE           opens FILE (read-write, made if missing) and keeps it
 *   fcntl               takes a write lock (fcntl, F_SETLK) on the kept file,
 *                       prints "fcntl locked" or "fcntl: ERROR"
 *   subreaper           makes itself a child subreaper (prctl)
 *   reaper              prints "subreaper 1" or "subreaper 0" (its own)
 *   lock FILE           opens FILE and takes its lock (flock, exclusive,
 *                       not waiting), prints "locked FILE" or "lock FILE:
 *                       ERROR"
 *
 * To add a step: write `static void step_NAME(char **args)` and add one row
 * to STEPS. Output is flushed after each step (the tests read it from a
 * terminal or a pipe while the program runs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static pid_t spawned = 0;
static volatile sig_atomic_t noted = 0;
static int sockets[2] = {-1, -1};
static int own_pipe[2] = {-1, -1};
static int kept = -1;
static volatile sig_atomic_t ticks = 0;
static FILE *opened_command = NULL;
static const char *save_file[NSIG];
static int save_status[NSIG];

static void fail(const char *what, const char *arg) {
    fprintf(stderr, "host: %s: %s\n", what, arg);
    exit(99);
}

static int signal_number(const char *name) {
    static const struct { const char *name; int number; } names[] = {
        {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT},
        {"TERM", SIGTERM}, {"PIPE", SIGPIPE}, {"USR1", SIGUSR1},
        {"USR2", SIGUSR2}, {"ALRM", SIGALRM}, {"CHLD", SIGCHLD},
        {"TSTP", SIGTSTP}, {"CONT", SIGCONT},
    };
    char *end;
    long number = strtol(name, &end, 10);
    if (*name && !*end && number > 0 && number < NSIG) return (int)number;
    if (strncmp(name, "SIG", 3) == 0) name += 3;
    if (strncmp(name, "RTMIN", 5) == 0) {
        int offset = name[5] == '+' ? atoi(name + 6) : 0;
        return SIGRTMIN + offset;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) return names[i].number;
    fail("unknown signal", name);
    return 0;
}

static void say(const char *text) {
    ssize_t ignored = write(1, text, strlen(text));
    (void)ignored;
}

static void sleep_ms(long ms) {
    struct timespec left = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
}

/* Only async-signal-safe calls. */
static void save_and_exit(int signal) {
    say("saving...\n");
    sleep_ms(100);
    if (spawned > 0) {
        kill(spawned, SIGTERM);
        waitpid(spawned, NULL, 0);
    }
    int fd = open(save_file[signal], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        ssize_t ignored = write(fd, "saved\n", 6);
        (void)ignored;
        close(fd);
    }
    say("saved\n");
    _exit(save_status[signal]);
}

static void step_print(char **args) { printf("%s\n", args[0]); }

static void step_read(char **args) {
    int fd = open(args[0], O_RDONLY);
    if (fd < 0) fail("cannot open", args[0]);
    char buffer[4096];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0) fwrite(buffer, 1, (size_t)n, stdout);
    close(fd);
}

static void step_sleep(char **args) { sleep_ms(atol(args[0])); }

static void step_wait(char **args) {
    (void)args;
    /* A signal `mark` notes may come just before the wait: checked with
       every signal blocked, then waited for atomically (no lost wake-up). */
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    if (!noted) sigsuspend(&old);
    sigprocmask(SIG_SETMASK, &old, NULL);
}

static void step_on(char **args) {
    int signal = signal_number(args[0]);
    if (strcmp(args[1], "save") != 0) fail("on SIG save FILE N, not", args[1]);
    save_file[signal] = args[2];
    save_status[signal] = atoi(args[3]);
    struct sigaction action = {0};
    action.sa_handler = save_and_exit;
    sigemptyset(&action.sa_mask);
    sigaction(signal, &action, NULL);
}

static void reloaded(int signal) {
    (void)signal;
    say("reloaded\n");
}

/* A server's reload on SIG (SIGHUP, as a rule): it says so and goes on. */
static void step_reload(char **args) {
    struct sigaction action = {0};
    action.sa_handler = reloaded;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(signal_number(args[0]), &action, NULL);
}

/* A program that tries to leave its terminal's session, or to lead a
   group of its own (both fail or change nothing for a job's leader). */
static void step_setsid(char **args) {
    (void)args;
    printf("setsid: %s\n", setsid() == -1 ? strerror(errno) : "ok");
}

static void step_setpgid(char **args) {
    (void)args;
    printf("setpgid: %s\n", setpgid(0, 0) == -1 ? strerror(errno) : "ok");
    printf("leads its group: %s\n", getpgrp() == getpid() ? "yes" : "no");
}

static void step_ignore(char **args) { signal(signal_number(args[0]), SIG_IGN); }

static void step_block(char **args) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signal_number(args[0]));
    sigprocmask(SIG_BLOCK, &set, NULL);
}

static void step_unblock(char **args) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signal_number(args[0]));
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

static void step_raise(char **args) { raise(signal_number(args[0])); }

static void step_fd(char **args) {
    int fd = atoi(args[0]);
    printf("fd %d: %s\n", fd, fcntl(fd, F_GETFD) == -1 ? "closed" : "open");
}

static void step_noecho(char **args) {
    (void)args;
    struct termios modes;
    if (tcgetattr(0, &modes) == 0) {
        modes.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(0, TCSANOW, &modes);
    }
}

static void step_echo(char **args) {
    (void)args;
    struct termios modes;
    if (tcgetattr(0, &modes) != 0) printf("echo: no terminal\n");
    else printf("echo %s\n", modes.c_lflag & ECHO ? "on" : "off");
}

static void note(int signal) { noted = signal; }

static void step_mark(char **args) {
    struct sigaction action = {0};
    action.sa_handler = note;
    sigemptyset(&action.sa_mask);
    sigaction(signal_number(args[0]), &action, NULL);
}

static void step_marked(char **args) {
    if (noted) exit(atoi(args[0]));
}

static void step_spawn(char **args) {
    (void)args;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) fail("fork", strerror(errno));
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        for (;;) pause();
    }
    spawned = pid;
    printf("child %d\n", (int)pid);
}

static void step_exit(char **args) { exit(atoi(args[0])); }

static void step_input(char **args) {
    (void)args;
    char line[4096];
    if (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = 0;
        printf("got %s\n", line);
    } else {
        printf("got EOF\n");
    }
}

static void step_write(char **args) {
    FILE *file = fopen(args[0], "w");
    if (!file) fail("cannot write", args[0]);
    fprintf(file, "%s\n", args[1]);
    fclose(file);
}

static void step_line(char **args) {
    (void)args;
    char line[256];
    if (!fgets(line, sizeof line, stdin)) fail("line", "end of input");
}

static void step_closefds(char **args) {
    (void)args;
    if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) fail("close_range", strerror(errno));
}

static void step_dup2(char **args) {
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, atoi(args[0])) < 0) fail("dup2", strerror(errno));
    if (null != atoi(args[0])) close(null);
}

static void step_ppid(char **args) {
    (void)args;
    printf("parent %d\n", (int)getppid());
}

static void step_pdeathsig(char **args) {
    if (prctl(PR_SET_PDEATHSIG, signal_number(args[0])) != 0) fail("pdeathsig", strerror(errno));
}

static volatile pid_t sent_by = 0;

static void note_sender(int signal, siginfo_t *info, void *context) {
    (void)signal;
    (void)context;
    sent_by = info->si_pid;
    noted = 1;
}

static void step_whosent(char **args) {
    struct sigaction action = {0};
    action.sa_sigaction = note_sender;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    sigaction(signal_number(args[0]), &action, NULL);
}

static void step_sender(char **args) {
    (void)args;
    printf("sent by %d\n", (int)sent_by);
}

static volatile sig_atomic_t counted = 0;

static void count_one(int signal) {
    (void)signal;
    counted++;
}

static void step_count(char **args) {
    struct sigaction action = {0};
    action.sa_handler = count_one;
    sigemptyset(&action.sa_mask);
    sigaction(signal_number(args[0]), &action, NULL);
}

static void step_untilmarked(char **args) {
    (void)args;
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    while (!noted) sigsuspend(&old);
    sigprocmask(SIG_SETMASK, &old, NULL);
}

static void step_counted(char **args) {
    (void)args;
    printf("counted %d\n", (int)counted);
}

static void step_rawfork(char **args) {
    (void)args;
    pid_t me = getpid();
    fflush(stdout);
    long child = syscall(SYS_fork);
    if (child < 0) fail("rawfork", strerror(errno));
    if (child == 0) {
        pid_t parent = getppid();
        if (parent == me) printf("raw child's parent is me\n");
        else printf("raw child's parent is %d\n", (int)parent);
        fflush(stdout);
        syscall(SYS_exit, 0);
    }
    waitpid((pid_t)child, NULL, 0);
}

static void step_burn(char **args) {
    clock_t until = clock() + (clock_t)atol(args[0]) * (CLOCKS_PER_SEC / 1000);
    while (clock() < until) {}
}

static void step_clock(char **args) {
    (void)args;
    printf("clock %.1f\n", (double)clock() / CLOCKS_PER_SEC);
}

static void step_forkclock(char **args) {
    (void)args;
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) fail("forkclock", strerror(errno));
    if (child == 0) {
        printf("child clock %.1f\n", (double)clock() / CLOCKS_PER_SEC);
        fflush(stdout);
        _exit(0);
    }
    waitpid(child, NULL, 0);
}

static void step_nonblock(char **args) {
    (void)args;
    int flags = fcntl(0, F_GETFL);
    if (flags < 0 || fcntl(0, F_SETFL, flags | O_NONBLOCK) < 0) fail("nonblock", strerror(errno));
}

static void step_flags(char **args) {
    (void)args;
    int flags = fcntl(0, F_GETFL);
    if (flags < 0) fail("flags", strerror(errno));
    printf("stdin %s\n", flags & O_NONBLOCK ? "nonblocking" : "blocking");
}

static void step_epoll(char **args) {
    (void)args;
    int fd = epoll_create1(0);
    if (fd < 0) fail("epoll", strerror(errno));
    printf("epoll %d\n", fd);
}

static void step_reopen(char **args) {
    close(atoi(args[0]));
    int fd = open(args[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd != atoi(args[0])) fail("reopen", fd < 0 ? strerror(errno) : "another number");
}

static void step_socketpair(char **args) {
    (void)args;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sockets) != 0) fail("socketpair", strerror(errno));
    printf("sockets %d %d\n", sockets[0], sockets[1]);
}

static void step_stray(char **args) {
    (void)args;
    char buffer[64];
    ssize_t n, total = 0;
    while ((n = recv(sockets[0], buffer, sizeof buffer, MSG_DONTWAIT)) > 0) total += n;
    printf("stray bytes: %zd\n", total);
}

static void count_tick(int signal) {
    (void)signal;
    ticks++;
}

static void count_ticks(void) {
    struct sigaction action = {0};
    action.sa_handler = count_tick;
    sigemptyset(&action.sa_mask);
    sigaction(SIGALRM, &action, NULL);
}

static void step_itimer(char **args) {
    count_ticks();
    long ms = atol(args[0]);
    struct itimerval every = {{ms / 1000, (ms % 1000) * 1000}, {ms / 1000, (ms % 1000) * 1000}};
    if (setitimer(ITIMER_REAL, &every, NULL) != 0) fail("setitimer", strerror(errno));
}

static void step_alarm(char **args) {
    count_ticks();
    alarm((unsigned)atoi(args[0]));
}

static void step_ticks(char **args) {
    int wanted = atoi(args[0]);
    sigset_t alarm_only, old;
    sigemptyset(&alarm_only);
    sigaddset(&alarm_only, SIGALRM);
    sigprocmask(SIG_BLOCK, &alarm_only, &old);
    while (ticks < wanted) sigsuspend(&old);
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("ticks %d\n", wanted);
}

static void step_posixtimer(char **args) {
    (void)args;
    timer_t timer;
    struct sigevent event = {0};
    event.sigev_notify = SIGEV_NONE;
    if (timer_create(CLOCK_MONOTONIC, &event, &timer) != 0) fail("timer_create", strerror(errno));
}

static void step_popen(char **args) {
    fflush(stdout);
    opened_command = popen(args[0], "r");
    if (!opened_command) fail("popen", strerror(errno));
}

static void step_pclose(char **args) {
    (void)args;
    errno = 0;
    int status = opened_command ? pclose(opened_command) : -1;
    printf("pclose: %s\n", status == -1 ? strerror(errno) : "ok");
}

static void step_chroot(char **args) {
    if (chroot(args[0]) != 0 || chdir("/") != 0) fail("chroot", strerror(errno));
}

static void step_open(char **args) {
    int fd = open(args[0], O_RDONLY | O_NONBLOCK);
    printf("open %s: %s\n", args[0], fd < 0 ? strerror(errno) : "ok");
    if (fd >= 0) close(fd);
}

static void step_nofile(char **args) {
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = (rlim_t)atol(args[0]);
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) fail("setrlimit", strerror(errno));
}

/* Kept, so that the compiler does not leave out the allocation. */
static char *volatile heap = NULL;

static void step_heap(char **args) {
    size_t size = (size_t)atol(args[0]) << 20;
    heap = malloc(size);
    if (!heap) fail("heap", strerror(errno));
    memset(heap, 1, size);
}

static void step_listen(char **args) {
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    size_t length = strlen(args[0]);
    if (length + 1 > sizeof address.sun_path) fail("listen: name too long", args[0]);
    memcpy(address.sun_path + 1, args[0], length);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t size = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + length);
    if (fd < 0 || bind(fd, (struct sockaddr *)&address, size) != 0 || listen(fd, 8) != 0)
        printf("listen %s: %s\n", args[0], strerror(errno));
    else
        printf("listening %s\n", args[0]);
}

static void step_lock(char **args) {
    int fd = open(args[0], O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0)
        printf("lock %s: %s\n", args[0], strerror(errno));
    else
        printf("locked %s\n", args[0]);
}

static void step_read(char **args);

static void step_forkread(char **args) {
    pid_t copy = fork();
    if (copy < 0) fail("fork", strerror(errno));
    if (copy == 0) {
        step_read(args);
        fflush(stdout);
        _exit(0);
    }
    waitpid(copy, NULL, 0);
}

/* vfork's child opens a file, as a child about to exec with its input
   redirected does, and exits: the program's memory is its own again. */
static void step_vforkread(char **args) {
    pid_t copy = vfork();
    if (copy < 0) fail("vfork", strerror(errno));
    if (copy == 0) {
        int fd = open(args[0], O_RDONLY);
        if (fd >= 0) close(fd);
        _exit(0);
    }
    waitpid(copy, NULL, 0);
    printf("vfork child %s\n", "done");
}

static void step_pipe(char **args) {
    (void)args;
    if (pipe2(own_pipe, O_NONBLOCK) != 0 || write(own_pipe[1], "hello", 5) != 5)
        fail("pipe", strerror(errno));
    printf("pipe %d %d\n", own_pipe[0], own_pipe[1]);
}

static void step_drain(char **args) {
    (void)args;
    char buffer[64];
    ssize_t n = read(own_pipe[0], buffer, sizeof buffer);
    printf("drained %zd\n", n < 0 ? (ssize_t)0 : n);
}

static void step_keep(char **args) {
    kept = open(args[0], O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (kept < 0) fail("keep", strerror(errno));
}

static void step_fcntl(char **args) {
    (void)args;
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(kept, F_SETLK, &lock) != 0)
        printf("fcntl: %s\n", strerror(errno));
    else
        printf("fcntl locked\n");
}

static void step_subreaper(char **args) {
    (void)args;
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) fail("prctl", strerror(errno));
}

static void step_reaper(char **args) {
    (void)args;
    int on = 0;
    if (prctl(PR_GET_CHILD_SUBREAPER, &on) != 0) fail("prctl", strerror(errno));
    printf("subreaper %d\n", on);
}

static const struct step {
    const char *name;
    int arity;
    void (*run)(char **args);
} STEPS[] = {
    {"print", 1, step_print},   {"read", 1, step_read},
    {"sleep", 1, step_sleep},   {"wait", 0, step_wait},
    {"on", 4, step_on},         {"ignore", 1, step_ignore},
    {"block", 1, step_block},   {"spawn", 0, step_spawn},
    {"exit", 1, step_exit},     {"input", 0, step_input},
    {"write", 2, step_write},   {"unblock", 1, step_unblock},
    {"raise", 1, step_raise},   {"fd", 1, step_fd},
    {"noecho", 0, step_noecho}, {"echo", 0, step_echo},
    {"mark", 1, step_mark},     {"marked", 1, step_marked},
    {"line", 0, step_line},
    {"closefds", 0, step_closefds}, {"dup2", 1, step_dup2},
    {"reopen", 2, step_reopen},
    {"ppid", 0, step_ppid}, {"rawfork", 0, step_rawfork}, {"count", 1, step_count},
    {"untilmarked", 0, step_untilmarked}, {"counted", 0, step_counted},
    {"whosent", 1, step_whosent}, {"sender", 0, step_sender}, {"pdeathsig", 1, step_pdeathsig}, {"burn", 1, step_burn}, {"clock", 0, step_clock},
    {"forkclock", 0, step_forkclock}, {"nonblock", 0, step_nonblock}, {"flags", 0, step_flags}, {"epoll", 0, step_epoll},
    {"socketpair", 0, step_socketpair}, {"stray", 0, step_stray},
    {"itimer", 1, step_itimer}, {"alarm", 1, step_alarm},
    {"ticks", 1, step_ticks},   {"posixtimer", 0, step_posixtimer},
    {"popen", 1, step_popen},   {"pclose", 0, step_pclose},
    {"chroot", 1, step_chroot}, {"open", 1, step_open},
    {"nofile", 1, step_nofile}, {"heap", 1, step_heap},
    {"listen", 1, step_listen}, {"lock", 1, step_lock},
    {"subreaper", 0, step_subreaper}, {"reaper", 0, step_reaper},
    {"pipe", 0, step_pipe},     {"drain", 0, step_drain},
    {"forkread", 1, step_forkread}, {"keep", 1, step_keep},
    {"fcntl", 0, step_fcntl},   {"vforkread", 1, step_vforkread},
    {"reload", 1, step_reload}, {"setsid", 0, step_setsid},
    {"setpgid", 0, step_setpgid},
};

int main(int argc, char **argv) {
    int i = 1;
    while (i < argc) {
        const struct step *step = NULL;
        for (size_t s = 0; s < sizeof STEPS / sizeof STEPS[0]; s++)
            if (strcmp(argv[i], STEPS[s].name) == 0) step = &STEPS[s];
        if (!step) fail("unknown step", argv[i]);
        if (step->arity > argc - i - 1)
            fail("missing arguments for", argv[i]);
        step->run(argv + i + 1);
        fflush(stdout);
        i += 1 + step->arity;
    }
    return 0;
}
