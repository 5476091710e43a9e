/* A system call given a bad user buffer returns EFAULT instead of a
 * signal: unmapped, read-only for read(2), PROT_NONE for write(2); a
 * buffer that goes bad part-way moves the good prefix. */
#include "common.h"
int main(void) {
    start();
    report_map("mmap 2 pages", mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    report_map("mmap read-only", mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    report_map("mmap none", mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    report("munmap page 1", munmap(base + PAGE, PAGE));
    int fd = open("e.txt", O_CREAT | O_RDWR, 0644);
    report("open", fd);
    report("write 8 bytes", write(fd, "abcdefgh", 8));
    report("lseek 0", lseek(fd, 0, SEEK_SET));
    report("read into unmapped", read(fd, base + PAGE, 4));
    report("read into read-only", read(fd, base - PAGE, 4));
    report("read into none", read(fd, base - 2 * PAGE, 4));
    report("lseek cur", lseek(fd, 0, SEEK_CUR));
    report("write from unmapped", write(fd, base + PAGE, 4));
    report("write from none", write(fd, base - 2 * PAGE, 4));
    report("write from read-only", write(fd, base - PAGE, 2));
    report("lseek 0", lseek(fd, 0, SEEK_SET));
    report("read straddling the hole", read(fd, base + PAGE - 3, 8));
    load(PAGE - 3);
    load(PAGE - 1);
    report("write straddling the hole", write(fd, base + PAGE - 2, 8));
    show_file("e.txt");
    return 0;
}
