/* MAP_FIXED replaces part of a file mapping with anonymous memory (the
 * file keeps its bytes), and part of anonymous memory with a file. */
#include "common.h"
int main(void) {
    start();
    int fd = open("f.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    report("open", fd);
    write_pages(fd, "fg");
    report_map("mmap shared", mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    store(0, 'S');
    report_map("fixed anon over page 1", mmap(base + PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
    load(PAGE);
    store(PAGE, 'N');
    report("lseek page", lseek(fd, PAGE, SEEK_SET));
    read_show(fd, 3);
    load(0);
    report_map("fixed file page 0 over page 1", mmap(base + PAGE, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0));
    load(PAGE);
    load(PAGE + 1);
    return 0;
}
