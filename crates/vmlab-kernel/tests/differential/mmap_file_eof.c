/* Past the end of a mapped file: the rest of the last page reads as
 * zeros and a store there never reaches the file; a page wholly past the
 * end is SIGBUS; ftruncate growing and shrinking the file shows through
 * the mapping. */
#include "common.h"
int main(void) {
    start();
    int fd = open("e.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    report("open", fd);
    report("write", write(fd, "0123456789", 10));
    report_map("mmap 3 pages shared", mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    load(9);
    load(10);
    load(PAGE - 1);
    load(PAGE);
    store(PAGE, 1);
    store(100, 'T');
    report("msync sync", msync(base, 3 * PAGE, MS_SYNC));
    show_file("e.txt");
    report("ftruncate 5000", ftruncate(fd, 5000));
    load(PAGE);
    store(PAGE + 1, 'G');
    load(2 * PAGE);
    report("ftruncate 3", ftruncate(fd, 3));
    load(2);
    load(5);
    load(PAGE + 1);
    show_file("e.txt");
    return 0;
}
