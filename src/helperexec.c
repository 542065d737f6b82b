/* SPDX-License-Identifier: Apache-2.0 */
/* Running another docker credential helper; see include/dockhand/helperexec.h. */
#include "dockhand/helperexec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/helper.h"
#include "dockhand/mem.h"
#include "dockhand/text.h"

#define OUT_MAX ((size_t)1 << 20)

extern char **environ;

static bool name_valid(const char *name)
{
    return name && *name && !strchr(name, '/') && strlen(name) < 200;
}

int dh_helperexec_find(const char *name, char **ret_path)
{
    const char *path = getenv("PATH");
    const char *p, *end;

    if (ret_path)
        *ret_path = NULL;
    if (!name_valid(name))
        return 0;
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (p = path;; p = end + 1) {
        struct stat st;
        _cleanup_free_ char *cand = NULL;

        end = strchr(p, ':');
        if (!end)
            end = p + strlen(p);
        /* An empty PATH element is the current directory, as for execvp. */
        cand = dh_xasprintf("%.*s%sdocker-credential-%s", (int)(end - p), p, end > p ? "/" : "",
                            name);
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
            if (ret_path)
                *ret_path = TAKE_PTR(cand);
            return 1;
        }
        if (!*end)
            return 0;
    }
}

static long ms_since(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Runs path with "get", server on stdin; collects stdout into out; sets *status. */
static int run_get(const char *path, const char *name, const char *server, struct dh_buf *out,
                   int *status, struct dh_error **err)
{
    _cleanup_free_ char *argv0 = dh_xasprintf("docker-credential-%s", name);
    char verb[] = "get";
    char *argv[] = {argv0, verb, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t def, none;
    int in[2] = {-1, -1}, outp[2] = {-1, -1};
    struct timespec t0;
    pid_t pid;
    int r, e;
    size_t len = strlen(server);
    bool timed_out = false, too_big = false;

    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0) {
        e = errno;
        if (in[0] >= 0)
            close(in[0]), close(in[1]);
        return dh_error_sys(err, e, "cannot run '%s'", argv0);
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_init(&attr);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    posix_spawnattr_setsigdefault(&attr, &def);
    /* The helper starts as from a shell: default SIGPIPE, nothing blocked (the
       caller may block signals it handles in a loop, e.g. prune --watch). */
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    r = posix_spawn(&pid, path, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(in[0]);
    close(outp[1]);
    if (r != 0) {
        close(in[1]);
        close(outp[0]);
        return dh_error_sys(err, r, "cannot run '%s'", argv0);
    }
    /* The helper may exit without reading its input: no SIGPIPE for us. */
    signal(SIGPIPE, SIG_IGN);
    if (write(in[1], server, len) != (ssize_t)len && errno != EPIPE)
        (void)0; /* the helper's answer tells what happened */
    close(in[1]);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd pfd = {.fd = outp[0], .events = POLLIN};
        long left = DH_HELPEREXEC_TIMEOUT_MS - ms_since(&t0);
        char *tail;
        ssize_t n;

        if (left <= 0) {
            timed_out = true;
            break;
        }
        r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            timed_out = r == 0;
            break;
        }
        if (dh_buf_extend(out, 4096, &tail, NULL) < 0) {
            /* Too much output: not a credential helper answer. */
            too_big = true;
            break;
        }
        n = read(outp[0], tail, 4096);
        if (n < 0 && errno == EINTR) {
            dh_buf_truncate(out, out->len - 4096);
            continue;
        }
        dh_buf_truncate(out, out->len - 4096 + (n > 0 ? (size_t)n : 0));
        if (n <= 0)
            break;
    }
    close(outp[0]);
    if (timed_out || too_big)
        kill(pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            return dh_error_sys(err, errno, "cannot wait for '%s'", argv0);
    if (timed_out)
        return dh_error_make(err, ETIMEDOUT, "'%s get' did not answer within %d s", argv0,
                             DH_HELPEREXEC_TIMEOUT_MS / 1000);
    if (too_big)
        return dh_error_make(err, E2BIG, "'%s get' printed more than %zu bytes", argv0, OUT_MAX);
    return 0;
}

int dh_helperexec_get(const char *name, const char *server, char **ret_user, char **ret_secret,
                      struct dh_error **err)
{
    _cleanup_free_ char *path = NULL;
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT_SECRET(OUT_MAX);
    json_auto_t *j = NULL;
    const char *user, *secret;
    size_t start, tlen, i;
    int status = 0;

    *ret_user = NULL;
    *ret_secret = NULL;
    if (!name_valid(name))
        return dh_error_make(err, EINVAL, "invalid credential helper name");
    if (dh_helperexec_find(name, &path) == 0)
        return dh_error_make(err, ENOENT, "credential helper 'docker-credential-%s' not on PATH",
                             name);
    if (run_get(path, name, server, &out, &status, err) < 0)
        return -1;
    if (dh_buf_append(&out, "", 1, err) < 0)
        return -1;
    out.len--;
    dh_trim_space(out.data, out.len, &start, &tlen);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char line[201];

        if (tlen == strlen(DH_HELPER_ERR_NOT_FOUND) &&
            memcmp(out.data + start, DH_HELPER_ERR_NOT_FOUND, tlen) == 0)
            return 0;
        /* The first line of its message, printable characters only. */
        for (i = 0; i < tlen && i < sizeof(line) - 1 && out.data[start + i] != '\n'; i++)
            line[i] = (unsigned char)out.data[start + i] < 0x20 ? ' ' : out.data[start + i];
        line[i] = '\0';
        if (WIFSIGNALED(status))
            return dh_error_make(err, EIO, "'docker-credential-%s get' was killed by signal %d",
                                 name, WTERMSIG(status));
        return dh_error_make(err, EIO, "'docker-credential-%s get' failed (exit %d): %s", name,
                             WEXITSTATUS(status), i ? line : "no message");
    }
    j = json_loadb(out.data, out.len, 0, NULL);
    user = json_string_value(json_object_get(j, "Username"));
    secret = json_string_value(json_object_get(j, "Secret"));
    if (!json_is_object(j) || !secret)
        return dh_error_make(err, EIO,
                             "'docker-credential-%s get' answered something else than "
                             "credentials",
                             name);
    if (!*secret)
        return 0;
    *ret_user = dh_xstrdup(user ? user : "");
    *ret_secret = dh_xstrdup(secret);
    return 1;
}
