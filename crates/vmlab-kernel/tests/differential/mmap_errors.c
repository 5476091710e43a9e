/* mmap's argument errors: zero length, no mapping type, misaligned
 * offset, lengths too large to place or to round up. */
#include "common.h"
int main(void) {
    start();
    report_map("mmap len 0", mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    report_map("mmap no type", mmap(NULL, PAGE, PROT_READ, MAP_ANONYMOUS, -1, 0));
    report_map("mmap offset 123", mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 123));
    report_map("mmap len 2^62", mmap(NULL, 1L << 62, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    report_map("mmap len -4095", mmap(NULL, (size_t)-4095, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    report_map("mmap ok", mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    report_map("mmap fixed misaligned", mmap(base + 1, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
    return 0;
}
