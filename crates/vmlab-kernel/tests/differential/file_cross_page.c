/* Reads and writes that cross page boundaries of the page cache, and a
 * truncation to just past a page boundary. */
#include "common.h"
int main(void) {
    start();
    int fd = open("c.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    report("open", fd);
    write_pages(fd, "ABC");
    report("write tail", write(fd, "tail", 4));
    report("lseek page - 3", lseek(fd, PAGE - 3, SEEK_SET));
    read_show(fd, 8);
    report("lseek 2 pages - 2", lseek(fd, 2 * PAGE - 2, SEEK_SET));
    report("write across", write(fd, "xyzw", 4));
    report("lseek 2 pages - 3", lseek(fd, 2 * PAGE - 3, SEEK_SET));
    read_show(fd, 6);
    report("lseek 3 pages - 1", lseek(fd, 3 * PAGE - 1, SEEK_SET));
    read_show(fd, 10);
    report("ftruncate page + 1", ftruncate(fd, PAGE + 1));
    report("lseek page - 1", lseek(fd, PAGE - 1, SEEK_SET));
    read_show(fd, 10);
    report("lseek end", lseek(fd, 0, SEEK_END));
    return 0;
}
