#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void show(const char *label, int fd) {
    char buffer[256];
    ssize_t n = fd < 0 ? -1 : read(fd, buffer, sizeof buffer - 1);
    buffer[n > 0 ? n : 0] = 0;
    printf("%s:%s", label, buffer);
    fflush(stdout);
    if (fd >= 0) close(fd);
}

int main(void) {
    printf("start\n");
    fflush(stdout);
    /* A relative open before chdir: forkmon keeps the current directory
       between opens, and chdir must make it forget it. */
    close(open("status", O_RDONLY));
    if (chdir("data") != 0) return 2;
    show("one", open("one.txt", O_RDONLY));
    int dir = open(".", O_RDONLY | O_DIRECTORY);
    show("two", openat(dir, "sub/../sub/two.txt", O_RDONLY));
    FILE *three = fopen("three.txt", "r");
    char line[256] = "";
    if (three && fgets(line, sizeof line, three)) printf("three:%s", line);
    if (three) fclose(three);
    int written = open("written.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (written >= 0) { write(written, "x", 1); close(written); }
    FILE *appended = fopen("appended.txt", "a");
    if (appended) fclose(appended);
    FILE *updated = fopen("one.txt", "r+");
    if (updated) fclose(updated);
    close(open("folder.txt", O_RDONLY));
    close(open("fifo.txt", O_RDONLY | O_NONBLOCK));
    close(open("/proc/self/status", O_RDONLY));
    close(open("/dev/null", O_RDONLY));
    errno = 0;
    int missing = open("missing.txt", O_RDONLY);
    printf("missing:%d %s\n", missing, strerror(errno));
    printf("end\n");
    return 0;
}
