/* EBADF: descriptors that are not open, reads from write-only and
 * writes to read-only descriptors. */
#include "common.h"
int main(void) {
    start();
    read_show(42, 1);
    report("write 42", write(42, "x", 1));
    report("close 42", close(42));
    report("lseek 42", lseek(42, 0, SEEK_SET));
    report("close -1", close(-1));
    int w = open("b.txt", O_CREAT | O_WRONLY, 0644);
    report("open wronly", w);
    read_show(w, 1);
    int r = open("b.txt", O_RDONLY);
    report("open rdonly", r);
    report("write rdonly", write(r, "x", 1));
    report("close", close(r));
    report("close again", close(r));
    return 0;
}
