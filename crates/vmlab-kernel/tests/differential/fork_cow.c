/* fork shares private memory copy-on-write: the child's stores stay in
 * the child, the parent's after fork stay in the parent. */
#include "common.h"
int main(void) {
    start();
    report_map("mmap 2 pages", mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    store(0, 1);
    pid_t child = fork();
    if (child == 0) {
        load(0);
        store(0, 2);
        store(PAGE, 3);
        load(0);
        load(PAGE);
        _exit(7);
    }
    report_wait(child);
    load(0);
    load(PAGE);
    store(0, 4);
    load(0);
    return 0;
}
