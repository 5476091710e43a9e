/* read and lseek: reads advance the offset and stop at the end, lseek
 * from the start, the current offset or the end, and its errors. */
#include "common.h"
int main(void) {
    start();
    int fd = open("f.txt", O_CREAT | O_RDWR, 0644);
    report("open", fd);
    report("write", write(fd, "hello world", 11));
    report("lseek set 0", lseek(fd, 0, SEEK_SET));
    read_show(fd, 5);
    report("lseek cur 0", lseek(fd, 0, SEEK_CUR));
    report("lseek end -5", lseek(fd, -5, SEEK_END));
    read_show(fd, 100);
    read_show(fd, 100);
    report("lseek cur -100", lseek(fd, -100, SEEK_CUR));
    report("lseek whence 7", lseek(fd, 0, 7));
    report("lseek end +100", lseek(fd, 100, SEEK_END));
    read_show(fd, 10);
    report("read count 0", read(fd, NULL, 0));
    return 0;
}
