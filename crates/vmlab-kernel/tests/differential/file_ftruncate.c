/* ftruncate grows with zeros and shrinks; its errors: a read-only
 * descriptor and a negative length are EINVAL, a bad one EBADF. */
#include "common.h"
int main(void) {
    start();
    int fd = open("t.txt", O_CREAT | O_RDWR, 0644);
    report("open", fd);
    report("write", write(fd, "abcdef", 6));
    report("ftruncate 10", ftruncate(fd, 10));
    show_file("t.txt");
    report("ftruncate 2", ftruncate(fd, 2));
    show_file("t.txt");
    report("offset stays", lseek(fd, 0, SEEK_CUR));
    report("write at old offset", write(fd, "Z", 1));
    show_file("t.txt");
    int r = open("t.txt", O_RDONLY);
    report("open rdonly", r);
    report("ftruncate rdonly", ftruncate(r, 0));
    report("ftruncate -1", ftruncate(fd, -1));
    report("ftruncate bad fd", ftruncate(42, 0));
    report("ftruncate bad fd -1", ftruncate(42, -1));
    return 0;
}
