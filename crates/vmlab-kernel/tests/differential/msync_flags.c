/* msync's flag and range checks on anonymous memory. */
#include "common.h"
int main(void) {
    start();
    report_map("mmap 3 pages", mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    report("munmap page 1", munmap(base + PAGE, PAGE));
    report("msync sync", msync(base, PAGE, MS_SYNC));
    report("msync async", msync(base, PAGE, MS_ASYNC));
    report("msync invalidate", msync(base, PAGE, MS_INVALIDATE));
    report("msync async|sync", msync(base, PAGE, MS_ASYNC | MS_SYNC));
    report("msync flag 8", msync(base, PAGE, 8));
    report("msync misaligned", msync(base + 1, PAGE, MS_SYNC));
    report("msync length 0", msync(base + PAGE, 0, MS_SYNC));
    report("msync over the hole", msync(base, 3 * PAGE, MS_SYNC));
    report("msync unmapped", msync(base + PAGE, PAGE, MS_ASYNC));
    report("msync partial page length", msync(base + 2 * PAGE, 1, MS_SYNC));
    return 0;
}
