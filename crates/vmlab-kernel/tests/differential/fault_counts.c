/* Minor faults, where Linux's counts are stable (anonymous memory below
 * the huge page size): a first read maps the zero page, the first write
 * after it copies, a write to a page still shared after fork copies (the
 * child) or reuses it (the parent, once the child is gone), and shared
 * anonymous memory is writable from its first fault. */
#include "common.h"
int main(void) {
    start();
    report_map("mmap 3 pages", mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    touch(0, 0);
    touch(0, 0);
    touch(0, 1);
    touch(0, 1);
    touch(PAGE, 1);
    pid_t child = fork();
    if (child == 0) {
        touch(0, 1);
        touch(2 * PAGE, 0);
        touch(PAGE, 0);
        _exit(0);
    }
    report_wait(child);
    touch(0, 1);
    touch(PAGE, 0);
    touch(PAGE, 1);
    report_map("mmap shared", mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    touch(-PAGE, 0);
    touch(-PAGE, 1);
    return 0;
}
