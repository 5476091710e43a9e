/* mprotect of one page in the middle splits the mapping: writes there
 * fault with SEGV_ACCERR, reads work, neighbours stay writable; giving
 * the rights back lets writes through again. */
#include "common.h"
int main(void) {
    start();
    report_map("mmap 3 pages", mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    store(PAGE, 42);
    report("mprotect middle read", mprotect(base + PAGE, PAGE, PROT_READ));
    store(PAGE, 43);
    load(PAGE);
    store(0, 1);
    store(2 * PAGE, 2);
    report("mprotect middle none", mprotect(base + PAGE, PAGE, PROT_NONE));
    load(PAGE);
    report("mprotect all read-write", mprotect(base, 3 * PAGE, PROT_READ | PROT_WRITE));
    store(PAGE, 44);
    load(PAGE);
    return 0;
}
