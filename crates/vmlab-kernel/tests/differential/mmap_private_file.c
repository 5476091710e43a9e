/* MAP_PRIVATE of a file: a page not yet written shows later changes to
 * the file; the first store copies it, and from then on neither side sees
 * the other. Private stores never reach the file. */
#include "common.h"
int main(void) {
    start();
    int fd = open("p.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    report("open", fd);
    report("write", write(fd, "abcdefgh", 8));
    report_map("mmap private", mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
    load(0);
    report("lseek 0", lseek(fd, 0, SEEK_SET));
    report("write Z", write(fd, "Z", 1));
    load(0);
    store(1, 'p');
    load(0);
    load(1);
    report("lseek 0", lseek(fd, 0, SEEK_SET));
    report("write QR", write(fd, "QR", 2));
    load(0);
    load(1);
    report("msync sync", msync(base, PAGE, MS_SYNC));
    show_file("p.txt");
    return 0;
}
