/* File mappings across fork: a child's store to a MAP_SHARED file
 * mapping reaches the file and the parent; to a MAP_PRIVATE one, neither. */
#include "common.h"
int main(void) {
    start();
    int fd = open("k.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    report("open", fd);
    report("write", write(fd, "parent..", 8));
    report_map("mmap shared", mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    report_map("mmap private", mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
    pid_t child = fork();
    if (child == 0) {
        store(0, 'C');
        store(-PAGE + 1, 'c');
        load(-PAGE);
        load(-PAGE + 1);
        _exit(0);
    }
    report_wait(child);
    load(0);
    load(-PAGE);
    load(-PAGE + 1);
    show_file("k.txt");
    return 0;
}
