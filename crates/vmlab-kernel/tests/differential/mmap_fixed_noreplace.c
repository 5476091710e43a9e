/* MAP_FIXED_NOREPLACE: EEXIST over any mapped page, the exact address
 * when the range is free. */
#include "common.h"
int main(void) {
    start();
    report_map("mmap 3 pages", mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    store(PAGE, 5);
    report_map("noreplace over page 1", mmap(base + PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
    load(PAGE);
    report("munmap page 1", munmap(base + PAGE, PAGE));
    report_map("noreplace pages 1-2", mmap(base + PAGE, 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
    report_map("noreplace page 1", mmap(base + PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
    load(PAGE);
    report_map("noreplace misaligned", mmap(base + 10, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
    return 0;
}
