/* Counts every malloc-family call (forkmon's Rust allocator ends in these
   too) in phases: the first hooked calls, many unwatched opens, and one
   watched open (the positive control: a checkpoint allocates). */
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
