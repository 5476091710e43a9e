/* open's flags: ENOENT without O_CREAT, EEXIST with O_CREAT | O_EXCL,
 * O_TRUNC empties, descriptors are the lowest free numbers. */
#include "common.h"
int main(void) {
    start();
    report("open missing", open("m.txt", O_RDONLY));
    report("open empty name", open("", O_RDONLY));
    int fd = open("m.txt", O_CREAT | O_EXCL | O_WRONLY, 0644);
    report("open create excl", fd);
    report("write", write(fd, "content", 7));
    report("open create excl again", open("m.txt", O_CREAT | O_EXCL | O_RDWR, 0644));
    int a = open("m.txt", O_RDONLY);
    report("open rdonly", a);
    int b = open("m.txt", O_RDONLY);
    report("open rdonly", b);
    report("close first", close(fd));
    report("open reuses lowest", open("m.txt", O_RDONLY));
    show_file("m.txt");
    report("open trunc", open("m.txt", O_WRONLY | O_TRUNC));
    show_file("m.txt");
    read_show(a, 10);
    return 0;
}
