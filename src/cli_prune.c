/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dockhand prune [--file PATH] [--dry-run] [--helpers] [--older-than DURATION]
 *                [-o text|json] [-q] [--watch [--interval DURATION]]
 *
 * Removes stale entries from a docker config.json (docs/prune.md).  The rules
 * are in src/prune.c; this file gives them the real world (helpers on PATH,
 * dockhand's own stores, usage records, the minted-token ledger), reads and
 * writes the file through src/dockerconfig.c under dockhand's lock, and prints
 * the outcome.  Exit status 0 when nothing failed (entries kept because a check
 * failed are reported, not failures), 1 with a one-line error otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "dockhand/cleanup.h"
#include "dockhand/cli_cmds.h"
#include "dockhand/config.h"
#include "dockhand/dockerconfig.h"
#include "dockhand/fsutil.h"
#include "dockhand/helperexec.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"
#include "dockhand/prune.h"
#include "dockhand/resolve.h"
#include "dockhand/store.h"
#include "dockhand/usage.h"
#include "dockhand/xdg.h"

#define USAGE                                                                               \
    "usage: dockhand prune [--file PATH] [--dry-run] [--helpers] [--older-than DURATION]\n" \
    "                      [-o text|json] [-q] [--watch [--interval DURATION]]"
#define DEFAULT_INTERVAL 3600
#define SETTLE_MS        200

struct options {
    const char *file; /* NULL: $DOCKER_CONFIG/config.json or ~/.docker/config.json */
    bool dry_run, helpers, json, quiet, watch;
    int64_t older_than, interval;
};

/* ---- the real context of the rules ---- */

struct live {
    struct dh_config *cfg; /* dockhand's own configuration, loaded at first need */
    struct dh_store *store;
    char *store_error; /* why dockhand's store could not be opened */
    bool store_tried;
    struct dh_minted *minted;
    bool minted_tried;
};

static void live_release(struct live *l)
{
    dh_store_close(l->store);
    dh_config_free(l->cfg);
    free(l->store_error);
    dh_minted_free(l->minted);
    memset(l, 0, sizeof(*l));
}

static int live_dockhand_store(struct live *l, struct dh_error **err)
{
    if (!l->store_tried) {
        _cleanup_error_ struct dh_error *e = NULL;

        l->store_tried = true;
        if (dh_config_load(&l->cfg, &e) < 0 || dh_store_open_for_call(l->cfg, &l->store, &e) < 0)
            l->store_error = dh_xstrdup(e->msg);
    }
    if (l->store_error)
        return dh_error_make(err, EIO, "%s", l->store_error);
    return 0;
}

static int live_store_has(void *arg, const char *helper, const char *server, struct dh_error **err)
{
    struct live *l = arg;
    char *user = NULL, *secret = NULL;
    int r;

    if (!strcmp(helper, "dockhand")) {
        _cleanup_cred_ struct dh_cred *c = NULL;

        /* In process, exactly as the helper's get answers (src/resolve.c). */
        if (live_dockhand_store(l, err) < 0)
            return -1;
        return dh_resolve_cred(l->cfg, l->store, server, &c, NULL, err);
    }
    r = dh_helperexec_get(helper, server, &user, &secret, err);
    free(user);
    dh_str_free_wipe(secret);
    return r;
}

static bool live_helper_exists(void *arg, const char *helper)
{
    (void)arg;
    return dh_helperexec_find(helper, NULL) == 1;
}

static int live_last_used(void *arg, const char *registry, int64_t *ret)
{
    (void)arg;
    return dh_usage_last_used(registry, ret);
}

static int live_minted_expiry(void *arg, const char *secret, int64_t *ret)
{
    struct live *l = arg;

    if (!l->minted_tried) {
        _cleanup_error_ struct dh_error *e = NULL;

        l->minted_tried = true;
        if (dh_minted_load(&l->minted, &e) < 0)
            dh_log_warn("%s, not using the minted-token ledger", e->msg);
    }
    return dh_minted_find(l->minted, secret, ret);
}

static const struct dh_prune_ops live_ops = {
        .store_has = live_store_has,
        .helper_exists = live_helper_exists,
        .last_used = live_last_used,
        .minted_expiry = live_minted_expiry,
};

/* ---- output ---- */

/* The path for people: $HOME/... as ~/... */
static char *display_path(const char *path)
{
    _cleanup_free_ char *home = NULL;
    size_t n;

    if (dh_home_dir(&home, NULL) == 0 && (n = strlen(home)) > 1 && !strncmp(path, home, n) &&
        path[n] == '/')
        return dh_xasprintf("~%s", path + n);
    return dh_xstrdup(path);
}

static const char *const rule_words[][2] = {
        [DH_PRUNE_EXPIRED] = {"expired token", "expired tokens"},
        [DH_PRUNE_EMPTY] = {"empty entry", "empty entries"},
        [DH_PRUNE_DUPLICATE] = {"duplicate", "duplicates"},
        [DH_PRUNE_MISSING_HELPER] = {"missing helper", "missing helpers"},
        [DH_PRUNE_UNUSED] = {"unused entry", "unused entries"},
        [DH_PRUNE_UNREADABLE] = {"unreadable entry", "unreadable entries"},
};

static void count_removed(const struct dh_prune_result *r, size_t counts[DH_PRUNE_N_RULES])
{
    size_t i;

    memset(counts, 0, DH_PRUNE_N_RULES * sizeof(*counts));
    for (i = 0; i < r->n_actions; i++)
        if (r->actions[i].remove)
            counts[r->actions[i].rule]++;
}

/* Prints s with control characters as '?': a key or helper name from the file
   cannot break the one-line-per-change output. */
static void put_clean(const char *s)
{
    for (; *s; s++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static void print_line(const char *what, const char *sec, const char *key, const char *reason,
                       const char *tail)
{
    printf("%s %s '", what, sec);
    put_clean(key);
    fputs("': ", stdout);
    put_clean(reason);
    printf("%s\n", tail);
}

/* Text output.  quiet: nothing.  brief (--watch after its first run): the summary
   only, and only when something was removed. */
static void print_text(const struct options *o, bool brief, const char *path,
                       const struct dh_prune_result *r)
{
    _cleanup_free_ char *shown = display_path(path);
    size_t counts[DH_PRUNE_N_RULES], i, k = 0;

    if (o->quiet || (brief && !r->n_removed))
        return;
    count_removed(r, counts);
    for (i = 0; i < r->n_actions && !brief; i++) {
        const struct dh_prune_action *a = &r->actions[i];
        const char *sec = dh_prune_section_name(a->section);

        if (a->remove) {
            if (o->dry_run)
                print_line("would remove", sec, a->key, a->reason, "");
        } else if (a->rule == DH_PRUNE_MISSING_HELPER) {
            print_line("hint:", sec, a->key, a->reason, " (--helpers removes it)");
        } else {
            print_line("kept", sec, a->key, a->reason, "");
        }
    }
    if (r->n_unknown_usage && !brief)
        printf("kept %zu %s without a usage record (--older-than)\n", r->n_unknown_usage,
               r->n_unknown_usage == 1 ? "entry" : "entries");
    if (!r->n_removed) {
        printf("nothing to prune in %s\n", shown);
        return;
    }
    printf("%s %zu %s from %s: ", o->dry_run ? "dry run: would prune" : "pruned", r->n_removed,
           r->n_removed == 1 ? "entry" : "entries", shown);
    for (i = 0; i < DH_PRUNE_N_RULES; i++) {
        if (!counts[i])
            continue;
        printf("%s%zu %s", k++ ? ", " : "", counts[i], rule_words[i][counts[i] != 1]);
    }
    printf("%s\n", o->dry_run ? " (nothing written)" : "");
}

static json_t *action_json(const struct dh_prune_action *a)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "rule", dh_prune_rule_name(a->rule), "section",
                     dh_prune_section_name(a->section), "key", a->key, "reason", a->reason);
}

static void print_json(const struct options *o, const char *path, bool exists, bool written,
                       const struct dh_prune_result *r)
{
    json_auto_t *j = NULL;
    json_t *changes = json_array(), *kept = json_array(), *counts = json_object();
    size_t c[DH_PRUNE_N_RULES], i;
    char *text;

    count_removed(r, c);
    for (i = 0; i < DH_PRUNE_N_RULES; i++)
        if (i != DH_PRUNE_UNREADABLE)
            json_object_set_new(counts, dh_prune_rule_name((enum dh_prune_rule)i),
                                json_integer((json_int_t)c[i]));
    for (i = 0; i < r->n_actions; i++)
        json_array_append_new(r->actions[i].remove ? changes : kept, action_json(&r->actions[i]));
    j = json_pack("{s:s, s:b, s:b, s:b, s:I, s:I, s:o, s:o, s:o, s:I}", "file", path, "exists",
                  exists, "dry_run", o->dry_run, "written", written, "entries",
                  (json_int_t)r->n_entries, "removed", (json_int_t)r->n_removed, "counts", counts,
                  "changes", changes, "kept", kept, "unknown_usage",
                  (json_int_t)r->n_unknown_usage);
    if (!j)
        dh_oom();
    text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text)
        dh_oom();
    printf("%s\n", text);
    free(text);
}

/* ---- one run ---- */

/* Prunes once (brief: see print_text). */
static int prune_once(const struct options *o, bool brief, struct dh_error **err)
{
    _cleanup_free_ char *path = NULL;
    _cleanup_dockerconfig_ struct dh_dockerconfig *c = NULL;
    struct dh_prune_result r = {0};
    struct live l = {0};
    struct dh_prune_options popt = {
            .now = (int64_t)time(NULL), .helpers = o->helpers, .older_than = o->older_than};
    bool written = false;
    struct stat st;
    int ret = 0;

    if (o->file)
        path = dh_xstrdup(o->file);
    else if (dh_dockerconfig_default_path(&path, err) < 0)
        return -1;
    /* No config.json at the default place: nothing to prune (and nothing created). */
    if (!o->file && stat(path, &st) < 0 && errno == ENOENT) {
        if (o->quiet || brief)
            return 0;
        if (o->json)
            print_json(o, path, false, false, &r);
        else
            printf("nothing to prune: no %s\n", path);
        return 0;
    }
    if (dh_dockerconfig_open(path, o->dry_run ? 0 : DH_DOCKERCONFIG_LOCK, &c, err) < 0)
        return -1;
    dh_prune_plan(c, &popt, &live_ops, &l, &r);
    live_release(&l);
    if (!o->dry_run && r.n_removed) {
        dh_prune_apply(c, &r);
        ret = dh_dockerconfig_save(c, &written, err);
    }
    if (ret == 0 && !o->quiet && !(brief && !r.n_removed)) {
        if (o->json)
            print_json(o, path, true, written, &r);
        else
            print_text(o, brief, path, &r);
    }
    fflush(stdout);
    dh_prune_result_release(&r);
    return ret;
}

/* ---- --watch ---- */

/* The directory to watch and the file name in it (the config.json after symlinks). */
static void watch_target(const char *path, char **ret_dir, char **ret_base)
{
    _cleanup_free_ char *real = realpath(path, NULL);
    const char *p = real ? real : path;
    const char *slash = strrchr(p, '/');

    *ret_dir = dh_dirname(p);
    *ret_base = dh_xstrdup(slash ? slash + 1 : p);
}

/* True when the inotify events read from fd name base. */
static bool drain_events(int fd, const char *base)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool hit = false;
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        const char *p = buf;

        while (p < buf + n) {
            const struct inotify_event *ev = (const struct inotify_event *)(const void *)p;

            if ((ev->len && !strcmp(ev->name, base)) || (ev->mask & IN_Q_OVERFLOW))
                hit = true;
            p += sizeof(*ev) + ev->len;
        }
    }
    return hit;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* SIGTERM / SIGINT under --watch: a byte down a pipe that poll() watches.  A handler
   rather than a blocked mask, so that the helpers prune runs start with the default
   signal mask (handlers are reset by exec); SA_RESTART keeps prune's own system
   calls going, and the run in progress finishes before the watch stops. */
static int stop_pipe[2] = {-1, -1};
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    int saved = errno;

    stop_signal = sig;
    (void)!write(stop_pipe[1], "x", 1);
    errno = saved;
}

/* Prunes now, then every interval and whenever the file changes, until SIGTERM or
   SIGINT (then returns 0).  A failed run is logged and the watch goes on. */
static int watch(struct options *o, struct dh_error **err)
{
    _cleanup_free_ char *path = NULL, *dir = NULL, *base = NULL;
    _cleanup_close_ int ifd = -1;
    struct sigaction sa, old_term, old_int;
    int64_t next;
    bool first = true;
    int ret = 0;

    if (o->file)
        path = dh_xstrdup(o->file);
    else if (dh_dockerconfig_default_path(&path, err) < 0)
        return -1;
    watch_target(path, &dir, &base);
    if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return dh_error_sys(err, errno, "cannot create a pipe");
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGTERM, &sa, &old_term);
    (void)sigaction(SIGINT, &sa, &old_int);
    ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (ifd >= 0 &&
        inotify_add_watch(ifd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE) < 0) {
        dh_log_warn("cannot watch '%s' for changes (%s), pruning every %llds only", dir,
                    strerror(errno), (long long)o->interval);
        close(ifd);
        ifd = -1;
    }
    dh_log_info("watching '%s' (every %llds and on change)", path, (long long)o->interval);
    while (!stop_signal) {
        _cleanup_error_ struct dh_error *e = NULL;
        struct pollfd pfd[2];
        bool changed = false;

        /* After the first run, say something only when something was removed. */
        if (prune_once(o, !first, &e) < 0)
            dh_log_error("%s", e->msg);
        first = false;
        next = now_ms() + o->interval * 1000;
        while (!changed && !stop_signal) {
            int64_t left = next - now_ms();
            int n;

            if (left <= 0)
                break;
            pfd[0] = (struct pollfd){.fd = stop_pipe[0], .events = POLLIN};
            pfd[1] = (struct pollfd){.fd = ifd, .events = POLLIN};
            n = poll(pfd, ifd >= 0 ? 2 : 1, left > INT_MAX ? INT_MAX : (int)left);
            if (n < 0 && errno != EINTR) {
                ret = dh_error_sys(err, errno, "cannot wait for changes");
                goto out;
            }
            if (n > 0 && ifd >= 0 && (pfd[1].revents & POLLIN) && drain_events(ifd, base)) {
                /* let a burst of writes settle, then prune */
                (void)poll(pfd, 1, SETTLE_MS);
                (void)drain_events(ifd, base);
                changed = true;
            }
        }
    }
    dh_log_info("signal %d, stopping", (int)stop_signal);
out:
    (void)sigaction(SIGTERM, &old_term, NULL);
    (void)sigaction(SIGINT, &old_int, NULL);
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    stop_pipe[0] = stop_pipe[1] = -1;
    return ret;
}

/* ---- arguments ---- */

static int parse_args(int argc, char **argv, struct options *o, bool *ret_help,
                      struct dh_error **err)
{
    const char *v = NULL, *interval = NULL;
    int i, r;

    memset(o, 0, sizeof(*o));
    o->interval = DEFAULT_INTERVAL;
    *ret_help = false;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (!strcmp(a, "--dry-run") || !strcmp(a, "-n")) {
            o->dry_run = true;
        } else if (!strcmp(a, "--helpers")) {
            o->helpers = true;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            o->quiet = true;
        } else if (!strcmp(a, "--watch")) {
            o->watch = true;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *ret_help = true;
        } else if ((r = dh_cli_opt_value(argc, argv, &i, "-f", "--file", &v, err)) != 0) {
            if (r < 0)
                return -1;
            if (!*v)
                return dh_error_make(err, EINVAL, "--file needs a path");
            o->file = v;
        } else if ((r = dh_cli_opt_value(argc, argv, &i, NULL, "--older-than", &v, err)) != 0) {
            if (r < 0 || dh_prune_parse_duration(v, &o->older_than, err) < 0)
                return -1;
        } else if ((r = dh_cli_opt_value(argc, argv, &i, NULL, "--interval", &interval, err)) !=
                   0) {
            if (r < 0 || dh_prune_parse_duration(interval, &o->interval, err) < 0)
                return -1;
        } else if ((r = dh_cli_opt_value(argc, argv, &i, "-o", "--output", &v, err)) != 0) {
            if (r < 0)
                return -1;
            if (!strcmp(v, "json"))
                o->json = true;
            else if (!strcmp(v, "text"))
                o->json = false;
            else
                return dh_error_make(err, EINVAL, "unknown output format '%s' (text or json)", v);
        } else {
            return dh_error_make(err, EINVAL, "unknown argument '%s'\n%s", a, USAGE);
        }
    }
    if (interval && !o->watch)
        return dh_error_make(err, EINVAL, "--interval goes with --watch");
    if (o->watch && o->dry_run)
        return dh_error_make(err, EINVAL, "--watch and --dry-run do not go together");
    return 0;
}

int dh_cmd_prune(int argc, char **argv, struct dh_error **err)
{
    struct options o;
    bool help;

    if (parse_args(argc, argv, &o, &help, err) < 0)
        return -1;
    if (help) {
        printf("%s\n\nRemoves stale entries from docker's config.json (see docs/prune.md).\n",
               USAGE);
        return 0;
    }
    if (o.watch)
        return watch(&o, err);
    return prune_once(&o, false, err);
}
