/* Uses up its open-file limit, then opens a watched file (which fails, as
   without forkmon), frees one descriptor and opens it again. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    printf("start\n");
    fflush(stdout);
    int last = -1;
    for (int fd; (fd = dup(2)) >= 0;) last = fd;
    int fd = open("data.txt", O_RDONLY);
    printf("full: %d %s\n", fd, strerror(errno));
    close(last);
    fd = open("data.txt", O_RDONLY);
    char buffer[64];
    ssize_t n = fd < 0 ? -1 : read(fd, buffer, sizeof buffer - 1);
    buffer[n > 0 ? n : 0] = 0;
    printf("read: %s", buffer);
    printf("end\n");
    return 0;
}
