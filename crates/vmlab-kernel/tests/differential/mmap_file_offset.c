/* A file mapping at an offset shows the file from there; a mapping
 * wholly past the end succeeds and faults with SIGBUS; an unlinked,
 * closed file lives on while mapped. */
#include "common.h"
int main(void) {
    start();
    int fd = open("o.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    report("open", fd);
    write_pages(fd, "abc");
    report_map("mmap offset 1 page", mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, PAGE));
    load(0);
    load(PAGE);
    report_map("mmap offset 5 pages", mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 5 * PAGE));
    load(-PAGE);
    report("close", close(fd));
    report("unlink", unlink("o.bin"));
    load(PAGE + 5);
    show_file("o.bin");
    return 0;
}
