/* A write past the end leaves a hole that reads as zeros; an lseek
 * past the end alone does not change the size. */
#include "common.h"
int main(void) {
    start();
    int fd = open("h.bin", O_CREAT | O_RDWR, 0644);
    report("open", fd);
    report("lseek 5", lseek(fd, 5, SEEK_SET));
    show_file("h.bin");
    report("write", write(fd, "x", 1));
    show_file("h.bin");
    report("lseek set 0", lseek(fd, 0, SEEK_SET));
    read_show(fd, 100);
    return 0;
}
