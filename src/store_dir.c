/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `dir:<root>` store: a read-only tree of mounted Kubernetes Secrets.
 *
 *   <root>/<namespace>/<secret>/.dockerconfigjson   (kubernetes.io/dockerconfigjson)
 *   <root>/<namespace>/<secret>/.dockercfg          (kubernetes.io/dockercfg)
 *   <root>/<namespace>/<secret>/config.json         (a docker config file)
 *
 * The first of these names that exists in a secret's directory is read; every
 * auths entry of every secret is visible.  `get` returns the entry whose key
 * ranks best for the server URL by the kubelet's rules (dockercfg.h), ties
 * going to the secret name, then the key, that sorts first.  Names starting
 * with '.' (the kubelet's "..data" and "..<timestamp>" entries) are not secrets.
 *
 * Kubernetes updates a mounted Secret by pointing the "..data" symlink at a new
 * timestamped directory and deleting the old one; the visible names are
 * symlinks to "..data/<name>".  Each file is opened once, relative to the
 * namespace directory's fd, and read from that fd, so a read never mixes two
 * versions.  When a file vanishes between the look-up of "..data" and the open
 * (its old directory was just deleted), the open is retried a few times.  A
 * file that cannot be read or parsed is reported on stderr with its path and
 * skipped.  See docs/dir-store.md.
 *
 * Cost: a get opens every secret's file.  It reads the first LOOK_BUF bytes
 * into a stack buffer and checks them with dh_dockercfg_scan_rank, which
 * allocates nothing; only a file that may hold a matching entry (or is broken,
 * to say why) is read whole and parsed.  In a kubelet-managed tree the files
 * are opened as "<secret>/..data/<name>", one symlink hop fewer.
 */
#include "dockhand/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dockhand/cleanup.h"
#include "dockhand/dockercfg.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"

#define READ_INITIAL  (16u << 10)
#define LOOK_BUF      (8u << 10)
#define OPEN_ATTEMPTS 8

struct dir_store {
    struct dh_store base;
    char *root;
    char *ns_dir; /* <root>/<namespace> */
};

/* The files of a secret, in the order they are looked for. */
static const struct secret_file {
    const char *name;
    enum dh_dockercfg_format format;
} secret_files[] = {
        {".dockerconfigjson", DH_DOCKERCFG_CONFIGJSON},
        {".dockercfg", DH_DOCKERCFG_LEGACY},
        {"config.json", DH_DOCKERCFG_CONFIGFILE},
};

/* The secrets of one call. */
struct walk {
    struct dir_store *ds;
    int nsfd;
    bool via_data; /* try "<secret>/..data/<name>" first: the last secret was kubelet-managed */
};

/* A growing read buffer for whole files: secret, wiped after each use. */
struct reader {
    char *buf;
    size_t cap;
    size_t len;
};

static void reader_release(struct reader *r)
{
    if (r->buf) {
        dh_wipe(r->buf, r->cap);
        free(r->buf);
    }
    r->buf = NULL;
    r->cap = r->len = 0;
}

static void reader_wipe(struct reader *r)
{
    dh_wipe(r->buf, r->len);
    r->len = 0;
}

/* Reads fd to EOF into r.  Returns 0, an errno, or E2BIG past DH_DOCKERCFG_MAX. */
static int reader_read(struct reader *r, int fd)
{
    for (;;) {
        ssize_t n;

        if (r->len == r->cap) {
            size_t cap = r->cap ? r->cap * 2 : READ_INITIAL;
            char *p;

            if (r->cap > DH_DOCKERCFG_MAX)
                return E2BIG;
            if (cap > DH_DOCKERCFG_MAX + 1)
                cap = DH_DOCKERCFG_MAX + 1;
            /* grow without leaving a copy of the secret behind */
            p = dh_xmalloc(cap);
            if (r->buf) {
                memcpy(p, r->buf, r->len);
                dh_wipe(r->buf, r->cap);
                free(r->buf);
            }
            r->buf = p;
            r->cap = cap;
        }
        n = read(fd, r->buf + r->len, r->cap - r->len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (n == 0)
            break;
        r->len += (size_t)n;
    }
    return r->len > DH_DOCKERCFG_MAX ? E2BIG : 0;
}

/* Sets path to "<secret>/[..data/]<name>".  Returns -1 when it does not fit. */
static int secret_path(char *path, size_t size, const char *secret, bool via_data, const char *name)
{
    size_t sn = strlen(secret), dn = via_data ? 7 : 0, nn = strlen(name);

    if (sn + 1 + dn + nn + 1 > size)
        return -1;
    memcpy(path, secret, sn);
    path[sn] = '/';
    memcpy(path + sn + 1, "..data/", dn);
    memcpy(path + sn + 1 + dn, name, nn + 1);
    return 0;
}

/* True when one of the secret's visible file names exists as a name (a symlink left
   dangling by a "..data" swap in progress). */
static bool secret_file_dangles(int nsfd, const char *secret)
{
    char path[PATH_MAX];
    struct stat st;
    size_t i;

    for (i = 0; i < DH_ARRAY_SIZE(secret_files); i++)
        if (secret_path(path, sizeof(path), secret, false, secret_files[i].name) == 0 &&
            fstatat(nsfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
            return true;
    return false;
}

static void backoff(int attempt)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 200000L << attempt};

    (void)nanosleep(&ts, NULL);
}

/*
 * Opens the docker config file of a secret (a directory in the namespace directory).
 * Returns 1 and sets *ret_fd and *ret_file, 0 when the secret has none (or is gone), or
 * -1 with errno in *ret_errno and the name that failed in *ret_file.
 */
static int open_secret_file(struct walk *w, const char *secret, int *ret_fd,
                            const struct secret_file **ret_file, int *ret_errno)
{
    char path[PATH_MAX];
    int attempt, pass;
    size_t i;

    for (attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
        for (pass = 0; pass < 2; pass++) {
            bool via_data = pass == 0 ? w->via_data : !w->via_data;

            for (i = 0; i < DH_ARRAY_SIZE(secret_files); i++) {
                int fd;

                if (secret_path(path, sizeof(path), secret, via_data, secret_files[i].name) < 0)
                    return 0;
                fd = openat(w->nsfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (fd >= 0) {
                    w->via_data = via_data;
                    *ret_fd = fd;
                    *ret_file = &secret_files[i];
                    return 1;
                }
                if (errno == ENOTDIR)
                    break; /* "..data" is not a directory, or the secret is a file */
                if (errno != ENOENT) {
                    *ret_errno = errno;
                    *ret_file = &secret_files[i];
                    return -1;
                }
            }
        }
        if (!secret_file_dangles(w->nsfd, secret))
            return 0;
        dh_log_debug("dir store: the file of secret '%s' vanished while being opened (a "
                     "'..data' swap?), retrying",
                     secret);
        backoff(attempt);
    }
    *ret_errno = ENOENT;
    *ret_file = &secret_files[0];
    return -1;
}

/*
 * Reads the whole docker config file of a secret and parses it.  Returns 1 with *ret
 * set, 0 when the secret has none, or -1 after a warning (the secret is skipped).
 */
static int load_secret(struct walk *w, const char *secret, struct reader *rd,
                       struct dh_dockercfg **ret)
{
    _cleanup_error_ struct dh_error *e = NULL;
    _cleanup_close_ int fd = -1;
    const struct secret_file *file = NULL;
    const char *dir = w->ds->ns_dir;
    int r, errnum = 0;

    r = open_secret_file(w, secret, &fd, &file, &errnum);
    if (r < 0)
        dh_log_warn("cannot open '%s/%s/%s': %s, skipping it", dir, secret, file->name,
                    strerror(errnum));
    if (r <= 0)
        return r;
    errnum = reader_read(rd, fd);
    if (errnum == E2BIG)
        dh_log_warn("'%s/%s/%s' is larger than %zu bytes, skipping it", dir, secret, file->name,
                    DH_DOCKERCFG_MAX);
    else if (errnum)
        dh_log_warn("cannot read '%s/%s/%s': %s, skipping it", dir, secret, file->name,
                    strerror(errnum));
    if (errnum) {
        reader_wipe(rd);
        return -1;
    }
    r = dh_dockercfg_parse(rd->buf, rd->len, file->format, ret, &e);
    reader_wipe(rd);
    if (r < 0) {
        dh_log_warn("cannot parse '%s/%s/%s': %s, skipping it", dir, secret, file->name, e->msg);
        return -1;
    }
    return 1;
}

/*
 * A quick look at the start of a secret's docker config: returns 1 when it may hold an
 * entry for target (or is broken, or is large), else 0.  A document whose start is
 * well-formed JSON can only be followed by white space, or be broken: either way, a start
 * with no key that can match means the document has none.  A file that cannot be opened
 * or read gives 1, so that load_secret says why.
 */
static int look_secret(struct walk *w, const char *secret, const char *target)
{
    _cleanup_close_ int fd = -1;
    const struct secret_file *file = NULL;
    char buf[LOOK_BUF];
    int r, rank, errnum;
    ssize_t n;

    r = open_secret_file(w, secret, &fd, &file, &errnum);
    if (r <= 0)
        return r < 0;
    do
        n = read(fd, buf, sizeof(buf));
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return 1;
    /* a file that fills the buffer is too large for a quick look */
    rank = (size_t)n == sizeof(buf) ? DH_DOCKERCFG_SCAN_INVALID
                                    : dh_dockercfg_scan_rank(buf, (size_t)n, file->format, target,
                                                             DH_KMATCH_HOST_ALIAS);
    dh_wipe(buf, (size_t)n);
    return rank == DH_DOCKERCFG_SCAN_INVALID || rank >= 0;
}

/* Opens the namespace directory.  Returns 1, 0 when it does not exist, or -1. */
static int open_ns_dir(struct dir_store *ds, DIR **ret, struct dh_error **err)
{
    DIR *d = opendir(ds->ns_dir);
    struct stat st;

    if (d) {
        *ret = d;
        return 1;
    }
    if (errno != ENOENT)
        return dh_error_sys(err, errno, "cannot open '%s'", ds->ns_dir);
    if (stat(ds->root, &st) < 0)
        return dh_error_sys(err, errno, "cannot open the dir store root '%s'", ds->root);
    if (!S_ISDIR(st.st_mode))
        return dh_error_make(err, ENOTDIR, "the dir store root '%s' is not a directory", ds->root);
    dh_log_debug("dir store: '%s' does not exist: no credentials", ds->ns_dir);
    return 0;
}

/* True for a directory entry that may be a secret. */
static bool is_secret_entry(const struct dirent *de)
{
    return de->d_name[0] != '.' && de->d_type != DT_REG && de->d_type != DT_FIFO &&
           de->d_type != DT_SOCK && de->d_type != DT_CHR && de->d_type != DT_BLK;
}

/* The best entry so far in a get. */
struct best {
    int rank;
    char *secret;
    char *key;
    char *username;
    char *password; /* wiped */
};

static void best_release(struct best *b)
{
    free(b->secret);
    free(b->key);
    dh_str_free_wipe(b->username);
    dh_str_free_wipe(b->password);
}

/* True when (rank, secret, key) beats b: a higher rank, then the smaller secret name, then
   the smaller key. */
static bool better(const struct best *b, int rank, const char *secret, const char *key)
{
    int c;

    if (rank != b->rank)
        return rank > b->rank;
    c = strcmp(secret, b->secret);
    return c < 0 || (c == 0 && strcmp(key, b->key) < 0);
}

static void consider(struct best *b, const char *secret, const struct dh_dockercfg *cfg,
                     const char *server_url)
{
    size_t i;

    for (i = 0; i < cfg->n_entries; i++) {
        const struct dh_dockercfg_entry *e = &cfg->entries[i];
        const char *user, *pass;
        int rank;

        if (!dh_dockercfg_entry_cred(e, &user, &pass))
            continue;
        rank = dh_kubelet_match_rank(e->key, server_url, DH_KMATCH_HOST_ALIAS);
        if (rank < 0 || !better(b, rank, secret, e->key))
            continue;
        best_release(b);
        b->rank = rank;
        b->secret = dh_xstrdup(secret);
        b->key = dh_xstrdup(e->key);
        b->username = dh_xstrdup(user);
        b->password = dh_xstrdup(pass);
    }
}

static int dir_get(struct dh_store *s, const char *server_url, struct dh_cred **ret,
                   struct dh_error **err)
{
    struct dir_store *ds = (struct dir_store *)s;
    _cleanup_dir_ DIR *d = NULL;
    struct walk w = {.ds = ds, .via_data = true};
    struct best b = {.rank = DH_KUBELET_RANK_NONE};
    struct reader rd = {0};
    struct dirent *de;
    int r;

    *ret = NULL;
    r = open_ns_dir(ds, &d, err);
    if (r <= 0)
        return r;
    w.nsfd = dirfd(d);
    for (;;) {
        struct dh_dockercfg *cfg = NULL;

        errno = 0;
        de = readdir(d);
        if (!de)
            break;
        if (!is_secret_entry(de) || !look_secret(&w, de->d_name, server_url) ||
            load_secret(&w, de->d_name, &rd, &cfg) <= 0)
            continue;
        consider(&b, de->d_name, cfg, server_url);
        dh_dockercfg_free(cfg);
    }
    r = errno;
    reader_release(&rd);
    if (r == 0 && b.rank >= 0) {
        dh_log_debug("dir store: entry '%s' of secret '%s' answers '%s'", b.key, b.secret,
                     server_url);
        *ret = dh_cred_new(b.key, b.username, b.password);
    }
    best_release(&b);
    if (r)
        return dh_error_sys(err, r, "cannot list '%s'", ds->ns_dir);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_free(char **names, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int dir_list(struct dh_store *s, json_t *out, struct dh_error **err)
{
    struct dir_store *ds = (struct dir_store *)s;
    _cleanup_dir_ DIR *d = NULL;
    struct walk w = {.ds = ds, .via_data = true};
    struct reader rd = {0};
    char **names = NULL;
    size_t n = 0, cap = 0, i, j;
    struct dirent *de;
    int r;

    r = open_ns_dir(ds, &d, err);
    if (r <= 0)
        return r;
    w.nsfd = dirfd(d);
    for (;;) {
        errno = 0;
        de = readdir(d);
        if (!de)
            break;
        if (!is_secret_entry(de))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            names = dh_xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = dh_xstrdup(de->d_name);
    }
    if (errno) {
        r = errno;
        names_free(names, n);
        return dh_error_sys(err, r, "cannot list '%s'", ds->ns_dir);
    }
    /* in name order, so that the first secret holding a key names its user */
    if (n)
        qsort(names, n, sizeof(*names), cmp_str);
    for (i = 0; i < n; i++) {
        struct dh_dockercfg *cfg = NULL;

        if (load_secret(&w, names[i], &rd, &cfg) <= 0)
            continue;
        for (j = 0; j < cfg->n_entries; j++) {
            const struct dh_dockercfg_entry *e = &cfg->entries[j];
            const char *user, *pass;

            if (json_object_get(out, e->key))
                continue;
            (void)dh_dockercfg_entry_cred(e, &user, &pass);
            json_object_set_new(out, e->key, json_string_nocheck(user));
        }
        dh_dockercfg_free(cfg);
    }
    reader_release(&rd);
    names_free(names, n);
    return 0;
}

static int dir_store_cred(struct dh_store *s DH_UNUSED, const struct dh_cred *cred DH_UNUSED,
                          struct dh_error **err)
{
    return dh_error_make(err, EROFS, "the dir store is read-only");
}

static int dir_erase(struct dh_store *s DH_UNUSED, const char *server_url DH_UNUSED,
                     struct dh_error **err)
{
    return dh_error_make(err, EROFS, "the dir store is read-only");
}

static void dir_close(struct dh_store *s)
{
    struct dir_store *ds = (struct dir_store *)s;

    free(ds->root);
    free(ds->ns_dir);
    free(ds->base.namespace);
    free(ds);
}

static const struct dh_store_ops dir_ops = {
        .type = "dir",
        .get = dir_get,
        .store = dir_store_cred,
        .erase = dir_erase,
        .list = dir_list,
        .close = dir_close,
};

int dh_store_dir_open(const char *arg, const char *ns, const struct dh_config *cfg DH_UNUSED,
                      struct dh_store **ret, struct dh_error **err)
{
    struct dir_store *ds;
    size_t n;

    if (!arg || !*arg)
        return dh_error_make(err, EINVAL, "the dir store needs a root directory: 'dir:<root>'");
    if (arg[0] != '/')
        return dh_error_make(err, EINVAL, "the dir store root '%s' is not an absolute path", arg);
    n = strlen(arg);
    while (n > 1 && arg[n - 1] == '/')
        n--;
    ds = dh_xcalloc(1, sizeof(*ds));
    ds->base.ops = &dir_ops;
    ds->base.namespace = dh_xstrdup(ns);
    ds->root = dh_xstrndup(arg, n);
    ds->ns_dir = n == 1 ? dh_xasprintf("/%s", ns) : dh_xasprintf("%s/%s", ds->root, ns);
    *ret = &ds->base;
    return 0;
}
