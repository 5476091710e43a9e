/* mprotect splits a region and the pieces merge again when their
 * protections become equal; munmap splits for good. Counted as regions
 * overlapping the range (/proc/self/maps). */
#include "common.h"
int main(void) {
    start();
    report_map("mmap 4 pages", mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    report_regions("mapping", 0, 4 * PAGE);
    report("mprotect page 1 read", mprotect(base + PAGE, PAGE, PROT_READ));
    report_regions("mapping", 0, 4 * PAGE);
    report("mprotect page 2 read", mprotect(base + 2 * PAGE, PAGE, PROT_READ));
    report_regions("mapping", 0, 4 * PAGE);
    report("mprotect pages 1-2 read-write", mprotect(base + PAGE, 2 * PAGE, PROT_READ | PROT_WRITE));
    report_regions("mapping", 0, 4 * PAGE);
    report("mprotect page 3 none", mprotect(base + 3 * PAGE, PAGE, PROT_NONE));
    report_regions("mapping", 0, 4 * PAGE);
    report("munmap page 1", munmap(base + PAGE, PAGE));
    report("mprotect page 3 read-write", mprotect(base + 3 * PAGE, PAGE, PROT_READ | PROT_WRITE));
    report_regions("mapping", 0, 4 * PAGE);
    return 0;
}
