/* munmap over holes succeeds; misaligned or empty ranges are EINVAL; a
 * range never mapped is fine. */
#include "common.h"
int main(void) {
    start();
    report_map("mmap 4 pages", mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    store(0, 1);
    store(3 * PAGE, 4);
    report("munmap page 1", munmap(base + PAGE, PAGE));
    report("munmap misaligned", munmap(base + 1, PAGE));
    report("munmap length 0", munmap(base, 0));
    report("munmap all 4 with the hole", munmap(base, 4 * PAGE));
    load(0);
    load(3 * PAGE);
    report("munmap again", munmap(base, 4 * PAGE));
    report("munmap past the end of user space", munmap((void *)0x7ffffffff000L, 2 * PAGE));
    return 0;
}
