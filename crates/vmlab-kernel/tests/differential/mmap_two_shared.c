/* Two shared mappings of one file see each other's stores at once; a
 * private one sees them until it writes; munmap of part of a file
 * mapping leaves the rest mapped. */
#include "common.h"
int main(void) {
    start();
    int fd = open("t.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    report("open", fd);
    write_pages(fd, "ab");
    report_map("mmap shared 1", mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    report_map("mmap shared 2", mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    report_map("mmap private", mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
    store(0, 'X');
    load(-2 * PAGE);
    load(-4 * PAGE);
    store(-2 * PAGE + PAGE, 'Y');
    load(PAGE);
    store(-4 * PAGE + PAGE + 1, 'p');
    load(-4 * PAGE + PAGE);
    report("munmap first page of shared 1", munmap(base, PAGE));
    load(0);
    load(PAGE);
    report("lseek 0", lseek(fd, 0, SEEK_SET));
    read_show(fd, 3);
    report("lseek page", lseek(fd, PAGE, SEEK_SET));
    read_show(fd, 3);
    return 0;
}
