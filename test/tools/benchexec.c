/* SPDX-License-Identifier: Apache-2.0 */
/*
 * benchexec: a small benchmark driver for command-line programs (libc only).
 *
 *   benchexec [-n RUNS] [-w WARMUP] [-i STDIN_FILE] [-v] -- CMD [ARG...]
 *
 * Runs CMD WARMUP times unmeasured, then RUNS times measured, one after the other, each
 * via fork + execvp.  Each run's stdin is STDIN_FILE read from its start (/dev/null
 * without -i); its stdout and stderr go to /dev/null unless -v.  A run's wall time is
 * taken with CLOCK_MONOTONIC around fork..wait4, its peak RSS from wait4's rusage (the
 * child, or the largest of its reaped descendants).  Any run that does not exit 0 (or
 * cannot be executed) makes benchexec fail with status 1 and a message on stderr.
 * Otherwise it prints one line of JSON on stdout:
 *
 *   {"runs":N,"median_ms":M,"p90_ms":P,"min_ms":L,"max_rss_kib":R}
 *
 * median is the middle value (mean of the two middle values for even N), p90 the
 * nearest-rank 90th percentile, max_rss_kib the largest peak RSS over the measured runs.
 * Status 2 is a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 1000000UL

struct sample {
    uint64_t ns;
    long maxrss_kib;
};

static void usage(FILE *f)
{
    fputs("usage: benchexec [-n RUNS] [-w WARMUP] [-i STDIN_FILE] [-v] -- CMD [ARG...]\n", f);
}

/* Parses a decimal count in [min, MAX_RUNS]. */
static int parse_count(const char *s, unsigned long min, unsigned long *out)
{
    char *end;
    unsigned long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > MAX_RUNS)
        return -1;
    *out = v;
    return 0;
}

static int now_ns(uint64_t *out)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        fprintf(stderr, "benchexec: clock_gettime: %s\n", strerror(errno));
        return -1;
    }
    *out = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return 0;
}

static int dup_onto(int from, int to)
{
    while (dup2(from, to) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return 0;
}

/* In the child: sets up fds 0-2 and execs argv.  Reports an errno on err_fd on failure. */
static void __attribute__((noreturn))
child(char **argv, int in_fd, int null_fd, int verbose, int err_fd)
{
    int e;

    if (dup_onto(in_fd, STDIN_FILENO) < 0)
        goto fail;
    if (!verbose && (dup_onto(null_fd, STDOUT_FILENO) < 0 || dup_onto(null_fd, STDERR_FILENO) < 0))
        goto fail;
    execvp(argv[0], argv);
fail:
    e = errno;
    if (write(err_fd, &e, sizeof(e)) != (ssize_t)sizeof(e)) {
        /* Nothing more to do: the parent still sees status 127. */
    }
    _exit(127);
}

/*
 * Runs argv once.  Returns 0 when it exited 0 (filling *s), -1 otherwise (message printed).
 */
static int run_once(char **argv, int in_fd, int null_fd, int verbose, unsigned long index,
                    struct sample *s)
{
    int errpipe[2], status, child_errno;
    struct rusage ru;
    uint64_t t0, t1;
    pid_t pid, w;
    ssize_t n;

    if (in_fd != null_fd && lseek(in_fd, 0, SEEK_SET) == (off_t)-1) {
        fprintf(stderr, "benchexec: lseek on the stdin file: %s\n", strerror(errno));
        return -1;
    }
    if (pipe2(errpipe, O_CLOEXEC) != 0) {
        fprintf(stderr, "benchexec: pipe2: %s\n", strerror(errno));
        return -1;
    }
    /* Flush before fork so the child cannot write our buffered output twice. */
    if (fflush(stdout) != 0 || fflush(stderr) != 0) {
        fprintf(stderr, "benchexec: fflush: %s\n", strerror(errno));
        goto fail_pipe;
    }
    if (now_ns(&t0) < 0)
        goto fail_pipe;
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "benchexec: fork: %s\n", strerror(errno));
        goto fail_pipe;
    }
    if (pid == 0) {
        close(errpipe[0]);
        child(argv, in_fd, null_fd, verbose, errpipe[1]);
    }
    if (close(errpipe[1]) != 0) {
        fprintf(stderr, "benchexec: close: %s\n", strerror(errno));
        errpipe[1] = -1;
    }
    do {
        w = wait4(pid, &status, 0, &ru);
    } while (w < 0 && errno == EINTR);
    if (w < 0) {
        fprintf(stderr, "benchexec: wait4: %s\n", strerror(errno));
        close(errpipe[0]);
        return -1;
    }
    if (now_ns(&t1) < 0) {
        close(errpipe[0]);
        return -1;
    }
    do {
        n = read(errpipe[0], &child_errno, sizeof(child_errno));
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        fprintf(stderr, "benchexec: read: %s\n", strerror(errno));
    if (close(errpipe[0]) != 0)
        fprintf(stderr, "benchexec: close: %s\n", strerror(errno));
    if (n == (ssize_t)sizeof(child_errno)) {
        fprintf(stderr, "benchexec: cannot execute %s: %s\n", argv[0], strerror(child_errno));
        return -1;
    }
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "benchexec: run %lu: %s killed by signal %d (%s)\n", index, argv[0],
                WTERMSIG(status), strsignal(WTERMSIG(status)));
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "benchexec: run %lu: %s exited with status %d\n", index, argv[0],
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return -1;
    }
    s->ns = t1 - t0;
    s->maxrss_kib = ru.ru_maxrss; /* kilobytes on Linux */
    return 0;

fail_pipe:
    close(errpipe[0]);
    if (errpipe[1] >= 0)
        close(errpipe[1]);
    return -1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

int main(int argc, char **argv)
{
    unsigned long runs = 10, warmup = 0, i, total, rank;
    const char *in_path = NULL;
    int verbose = 0, opt, null_fd, in_fd, rc = 1;
    struct sample *samples = NULL;
    uint64_t *sorted = NULL, median_ns;
    long max_rss = 0;

    /* '+': stop at the first non-option, so CMD's own options are left alone. */
    while ((opt = getopt(argc, argv, "+n:w:i:vh")) != -1) {
        switch (opt) {
        case 'n':
            if (parse_count(optarg, 1, &runs) < 0) {
                fprintf(stderr, "benchexec: -n wants a count from 1 to %lu\n", MAX_RUNS);
                return 2;
            }
            break;
        case 'w':
            if (parse_count(optarg, 0, &warmup) < 0) {
                fprintf(stderr, "benchexec: -w wants a count from 0 to %lu\n", MAX_RUNS);
                return 2;
            }
            break;
        case 'i':
            in_path = optarg;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }

    null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0) {
        fprintf(stderr, "benchexec: /dev/null: %s\n", strerror(errno));
        return 1;
    }
    in_fd = null_fd;
    if (in_path) {
        in_fd = open(in_path, O_RDONLY | O_CLOEXEC);
        if (in_fd < 0) {
            fprintf(stderr, "benchexec: %s: %s\n", in_path, strerror(errno));
            goto out;
        }
    }
    samples = calloc(runs, sizeof(*samples));
    sorted = calloc(runs, sizeof(*sorted));
    if (!samples || !sorted) {
        fprintf(stderr, "benchexec: out of memory\n");
        goto out;
    }

    total = warmup + runs;
    for (i = 0; i < total; i++) {
        struct sample s;

        if (run_once(argv + optind, in_fd, null_fd, verbose, i + 1, &s) < 0)
            goto out;
        if (i >= warmup)
            samples[i - warmup] = s;
    }

    for (i = 0; i < runs; i++) {
        sorted[i] = samples[i].ns;
        if (samples[i].maxrss_kib > max_rss)
            max_rss = samples[i].maxrss_kib;
    }
    qsort(sorted, runs, sizeof(*sorted), cmp_u64);
    if (runs % 2)
        median_ns = sorted[runs / 2];
    else
        median_ns = sorted[runs / 2 - 1] + (sorted[runs / 2] - sorted[runs / 2 - 1]) / 2;
    rank = (runs * 90 + 99) / 100; /* nearest rank: ceil(0.9 * runs), >= 1 */
    if (printf("{\"runs\":%lu,\"median_ms\":%.3f,\"p90_ms\":%.3f,\"min_ms\":%.3f,"
               "\"max_rss_kib\":%ld}\n",
               runs, ms(median_ns), ms(sorted[rank - 1]), ms(sorted[0]), max_rss) < 0 ||
        fflush(stdout) != 0) {
        fprintf(stderr, "benchexec: writing the result: %s\n", strerror(errno));
        goto out;
    }
    rc = 0;

out:
    free(samples);
    free(sorted);
    if (in_fd != null_fd && in_fd >= 0 && close(in_fd) != 0 && rc == 0) {
        fprintf(stderr, "benchexec: close: %s\n", strerror(errno));
        rc = 1;
    }
    if (close(null_fd) != 0 && rc == 0) {
        fprintf(stderr, "benchexec: close: %s\n", strerror(errno));
        rc = 1;
    }
    return rc;
}
