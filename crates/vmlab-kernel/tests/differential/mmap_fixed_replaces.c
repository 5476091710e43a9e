/* MAP_FIXED silently replaces what was mapped: the new page reads as
 * zeros, its neighbours keep their bytes. */
#include "common.h"
int main(void) {
    start();
    report_map("mmap 4 pages", mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    for (int i = 0; i < 4; i++)
        store(i * PAGE, 10 + i);
    report_map("mmap fixed page 1", mmap(base + PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
    for (int i = 0; i < 4; i++)
        load(i * PAGE);
    report_map("mmap fixed pages 2-3 read-only", mmap(base + 2 * PAGE, 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
    store(3 * PAGE, 1);
    load(3 * PAGE);
    return 0;
}
