/* munmap of the middle of a mapping splits it; the rest keeps its
 * bytes, the hole faults with SEGV_MAPERR. */
#include "common.h"
int main(void) {
    start();
    report_map("mmap 3 pages", mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    store(0, 1);
    store(PAGE, 2);
    store(2 * PAGE, 3);
    report("munmap middle", munmap(base + PAGE, PAGE));
    load(0);
    load(PAGE);
    load(2 * PAGE);
    report("munmap last, length not page multiple", munmap(base + 2 * PAGE, 10));
    load(2 * PAGE);
    load(0);
    return 0;
}
