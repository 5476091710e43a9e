/* MADV_DONTNEED on file mappings: a private page's copy is dropped and
 * the file shows through again; a shared page keeps the file's bytes. */
#include "common.h"
int main(void) {
    start();
    int fd = open("m.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    report("open", fd);
    report("write", write(fd, "hello", 5));
    report_map("mmap private", mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
    report_map("mmap shared", mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    store(0, 'J');
    load(0);
    report("madvise dontneed private", madvise(base, PAGE, MADV_DONTNEED));
    load(0);
    store(-PAGE, 'K');
    report("madvise dontneed shared", madvise(base - PAGE, PAGE, MADV_DONTNEED));
    load(-PAGE);
    load(0);
    report("lseek 0", lseek(fd, 0, SEEK_SET));
    read_show(fd, 10);
    return 0;
}
