/* Every kind of result a hooked open can have, each started with errno at
   4242: a success must leave it, a failure must set libc's own value. */
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
