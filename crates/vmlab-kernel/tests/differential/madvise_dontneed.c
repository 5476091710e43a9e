/* madvise: MADV_DONTNEED makes private anonymous pages read as zeros and
 * keeps shared ones; unknown advice and misaligned starts are EINVAL; a
 * range with a hole is ENOMEM after advising what is mapped. */
#include "common.h"
int main(void) {
    start();
    report_map("mmap private 3 pages", mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    report_map("mmap shared", mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    store(0, 1);
    store(2 * PAGE, 3);
    store(-PAGE, 9);
    report("madvise willneed", madvise(base, PAGE, MADV_WILLNEED));
    report("madvise advice 999", madvise(base, PAGE, 999));
    report("madvise misaligned", madvise(base + 1, PAGE, MADV_DONTNEED));
    report("madvise length 0", madvise(base, 0, MADV_DONTNEED));
    load(0);
    report("madvise dontneed private", madvise(base, PAGE, MADV_DONTNEED));
    load(0);
    report("madvise dontneed shared", madvise(base - PAGE, PAGE, MADV_DONTNEED));
    load(-PAGE);
    report("munmap page 1", munmap(base + PAGE, PAGE));
    report("madvise dontneed over the hole", madvise(base, 3 * PAGE, MADV_DONTNEED));
    load(2 * PAGE);
    report("madvise sequential unmapped", madvise(base + PAGE, PAGE, MADV_SEQUENTIAL));
    return 0;
}
