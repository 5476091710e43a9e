/* The heap after fork is the child's own copy: its stores and its brk
 * leave the parent's heap and break alone. */
#include "common.h"
static void report_brk(const char *what, long r) {
    out("%s = %s", what, where((char *)r));
}
int main(void) {
    start();
    base = (char *)syscall(SYS_brk, 0);
    report_brk("brk +2 pages", syscall(SYS_brk, base + 2 * PAGE));
    store(0, 1);
    store(PAGE, 2);
    pid_t child = fork();
    if (child == 0) {
        store(0, 3);
        report_brk("child brk +1 page", syscall(SYS_brk, base + PAGE));
        load(0);
        load(PAGE);
        _exit(0);
    }
    report_wait(child);
    load(0);
    load(PAGE);
    report_brk("brk 0", syscall(SYS_brk, 0));
    return 0;
}
