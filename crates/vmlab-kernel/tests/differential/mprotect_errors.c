/* mprotect's errors: misaligned start, unknown protection bits, holes
 * (ENOMEM, after changing the part before the hole), zero length. */
#include "common.h"
int main(void) {
    start();
    report_map("mmap 3 pages", mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    report("munmap page 1", munmap(base + PAGE, PAGE));
    report("mprotect misaligned", mprotect(base + 1, PAGE, PROT_READ));
    report("mprotect bad prot", mprotect(base, PAGE, 0x40));
    report("mprotect length 0", mprotect(base + PAGE, 0, PROT_READ));
    report("mprotect unmapped", mprotect(base + PAGE, PAGE, PROT_READ));
    report("mprotect across the hole", mprotect(base, 3 * PAGE, PROT_READ));
    store(0, 1);
    store(2 * PAGE, 1);
    report("mprotect length not page multiple", mprotect(base + 2 * PAGE, 1, PROT_NONE));
    load(2 * PAGE);
    return 0;
}
