/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Standalone replay driver for the libFuzzer targets in test/fuzz/ (built with gcc, no
 * libFuzzer): `make` links test/fuzz/<target>.c with this file into
 * build/fuzz-replay/<target>, and hack/run-tests.sh runs it over test/fuzz/corpus/<target>.
 *
 *   <target> PATH...
 *
 * Each PATH is an input file, or a directory whose regular files (one level: no
 * subdirectories, no dot files such as .gitkeep) are inputs, in name order.  Every input is
 * read whole into a buffer of exactly its size and passed to LLVMFuzzerTestOneInput (after
 * LLVMFuzzerInitialize, when the target defines one).  Output is TAP on stdout:
 * "ok N - FILE" per input, then the plan "1..N".  A crash kills the process (the runner
 * reports it); the input being run is named on stderr first.  A missing or unreadable
 * PATH, a directory with no input, or no PATH at all gives "not ok" and exit status 1:
 * an empty corpus must fail.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static unsigned long test_no;
static int failed;

static void tap_flush(void)
{
    if (fflush(stdout) != 0) {
        fprintf(stderr, "replay: writing TAP output: %s\n", strerror(errno));
        exit(1);
    }
}

static void not_ok(const char *what, const char *why)
{
    test_no++;
    failed = 1;
    if (printf("not ok %lu - %s: %s\n", test_no, what, why) < 0) {
        fprintf(stderr, "replay: writing TAP output: %s\n", strerror(errno));
        exit(1);
    }
    tap_flush();
}

/* Reads the whole file at path into a malloc'd buffer of exactly its size. */
static int read_file(const char *path, uint8_t **data, size_t *size)
{
    struct stat st;
    uint8_t *buf;
    size_t len, off = 0;
    ssize_t n;
    int fd, e;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) != 0) {
        e = errno;
        close(fd);
        return -e;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    if ((uintmax_t)st.st_size > SIZE_MAX - 1) {
        close(fd);
        return -EFBIG;
    }
    len = (size_t)st.st_size;
    /* Exactly len bytes, so ASan sees any read past the input. */
    buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    while (off < len) {
        n = read(fd, buf + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            e = errno;
            free(buf);
            close(fd);
            return -e;
        }
        if (n == 0)
            break; /* the file shrank: replay what is there */
        off += (size_t)n;
    }
    if (close(fd) != 0) {
        e = errno;
        free(buf);
        return -e;
    }
    *data = buf;
    *size = off;
    return 0;
}

static void run_input(const char *path)
{
    uint8_t *data = NULL;
    size_t size = 0;
    int r;

    r = read_file(path, &data, &size);
    if (r < 0) {
        not_ok(path, strerror(-r));
        return;
    }
    /* If the target crashes, this names the input (the TAP stream stops short). */
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    test_no++;
    if (printf("ok %lu - %s\n", test_no, path) < 0) {
        fprintf(stderr, "replay: writing TAP output: %s\n", strerror(errno));
        exit(1);
    }
    tap_flush();
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int join_path(const char *dir, const char *name, char **out)
{
    size_t dl = strlen(dir), nl = strlen(name);
    char *p = malloc(dl + 1 + nl + 1);

    if (!p)
        return -ENOMEM;
    memcpy(p, dir, dl);
    p[dl] = '/';
    memcpy(p + dl + 1, name, nl + 1);
    *out = p;
    return 0;
}

/* Runs every regular, non-dot file directly in dir, in name order. */
static void run_dir(const char *dir)
{
    char **files = NULL, **grown, *path;
    size_t n = 0, cap = 0, i;
    struct dirent *de;
    struct stat st;
    DIR *d;

    d = opendir(dir);
    if (!d) {
        not_ok(dir, strerror(errno));
        return;
    }
    for (;;) {
        errno = 0;
        de = readdir(d);
        if (!de) {
            if (errno != 0)
                not_ok(dir, strerror(errno));
            break;
        }
        if (de->d_name[0] == '.')
            continue;
        if (join_path(dir, de->d_name, &path) < 0) {
            not_ok(dir, strerror(ENOMEM));
            break;
        }
        if (stat(path, &st) != 0) {
            not_ok(path, strerror(errno));
            free(path);
            continue;
        }
        if (!S_ISREG(st.st_mode)) {
            fprintf(stderr, "replay: skipping %s: not a regular file\n", path);
            free(path);
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            grown = realloc(files, cap * sizeof(*files));
            if (!grown) {
                free(path);
                not_ok(dir, strerror(ENOMEM));
                break;
            }
            files = grown;
        }
        files[n++] = path;
    }
    if (closedir(d) != 0)
        not_ok(dir, strerror(errno));
    if (n == 0) {
        not_ok(dir, "no input in this corpus directory");
    } else {
        qsort(files, n, sizeof(*files), cmp_str);
        for (i = 0; i < n; i++)
            run_input(files[i]);
    }
    for (i = 0; i < n; i++)
        free(files[i]);
    free(files);
}

int main(int argc, char **argv)
{
    struct stat st;
    int i;

    /* As in libFuzzer: called once, before any input; its result is ignored. */
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    if (argc < 2)
        not_ok(argc > 0 && argv[0] ? argv[0] : "replay",
               "no corpus given (usage: TARGET FILE|DIR...)");
    for (i = 1; i < argc; i++) {
        if (stat(argv[i], &st) != 0)
            not_ok(argv[i], strerror(errno));
        else if (S_ISDIR(st.st_mode))
            run_dir(argv[i]);
        else
            run_input(argv[i]);
    }
    if (printf("1..%lu\n", test_no) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "replay: writing TAP output: %s\n", strerror(errno));
        return 1;
    }
    return failed ? 1 : 0;
}
