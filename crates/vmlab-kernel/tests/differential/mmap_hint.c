/* A hint address is taken when the range there is free (rounded down to
 * a page), ignored when it is not. */
#include "common.h"
int main(void) {
    start();
    report_map("mmap 4 pages", mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    report("munmap pages 1-2", munmap(base + PAGE, 2 * PAGE));
    report_map("hint page 1 + 100", mmap(base + PAGE + 100, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    char *p = mmap(base, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    out("hint on a mapped page moves = %s", p != MAP_FAILED && p != base ? "yes" : "no");
    load(0);
    return 0;
}
