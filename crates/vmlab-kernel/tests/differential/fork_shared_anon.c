/* MAP_SHARED anonymous memory stays shared across fork: the child's
 * store is the parent's too. A child killed by a fault is reported by
 * wait with its signal. */
#include "common.h"
int main(void) {
    start();
    report_map("mmap shared", mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    report_map("mmap private", mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    store(0, 1);
    pid_t child = fork();
    if (child == 0) {
        store(0, 2);
        store(-PAGE, 3);
        _exit(0);
    }
    report_wait(child);
    load(0);
    load(-PAGE);
    child = fork();
    if (child == 0) {
        signal(SIGSEGV, SIG_DFL);
        *(volatile char *)(base - 4 * PAGE) = 1;
        _exit(0);
    }
    report_wait(child);
    return 0;
}
