/* O_APPEND: every write goes to the end, whatever the offset, and
 * leaves the offset there. */
#include "common.h"
int main(void) {
    start();
    int fd = open("a.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    report("open", fd);
    report("write", write(fd, "one", 3));
    report("close", close(fd));
    fd = open("a.txt", O_WRONLY | O_APPEND);
    report("open append", fd);
    report("lseek set 0", lseek(fd, 0, SEEK_SET));
    report("write", write(fd, "two", 3));
    report("lseek cur 0", lseek(fd, 0, SEEK_CUR));
    int other = open("a.txt", O_WRONLY);
    report("open plain", other);
    report("write plain", write(other, "ON", 2));
    report("write append", write(fd, "3", 1));
    show_file("a.txt");
    read_show(fd, 10);
    return 0;
}
