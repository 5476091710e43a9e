/* Protections of file mappings: a shared mapping of a read-only
 * descriptor can never be made writable (mprotect EACCES), a private one
 * can, and its stores stay private. */
#include "common.h"
int main(void) {
    start();
    int w = open("r.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    report("open wronly", w);
    report("write", write(w, "read-only", 9));
    int fd = open("r.txt", O_RDONLY);
    report("open rdonly", fd);
    report_map("mmap shared read", mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0));
    load(0);
    store(0, 'X');
    report("mprotect shared write", mprotect(base, PAGE, PROT_READ | PROT_WRITE));
    report("mprotect shared none", mprotect(base, PAGE, PROT_NONE));
    load(0);
    report_map("mmap private write", mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
    store(-PAGE, 'P');
    load(-PAGE);
    report("mprotect private read", mprotect(base - PAGE, PAGE, PROT_READ));
    report("mprotect private write", mprotect(base - PAGE, PAGE, PROT_READ | PROT_WRITE));
    store(-PAGE + 1, 'Q');
    show_file("r.txt");
    return 0;
}
