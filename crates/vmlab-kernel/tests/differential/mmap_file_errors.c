/* mmap of a descriptor: a bad descriptor, and descriptor modes that
 * refuse the mapping (EACCES), checked before anything is mapped. */
#include "common.h"
int main(void) {
    start();
    report_map("mmap fd -1", mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, -1, 0));
    report_map("mmap fd 42", mmap(NULL, PAGE, PROT_READ, MAP_SHARED, 42, 0));
    int w = open("w.txt", O_CREAT | O_WRONLY, 0644);
    report("open w.txt wronly", w);
    report("write", write(w, "data", 4));
    report_map("mmap wronly private read", mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, w, 0));
    report_map("mmap wronly shared read", mmap(NULL, PAGE, PROT_READ, MAP_SHARED, w, 0));
    int r = open("w.txt", O_RDONLY);
    report("open w.txt rdonly", r);
    report_map("mmap rdonly shared write", mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, r, 0));
    report_map("mmap rdonly no type", mmap(NULL, PAGE, PROT_READ, 0, r, 0));
    report_map("mmap rdonly misaligned offset", mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, r, 100));
    report_map("mmap fd 42 misaligned offset", mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, 42, 100));
    report_map("mmap offset past off_t", mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, r, 0x7ffffffffffff000L));
    report_map("mmap offset near the end of off_t", mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, r, 0x7fffffffffffe000L));
    return 0;
}
