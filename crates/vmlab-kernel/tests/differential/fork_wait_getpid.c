/* fork returns the child's pid (its getpid), wait reports the exit
 * status modulo 256, and ECHILD when there is no child. */
#include "common.h"
int main(void) {
    start();
    report("wait no child", wait(NULL));
    pid_t child = fork();
    if (child == 0)
        _exit(getpid() % 256);
    int status;
    report("waitpid", waitpid(child, &status, 0) == child ? 0 : -1);
    out("exit status is the child's pid mod 256 = %s", WEXITSTATUS(status) == child % 256 ? "yes" : "no");
    child = fork();
    if (child == 0)
        _exit(261);
    report_wait(child);
    report("wait again", wait(NULL));
    return 0;
}
