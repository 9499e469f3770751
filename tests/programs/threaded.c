#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void *idle(void *unused) { (void)unused; pause(); return NULL; }

int main(void) {
    pthread_t thread;
    pthread_create(&thread, NULL, idle, NULL);
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%d.txt", i);
        int fd = open(name, O_RDONLY);
        printf("read %s: %s\n", name, fd >= 0 ? "yes" : "no");
        if (fd >= 0) close(fd);
    }
    printf("end\n");
    return 0;
}
