/* MAP_POPULATE and shared anonymous memory read as zeros like any fresh
 * mapping, and PROT_NONE memory cannot be touched. */
#include "common.h"
int main(void) {
    start();
    report_map("mmap populate", mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0));
    load(0);
    load(PAGE + 7);
    store(PAGE + 7, 9);
    load(PAGE + 7);
    report_map("mmap shared populate", mmap(NULL, PAGE, PROT_READ, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0));
    load(-PAGE);
    report_map("mmap none", mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    load(-2 * PAGE);
    return 0;
}
