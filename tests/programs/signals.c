/* A SIGALRM every 100 µs whose handler opens and reads files (watched,
   unwatched, and once a new watched file: a checkpoint made inside the
   handler), while the main loop opens files in every way. Each read is
   checked, and errno around every successful open. The handler uses only
   async-signal-safe calls; the main loop calls fopen (which allocates)
   only after the handler's one new watched file, since forkmon's work for
   a new watched file allocates (see the README's Security and limits). */
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
