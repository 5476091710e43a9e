/* execve replaces the program but keeps the process: its pid, and its
 * open descriptors with their offsets. */
#include "common.h"
int main(int argc, char **argv) {
    start();
    if (argc == 3) {
        int fd = atoi(argv[1]);
        out("after execve");
        out("getpid unchanged = %s", getpid() == atoi(argv[2]) ? "yes" : "no");
        report("lseek cur", lseek(fd, 0, SEEK_CUR));
        read_show(fd, 10);
        report("close", close(fd));
        return 0;
    }
    int fd = open("x.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    report("open", fd);
    report("write", write(fd, "abcdef", 6));
    report("lseek 2", lseek(fd, 2, SEEK_SET));
    char fd_text[16], pid_text[16];
    snprintf(fd_text, sizeof fd_text, "%d", fd);
    snprintf(pid_text, sizeof pid_text, "%d", getpid());
    execl("/proc/self/exe", argv[0], fd_text, pid_text, (char *)NULL);
    report("execl", -1);
    return 1;
}
