/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dockhand pull IMAGE [IMAGE...] --to oci:DIR[:REF] [--platform OS/ARCH[/VARIANT]]
 *               [--concurrency N] [--insecure-registry HOST[:PORT]]... [--retries N]
 *               [-q | -o json]
 *
 * Pulls images into an OCI image layout with the pull engine (pull.h), with
 * credentials resolved exactly as the helper's `get` resolves them
 * (resolve.h).  docs/pull.md is the manual.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dockhand/cleanup.h"
#include "dockhand/cli_cmds.h"
#include "dockhand/config.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"
#include "dockhand/pull.h"
#include "dockhand/resolve.h"
#include "dockhand/store.h"

#define PULL_USAGE                                                                             \
    "usage: dockhand pull IMAGE [IMAGE...] --to oci:DIR[:REF] [--platform OS/ARCH[/VARIANT]] " \
    "[--concurrency N] [--insecure-registry HOST[:PORT]]... [--retries N] [-q | -o json]"

#define PROGRESS_INTERVAL_MS 100

struct creds_ctx {
    struct dh_config *cfg;
    struct dh_store *store;
};

static int creds_cb(void *arg, const char *server, char **user, char **secret,
                    struct dh_error **err)
{
    struct creds_ctx *c = arg;
    _cleanup_cred_ struct dh_cred *cred = NULL;
    int r;

    if (!c->cfg && dh_config_load(&c->cfg, err) < 0)
        return -1;
    if (!c->store && dh_store_open_for_call(c->cfg, &c->store, err) < 0)
        return -1;
    r = dh_resolve_cred(c->cfg, c->store, server, &cred, NULL, err);
    if (r <= 0)
        return r;
    *user = TAKE_PTR(cred->username);
    *secret = TAKE_PTR(cred->secret);
    return 1;
}

/* ---- progress ---- */

struct display {
    bool tty;   /* redrawn lines on stderr */
    bool plain; /* one line per event on stderr */
    size_t n;
    const struct dh_pull_result *results;
    long last_ms;
    long start_ms;
    bool drawn;
};

static long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void human(char *out, size_t len, double bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    size_t u = 0;

    while (bytes >= 1024 && u + 1 < DH_ARRAY_SIZE(units)) {
        bytes /= 1024;
        u++;
    }
    snprintf(out, len, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

static void draw(struct display *d)
{
    long now = mono_ms();
    double secs = (double)(now - d->start_ms) / 1000.0;

    if (d->drawn)
        fprintf(stderr, "\033[%zuA", d->n);
    for (size_t i = 0; i < d->n; i++) {
        const struct dh_pull_result *r = &d->results[i];
        char done[32], total[32], rate[32];
        const char *state = r->err ? "failed" : r->digest && r->duration_ms ? "done" : "";
        double t = r->duration_ms ? (double)r->duration_ms / 1000.0 : secs;

        human(done, sizeof(done), (double)r->bytes_done);
        human(total, sizeof(total), (double)r->bytes_total);
        human(rate, sizeof(rate), t > 0 ? (double)r->bytes_fetched / t : 0);
        fprintf(stderr, "\r\033[K%-48.48s %10s / %-10s %10s/s %s\n", r->image, done, total, rate,
                state);
    }
    d->drawn = true;
    d->last_ms = now;
}

static void progress_cb(void *arg, size_t i, enum dh_pull_event ev, const struct dh_pull_result *r)
{
    struct display *d = arg;
    char a[32], b[32];

    if (d->tty) {
        if (ev != DH_PULL_BYTES || mono_ms() - d->last_ms >= PROGRESS_INTERVAL_MS)
            draw(d);
        return;
    }
    if (!d->plain)
        return;
    (void)i;
    switch (ev) {
    case DH_PULL_RESOLVED:
        human(a, sizeof(a), (double)r->bytes_total);
        fprintf(stderr, "%s: manifest %s%s%s, %u blobs, %s\n", r->image, r->fetched_digest,
                r->platform ? " for " : "", r->platform ? r->platform : "", r->blobs_total, a);
        break;
    case DH_PULL_DONE:
        human(a, sizeof(a), (double)r->bytes_fetched);
        human(b, sizeof(b),
              r->duration_ms ? (double)r->bytes_fetched * 1000.0 / (double)r->duration_ms : 0);
        fprintf(stderr, "%s: pulled as %s (%s fetched, %u blobs reused) in %.2f s, %s/s\n",
                r->image, r->ref_name, a, r->blobs_reused, (double)r->duration_ms / 1000.0, b);
        break;
    case DH_PULL_BYTES:
    case DH_PULL_FAILED:
        break;
    }
}

/* ---- output ---- */

static json_t *jstr(const char *s)
{
    return s ? json_string(s) : json_null();
}

static int print_json(const char *dir, const struct dh_pull_result *res, size_t n, long ms,
                      struct dh_error **err)
{
    json_t *root = json_object(), *arr = json_array();
    int64_t fetched = 0;
    size_t failed = 0;
    char *s;

    for (size_t i = 0; i < n; i++) {
        const struct dh_pull_result *r = &res[i];
        json_t *o = json_object();

        json_object_set_new(o, "image", json_string(r->image));
        json_object_set_new(o, "ref_name", jstr(r->ref_name));
        json_object_set_new(o, "digest", jstr(r->err ? NULL : r->digest));
        json_object_set_new(o, "fetched_digest", jstr(r->fetched_digest));
        json_object_set_new(o, "index_digest", jstr(r->index_digest));
        json_object_set_new(o, "platform", jstr(r->platform));
        json_object_set_new(o, "media_type", jstr(r->media_type));
        json_object_set_new(o, "bytes_total", json_integer(r->bytes_total));
        json_object_set_new(o, "bytes_fetched", json_integer(r->bytes_fetched));
        json_object_set_new(o, "blobs_total", json_integer(r->blobs_total));
        json_object_set_new(o, "blobs_fetched", json_integer(r->blobs_fetched));
        json_object_set_new(o, "blobs_reused", json_integer(r->blobs_reused));
        json_object_set_new(o, "duration_ms", json_integer(r->duration_ms));
        json_object_set_new(o, "error", jstr(r->err ? r->err->msg : NULL));
        json_array_append_new(arr, o);
        fetched += r->bytes_fetched;
        failed += r->err != NULL;
    }
    json_object_set_new(root, "layout", json_string(dir));
    json_object_set_new(root, "images", arr);
    json_object_set_new(root, "pulled", json_integer((json_int_t)(n - failed)));
    json_object_set_new(root, "failed", json_integer((json_int_t)failed));
    json_object_set_new(root, "bytes_fetched", json_integer(fetched));
    json_object_set_new(root, "duration_ms", json_integer(ms));
    s = json_dumps(root, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    json_decref(root);
    if (!s)
        return dh_error_make(err, ENOMEM, "cannot encode the summary");
    printf("%s\n", s);
    free(s);
    if (fflush(stdout) != 0)
        return dh_error_sys(err, errno, "cannot write the summary");
    return 0;
}

static int parse_uint(const char *opt, const char *v, unsigned min, unsigned max, unsigned *ret,
                      struct dh_error **err)
{
    char *end;
    unsigned long n;

    errno = 0;
    n = strtoul(v, &end, 10);
    if (!*v || *end || errno || v[0] == '-' || n < min || n > max)
        return dh_error_make(err, EINVAL, "%s needs a number from %u to %u, not '%s'", opt, min,
                             max, v);
    *ret = (unsigned)n;
    return 0;
}

/* "oci:DIR" or "oci:DIR:REF" (skopeo's oci: transport syntax: DIR ends at the first ':'). */
static int parse_to(const char *to, char **ret_dir, char **ret_ref, struct dh_error **err)
{
    const char *p, *colon;

    if (strncmp(to, "oci:", 4) != 0)
        return dh_error_make(err, EINVAL,
                             "--to '%s': only an OCI layout is supported (--to oci:DIR[:REF])", to);
    p = to + 4;
    colon = strchr(p, ':');
    if (colon == p || !*p)
        return dh_error_make(err, EINVAL, "--to '%s': no directory given", to);
    *ret_dir = colon ? dh_xstrndup(p, (size_t)(colon - p)) : dh_xstrdup(p);
    *ret_ref = colon && colon[1] ? dh_xstrdup(colon + 1) : NULL;
    return 0;
}

int dh_cmd_pull(int argc, char **argv, struct dh_error **err)
{
    _cleanup_free_ const char **images = dh_xcalloc((size_t)argc + 1, sizeof(char *));
    _cleanup_free_ const char **insecure = dh_xcalloc((size_t)argc + 1, sizeof(char *));
    _cleanup_free_ char *dir = NULL, *refname = NULL;
    _cleanup_free_ struct dh_pull_result *res = NULL;
    struct creds_ctx cc = {0};
    struct dh_pull_options opt = {.creds = creds_cb, .creds_arg = &cc};
    struct display disp = {0};
    const char *to = NULL, *output = NULL;
    size_t n = 0, n_insecure = 0, failed = 0;
    bool quiet = false, only_args = false;
    unsigned u;
    long start;
    int rc, i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;

#define VALUE(name)                                                                      \
    (!strcmp(a, name)                          ? (i + 1 < argc ? (v = argv[++i]) : NULL) \
     : !strncmp(a, name "=", strlen(name) + 1) ? (v = a + strlen(name) + 1)              \
                                               : NULL)
        if (only_args || a[0] != '-' || !a[1]) {
            images[n++] = a;
        } else if (!strcmp(a, "--")) {
            only_args = true;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("%s\n", PULL_USAGE);
            return 0;
        } else if (VALUE("--to")) {
            to = v;
        } else if (VALUE("--platform")) {
            opt.platform = v;
        } else if (VALUE("--concurrency")) {
            if (parse_uint("--concurrency", v, 1, DH_PULL_MAX_CONCURRENCY, &u, err) < 0)
                return -1;
            opt.concurrency = u;
        } else if (VALUE("--retries")) {
            if (parse_uint("--retries", v, 0, 20, &u, err) < 0)
                return -1;
            opt.max_retries = u ? (int)u : -1;
        } else if (VALUE("--insecure-registry")) {
            insecure[n_insecure++] = v;
        } else if (VALUE("-o") || VALUE("--output")) {
            output = v;
        } else if (!strcmp(a, "--to") || !strcmp(a, "--platform") || !strcmp(a, "--concurrency") ||
                   !strcmp(a, "--retries") || !strcmp(a, "--insecure-registry") ||
                   !strcmp(a, "-o") || !strcmp(a, "--output")) {
            return dh_error_make(err, EINVAL, "%s needs a value; " PULL_USAGE, a);
        } else {
            return dh_error_make(err, EINVAL, "unknown option '%s'; " PULL_USAGE, a);
        }
#undef VALUE
    }
    if (!n)
        return dh_error_make(err, EINVAL, "no image given; " PULL_USAGE);
    if (!to)
        return dh_error_make(err, EINVAL, "no destination given (--to oci:DIR); " PULL_USAGE);
    if (output && strcmp(output, "json") != 0 && strcmp(output, "text") != 0)
        return dh_error_make(err, EINVAL, "-o '%s': the formats are text and json", output);
    if (parse_to(to, &dir, &refname, err) < 0)
        return -1;
    if (refname && n > 1)
        return dh_error_make(err, EINVAL,
                             "--to oci:DIR:REF names one image; for %zu images use --to oci:DIR "
                             "(each is named by its reference)",
                             n);
    opt.insecure_registries = insecure;
    res = dh_xcalloc(n, sizeof(*res));
    disp.n = n;
    disp.results = res;
    disp.start_ms = start = mono_ms();
    if (!quiet) {
        disp.tty = isatty(STDERR_FILENO) && getenv("TERM") && strcmp(getenv("TERM"), "dumb");
        disp.plain = !disp.tty;
        opt.progress = progress_cb;
        opt.progress_arg = &disp;
    }
    {
        const char *names[] = {refname, NULL};

        rc = dh_pull(dir, images, refname ? names : NULL, n, &opt, res, err);
    }
    if (disp.tty && disp.drawn)
        draw(&disp);
    if (cc.store)
        dh_store_close(cc.store);
    dh_config_free(cc.cfg);
    for (size_t k = 0; k < n; k++)
        failed += res[k].err != NULL;
    if (rc < 0 && !failed) {
        /* nothing was tried: bad options, layout not writable */
        for (size_t k = 0; k < n; k++)
            dh_pull_result_release(&res[k]);
        return -1;
    }
    if (output && !strcmp(output, "json")) {
        _cleanup_error_ struct dh_error *e = NULL;

        if (print_json(dir, res, n, mono_ms() - start, &e) < 0 && rc == 0) {
            dh_error_move(err, &e);
            rc = -1;
        }
    } else if (!quiet) {
        int64_t fetched = 0;
        char a[32];

        for (size_t k = 0; k < n; k++) {
            if (!res[k].err)
                printf("%s %s\n", res[k].digest, res[k].ref_name);
            fetched += res[k].bytes_fetched;
        }
        human(a, sizeof(a), (double)fetched);
        if (failed < n)
            fprintf(stderr, "%zu of %zu image%s pulled into %s, %s fetched in %.2f s\n", n - failed,
                    n, n == 1 ? "" : "s", dir, a, (double)(mono_ms() - start) / 1000.0);
    }
    if (rc < 0 && failed > 1) {
        /* each failed image on its own line; the summary last */
        for (size_t k = 0; k < n; k++) {
            if (res[k].err)
                dh_log_error("%s: %s", res[k].image, res[k].err->msg);
        }
        dh_error_free(err);
        dh_error_make(err, EIO, "%zu of %zu images failed", failed, n);
    } else if (rc < 0 && failed == 1) {
        for (size_t k = 0; k < n; k++) {
            if (res[k].err) {
                dh_error_free(err);
                dh_error_make(err, res[k].err->status, "%s: %s", res[k].image, res[k].err->msg);
            }
        }
    }
    for (size_t k = 0; k < n; k++)
        dh_pull_result_release(&res[k]);
    return rc;
}
