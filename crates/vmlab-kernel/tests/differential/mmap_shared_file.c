/* MAP_SHARED of a file: the mapping shows the file, its stores are what
 * read(2) sees at once, write(2) shows in the mapping at once, msync
 * writes back, and a store survives munmap. */
#include "common.h"
int main(void) {
    start();
    int fd = open("s.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    report("open", fd);
    report("write", write(fd, "0123456789", 10));
    report_map("mmap shared", mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    load(0);
    load(9);
    store(0, 'A');
    report("lseek 0", lseek(fd, 0, SEEK_SET));
    read_show(fd, 100);
    report("lseek 5", lseek(fd, 5, SEEK_SET));
    report("write", write(fd, "xy", 2));
    load(5);
    load(6);
    report("msync sync", msync(base, PAGE, MS_SYNC));
    show_file("s.txt");
    store(2, 'B');
    report("munmap", munmap(base, PAGE));
    report("lseek 0", lseek(fd, 0, SEEK_SET));
    read_show(fd, 100);
    return 0;
}
