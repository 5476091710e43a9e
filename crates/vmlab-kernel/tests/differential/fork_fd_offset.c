/* A forked child shares its parent's open file descriptions, offset
 * included: writes from both land one after the other. Closing in the
 * child leaves the parent's descriptor open. */
#include "common.h"
int main(void) {
    start();
    int fd = open("f.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    report("open", fd);
    report("write", write(fd, "ab", 2));
    pid_t child = fork();
    if (child == 0) {
        report("child write", write(fd, "cd", 2));
        report("child lseek cur", lseek(fd, 0, SEEK_CUR));
        report("child close", close(fd));
        report("child write after close", write(fd, "xx", 2));
        _exit(0);
    }
    report_wait(child);
    report("lseek cur", lseek(fd, 0, SEEK_CUR));
    report("write", write(fd, "ef", 2));
    show_file("f.txt");
    report("close", close(fd));
    return 0;
}
