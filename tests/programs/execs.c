/* Reads one.txt, then becomes a shell that reads two.txt (forkmon is not
   preloaded into what it execs) and the terminal. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
    char buffer[256];
    int fd = open("one.txt", O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buffer, sizeof buffer - 1);
    buffer[n > 0 ? n : 0] = 0;
    printf("one.txt:%s", buffer);
    fflush(stdout);
    if (fd >= 0) close(fd);
    execl("/bin/sh", "sh", "-c",
          "echo \"exec ran, LD_PRELOAD=$LD_PRELOAD\"; cat two.txt; read line; echo \"got $line\"",
          (char *)0);
    return 3;
}
