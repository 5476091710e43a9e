/* The raw brk system call: growing maps zeroed heap, shrinking unmaps
 * it (the bytes are gone: growing again reads zeros), a break below the
 * heap's start or beyond user space is refused with the old break. */
#include "common.h"
static void report_brk(const char *what, long r) {
    out("%s = %s", what, where((char *)r));
}
int main(void) {
    start();
    base = (char *)syscall(SYS_brk, 0);
    report_brk("brk 0", syscall(SYS_brk, 0));
    report_brk("brk +3 pages", syscall(SYS_brk, base + 3 * PAGE));
    store(0, 1);
    store(2 * PAGE + 100, 7);
    load(2 * PAGE + 100);
    report_brk("brk +1 page", syscall(SYS_brk, base + PAGE));
    load(0);
    load(2 * PAGE + 100);
    report_brk("brk +3 pages again", syscall(SYS_brk, base + 3 * PAGE));
    load(2 * PAGE + 100);
    report_brk("brk below start", syscall(SYS_brk, base - 16 * PAGE));
    report_brk("brk 2^50", syscall(SYS_brk, 1L << 50));
    report_brk("brk back to start", syscall(SYS_brk, base));
    load(0);
    return 0;
}
