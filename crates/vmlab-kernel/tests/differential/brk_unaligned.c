/* A break that is not page aligned maps up to the next page and is
 * reported exactly; memory past it within that page is usable. */
#include "common.h"
static void report_brk(const char *what, long r) {
    out("%s = %s", what, where((char *)r));
}
int main(void) {
    start();
    base = (char *)syscall(SYS_brk, 0);
    report_brk("brk +100", syscall(SYS_brk, base + 100));
    store(50, 5);
    store(PAGE - 1, 6);
    store(PAGE, 7);
    report_brk("brk +5000", syscall(SYS_brk, base + 5000));
    store(PAGE, 8);
    load(PAGE);
    store(2 * PAGE, 9);
    return 0;
}
