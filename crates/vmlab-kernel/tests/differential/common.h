/* What every differential scenario shares: the normalised record (one
 * line per step) that tests/differential.rs prints the same way from
 * vmlab. Addresses are printed relative to `base` (the first mapping, or
 * the initial break); errors as errno names; a faulting access as the
 * signal and its si_code, caught and survived. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PROT_SEM
#define PROT_SEM 0x8
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PAGE 4096L

static char *base;
static sigjmp_buf probe_jump;
static volatile sig_atomic_t probe_signal, probe_code;

static void out(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static const char *errname(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EBADF: return "EBADF";
    case ECHILD: return "ECHILD";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case EFBIG: return "EFBIG";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EOVERFLOW: return "EOVERFLOW";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: return "E?";
    }
}

/* "base", "base+0x1000" or "base-0x2000". */
static const char *where(const char *p) {
    static char buf[64];
    long d = p - base;
    if (d == 0)
        snprintf(buf, sizeof buf, "base");
    else if (d > 0)
        snprintf(buf, sizeof buf, "base+%#lx", d);
    else
        snprintf(buf, sizeof buf, "base-%#lx", -d);
    return buf;
}

/* A call returning a number or -1 with errno. */
static void report(const char *what, long r) {
    if (r < 0)
        out("%s = -1 %s", what, errname(errno));
    else
        out("%s = %ld", what, r);
}

/* An mmap: the first success becomes base. */
static char *report_map(const char *what, void *p) {
    if (p == MAP_FAILED) {
        out("%s = -1 %s", what, errname(errno));
        return NULL;
    }
    if (!base)
        base = p;
    out("%s = %s", what, where(p));
    return p;
}

static const char *signame(int sig, int code) {
    if (sig == SIGSEGV && code == SEGV_MAPERR) return "SIGSEGV SEGV_MAPERR";
    if (sig == SIGSEGV && code == SEGV_ACCERR) return "SIGSEGV SEGV_ACCERR";
    if (sig == SIGBUS && code == BUS_ADRERR) return "SIGBUS BUS_ADRERR";
    return "signal ?";
}

static void on_fault(int sig, siginfo_t *info, void *context) {
    (void)context;
    probe_signal = sig;
    probe_code = info->si_code;
    siglongjmp(probe_jump, 1);
}

static void catch_faults(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
}

static void load(long off) {
    volatile unsigned char *p = (unsigned char *)base + off;
    if (sigsetjmp(probe_jump, 1) == 0) {
        unsigned v = *p;
        out("load %s = %u", where((char *)p), v);
    } else {
        out("load %s = %s", where((char *)p), signame(probe_signal, probe_code));
    }
}

static void store(long off, unsigned char v) {
    volatile unsigned char *p = (unsigned char *)base + off;
    if (sigsetjmp(probe_jump, 1) == 0) {
        *p = v;
        out("store %s = ok", where((char *)p));
    } else {
        out("store %s = %s", where((char *)p), signame(probe_signal, probe_code));
    }
}

/* Bytes as text, non-printing ones as \xHH. */
static void show_bytes(const char *what, const unsigned char *b, long n) {
    printf("%s = %ld \"", what, n);
    for (long i = 0; i < n; i++) {
        if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '"' && b[i] != '\\')
            putchar(b[i]);
        else
            printf("\\x%02x", b[i]);
    }
    printf("\"\n");
}

static void show_file(const char *name) {
    static unsigned char buf[1 << 16];
    char what[300];
    snprintf(what, sizeof what, "file %s", name);
    int fd = open(name, O_RDONLY);
    if (fd < 0) {
        out("%s = -1 %s", what, errname(errno));
        return;
    }
    long n = read(fd, buf, sizeof buf);
    close(fd);
    show_bytes(what, buf, n);
}

/* A read(2) into a scratch buffer, showing what arrived. */
static void read_show(int fd, long count) {
    static unsigned char buf[PAGE];
    long n = read(fd, buf, count);
    if (n < 0)
        report("read", n);
    else
        show_bytes("read", buf, n);
}

static void report_wait(pid_t child) {
    int status;
    if (waitpid(child, &status, 0) < 0)
        report("wait", -1);
    else if (WIFEXITED(status))
        out("wait = exited %d", WEXITSTATUS(status));
    else
        out("wait = killed %s", WTERMSIG(status) == SIGSEGV ? "SIGSEGV" : "SIGBUS");
}

static void start(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    catch_faults();
}

/* How many lines of /proc/self/maps (regions) overlap [off, off + len)
 * from base. */
static void report_regions(const char *what, long off, long len) {
    unsigned long lo = (unsigned long)(base + off), hi = lo + len, start, end;
    char line[512];
    int n = 0;
    FILE *maps = fopen("/proc/self/maps", "r");
    while (maps && fgets(line, sizeof line, maps))
        if (sscanf(line, "%lx-%lx", &start, &end) == 2 && start < hi && end > lo)
            n++;
    if (maps)
        fclose(maps);
    out("%s = %d regions", what, n);
}

static long minor_faults(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_minflt;
}

/* One access at base + off with no signal expected, and the minor faults
 * it took. */
static void touch(long off, int write) {
    volatile unsigned char *p = (unsigned char *)base + off;
    long before = minor_faults();
    if (write)
        *p = 1;
    else
        (void)*p;
    long faults = minor_faults() - before;
    out("%s %s faults = %ld", write ? "write" : "read", where((char *)p), faults);
}

/* write(2) of one page per character of `fills`, each page all that
 * character. */
static void write_pages(int fd, const char *fills) {
    static char page[PAGE];
    for (const char *c = fills; *c; c++) {
        memset(page, *c, PAGE);
        report("write page", write(fd, page, PAGE));
    }
}
