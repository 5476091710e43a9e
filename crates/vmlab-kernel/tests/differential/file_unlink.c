/* unlink removes the name at once; the open file lives on until its
 * last descriptor closes. */
#include "common.h"
int main(void) {
    start();
    int fd = open("u.txt", O_CREAT | O_RDWR, 0644);
    report("open", fd);
    report("write", write(fd, "still here", 10));
    report("unlink", unlink("u.txt"));
    show_file("u.txt");
    report("unlink again", unlink("u.txt"));
    report("lseek 0", lseek(fd, 0, SEEK_SET));
    read_show(fd, 100);
    report("write", write(fd, "!", 1));
    report("close", close(fd));
    int again = open("u.txt", O_CREAT | O_RDWR, 0644);
    report("open new", again);
    show_file("u.txt");
    report("unlink missing", unlink("nope.txt"));
    return 0;
}
