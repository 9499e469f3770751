/* Reads one.txt, forks a copy that reads two.txt and then waits for a
   signal; once the copy has read it, reads three.txt in the original
   process, and ends. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static int order[2];

static void show(const char *name) {
    char buffer[256];
    int fd = open(name, O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buffer, sizeof buffer - 1);
    buffer[n > 0 ? n : 0] = 0;
    printf("%s:%s", name, buffer);
    fflush(stdout);
    if (fd >= 0) close(fd);
}

int main(void) {
    show("one.txt");
    if (pipe(order) != 0) return 2;
    pid_t copy = fork();
    if (copy == 0) {
        show("two.txt");
        printf("copy %d waits\n", (int)getpid());
        fflush(stdout);
        close(order[1]);
        pause();
        return 0;
    }
    if (copy < 0) return 3;
    char done;
    close(order[1]);
    if (read(order[0], &done, 1) != 0) return 4;
    show("three.txt");
    printf("end\n");
    return 0;
}
