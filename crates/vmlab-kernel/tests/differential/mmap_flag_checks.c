/* Which mapping types and flags mmap takes: MAP_SHARED_VALIDATE only
 * for files and only with flags Linux has always known, unknown flags
 * ignored otherwise, protection bits unchecked by mmap but checked by
 * mprotect (PROT_SEM accepted, PROT_GROWSUP/GROWSDOWN only for stacks). */
#include "common.h"
int main(void) {
    start();
    report_map("anon shared unknown 0x200", mmap(NULL, PAGE, PROT_READ, MAP_SHARED | MAP_ANONYMOUS | 0x200, -1, 0));
    report_map("anon validate", mmap(NULL, PAGE, PROT_READ, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1, 0));
    report_map("anon type 0xf", mmap(NULL, PAGE, PROT_READ, 0xf | MAP_ANONYMOUS, -1, 0));
    int fd = open("v.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    report("open", fd);
    report("write", write(fd, "abc", 3));
    report_map("file validate unknown 0x200", mmap(NULL, PAGE, PROT_READ, MAP_SHARED_VALIDATE | 0x200, fd, 0));
    report_map("file validate 0x400000", mmap(NULL, PAGE, PROT_READ, MAP_SHARED_VALIDATE | 0x400000, fd, 0));
    report_map("file validate MAP_STACK", mmap(NULL, PAGE, PROT_READ, MAP_SHARED_VALIDATE | MAP_STACK, fd, 0));
    report_map("file validate huge size bits", mmap(NULL, PAGE, PROT_READ, MAP_SHARED_VALIDATE | 0x40000000, fd, 0));
    report_map("file private unknown 0x200", mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | 0x200, fd, 0));
    load(-PAGE);
    report_map("prot 0x10", mmap(NULL, PAGE, 0x10, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    report("mprotect PROT_SEM", mprotect(base, PAGE, PROT_READ | PROT_SEM));
    report("mprotect GROWSUP", mprotect(base, PAGE, PROT_READ | PROT_GROWSUP));
    report("mprotect GROWSDOWN", mprotect(base, PAGE, PROT_READ | PROT_GROWSDOWN));
    report("mprotect both grows", mprotect(base, PAGE, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP));
    report("mprotect 0x10", mprotect(base, PAGE, 0x10));
    report("mprotect 0x10 length 0", mprotect(base, 0, 0x10));
    return 0;
}
