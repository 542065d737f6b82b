/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pull engine (include/dockhand/pull.h): references -> manifests -> one
 * parallel run over every blob -> manifests stored and named in index.json.
 * Rules in docs/pull-internals.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/dockerconfig.h"
#include "dockhand/http.h"
#include "dockhand/imageref.h"
#include "dockhand/log.h"
#include "dockhand/manifest.h"
#include "dockhand/mem.h"
#include "dockhand/ocilayout.h"
#include "dockhand/pull.h"
#include "dockhand/registry.h"

#define MAX_REDIRECTS  5
#define BACKOFF_BASE   200L
#define BACKOFF_MAX_MS 5000L
#define BUSY_POLL_MS   200L
#define BUSY_WAIT_MS   (10L * 60 * 1000) /* another process writing a blob we need */

struct client {
    char *domain; /* the reference's domain: "docker.io", "127.0.0.1:5000" */
    struct dh_registry *r;
    struct dh_error *err; /* set up failed: every image of it fails with this */
};

struct image {
    struct dh_pull_result *res;
    struct dh_imageref ref;
    struct client *c;
    char *scope;
    struct dh_buf manifest; /* the bytes to store (converted when Docker v2) */
    struct dh_manifest man;
    bool failed;
};

struct run;

struct blob {
    struct run *run;
    const struct dh_descriptor *d; /* borrowed from its first image's manifest */
    size_t owner;                  /* the first image needing it */
    struct dh_oci_blob_writer *w;
    char *url; /* the registry's URL for it */
    int attempts;
    int redirects;
    bool auth_retried;
    bool started; /* begun (or found present), or failed */
    bool failed;
    struct dh_error *err;
};

struct run {
    const struct dh_pull_options *opt;
    struct dh_oci_layout layout;
    struct image *images;
    size_t n_images;
    struct blob *blobs;
    size_t n_blobs;
    struct client *clients;
    size_t n_clients;
    struct dh_http_multi *m;
    long start_ms;
    int max_retries;
    long retry_after_max;
};

static struct dh_error *err_copy(const struct dh_error *e)
{
    struct dh_error *c = NULL;

    dh_error_make(&c, e->status, "%s", e->msg);
    return c;
}

static void str_free_wipep(char **s)
{
    dh_str_free_wipe(*s);
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long backoff_ms(int attempt)
{
    long d = BACKOFF_BASE << (attempt < 6 ? attempt : 6);

    return d > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d;
}

/* How long to wait before retry number attempt (from 1): Retry-After when the
   answer has a valid one (capped), else exponential backoff. */
static long retry_delay(const struct run *run, const struct dh_http_response *resp, int attempt)
{
    long d = resp ? dh_http_retry_after_ms(dh_http_header(resp, "Retry-After"), 0) : -1;

    if (d < 0)
        return backoff_ms(attempt - 1);
    return d > run->retry_after_max ? run->retry_after_max : d;
}

static bool retryable_status(long st)
{
    return st == 429 || (st >= 500 && st != 501 && st != 505);
}

static void progress(struct run *run, size_t i, enum dh_pull_event ev)
{
    if (run->opt->progress)
        run->opt->progress(run->opt->progress_arg, i, ev, run->images[i].res);
}

/* Marks image i failed with err (taken) wrapped by step, unless it already failed. */
static void image_fail(struct run *run, size_t i, struct dh_error **err)
{
    struct image *im = &run->images[i];

    if (im->failed) {
        dh_error_free(err);
        return;
    }
    im->failed = true;
    dh_error_move(&im->res->err, err);
    im->res->duration_ms = now_ms() - run->start_ms;
    progress(run, i, DH_PULL_FAILED);
}

static int image_failf(struct run *run, size_t i, struct dh_error **err, const char *step)
{
    dh_error_wrap(err, "%s", step);
    image_fail(run, i, err);
    return -1;
}

char *dh_pull_default_ref_name(const char *image, struct dh_error **err)
{
    struct dh_imageref ref;
    char *s;

    if (dh_imageref_parse(image, &ref, err) < 0)
        return NULL;
    s = dh_imageref_familiar(&ref);
    dh_imageref_release(&ref);
    return s;
}

void dh_pull_result_release(struct dh_pull_result *r)
{
    if (!r)
        return;
    free(r->image);
    free(r->ref_name);
    free(r->digest);
    free(r->fetched_digest);
    free(r->index_digest);
    free(r->platform);
    free(r->media_type);
    dh_error_free(&r->err);
    memset(r, 0, sizeof(*r));
}

/* ---- registries ---- */

static bool is_insecure(const struct dh_pull_options *opt, const char *domain, const char *host)
{
    for (size_t i = 0; opt->insecure_registries && opt->insecure_registries[i]; i++) {
        const char *s = opt->insecure_registries[i];

        if (!strcmp(s, domain) || !strcmp(s, host))
            return true;
    }
    return false;
}

static struct client *client_for(struct run *run, const struct dh_imageref *ref)
{
    _cleanup_free_ char *host = dh_imageref_registry(ref), *key = NULL;
    _cleanup_free_ char *user = NULL;
    char *secret = NULL;
    struct client *c;
    bool hub = !strcmp(ref->domain, "docker.io");
    int r;

    for (size_t i = 0; i < run->n_clients; i++) {
        if (!strcmp(run->clients[i].domain, ref->domain))
            return &run->clients[i];
    }
    c = &run->clients[run->n_clients++];
    c->domain = dh_xstrdup(ref->domain);
    if (dh_registry_new(hub ? NULL : ref->domain,
                        is_insecure(run->opt, ref->domain, host) ? DH_REGISTRY_INSECURE : 0, &c->r,
                        &c->err) < 0)
        return c;
    if (!run->opt->creds)
        return c;
    key = dh_dockerconfig_key_for(hub ? "docker.io" : ref->domain);
    r = run->opt->creds(run->opt->creds_arg, key, &user, &secret, &c->err);
    if (r < 0) {
        dh_error_wrap(&c->err, "cannot get the credentials for '%s'", key);
    } else if (r > 0) {
        dh_registry_set_credentials(c->r, user, secret);
        dh_str_free_wipe(secret);
    }
    return c;
}

/* ---- manifests ---- */

/* GET /v2/<path>/manifests/<ref> with bounded retries on 429 and 5xx. */
static int get_manifest(struct run *run, struct image *im, const char *what,
                        struct dh_http_response *resp, struct dh_error **err)
{
    _cleanup_free_ char *path = dh_xasprintf("/v2/%s/manifests/%s", im->ref.path, what);
    const char *headers[] = {"Accept: " DH_MANIFEST_ACCEPT, NULL};
    struct dh_http_request req = {
            .url = path, .headers = headers, .max_body = DH_MANIFEST_MAX_BYTES};

    for (int attempt = 1;; attempt++) {
        _cleanup_free_ char *msg = NULL;
        long st;

        if (dh_registry_do(im->c->r, im->scope, &req, resp, err) < 0)
            return -1;
        st = resp->status;
        if (st == 200)
            return 0;
        if (retryable_status(st) && attempt <= run->max_retries) {
            long d = retry_delay(run, resp, attempt);

            dh_log_debug("manifest %s: HTTP %ld, retrying in %ld ms", what, st, d);
            dh_http_response_release(resp);
            usleep((useconds_t)d * 1000);
            continue;
        }
        msg = dh_registry_error_message(resp->body.data, resp->body.len);
        if (st == 401 || st == 403)
            return dh_error_make(err, EACCES, "%s: %s", st == 401 ? "unauthorized" : "denied",
                                 msg ? msg : "authentication required");
        if (st == 404)
            return dh_error_make(err, ENOENT, "not found: %s", msg ? msg : "manifest unknown");
        if (st >= 300 && st < 400)
            return dh_error_make(err, EPROTO, "HTTP %ld: redirects of manifests are not followed",
                                 st);
        return dh_error_make(err, EIO, "HTTP %ld%s%s", st, msg ? ": " : "", msg ? msg : "");
    }
}

/* Fetches and checks the manifest of image i; an index is resolved to the platform. */
static int resolve_image(struct run *run, size_t i, const struct dh_platform *want)
{
    struct image *im = &run->images[i];
    struct dh_pull_result *res = im->res;
    struct dh_http_response resp = {0};
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_manifest top = {0};
    _cleanup_free_ char *digest = NULL;
    int rc = -1;

    if (dh_imageref_parse(res->image, &im->ref, &err) < 0)
        return image_failf(run, i, &err, "reference");
    im->c = client_for(run, &im->ref);
    if (im->c->err) {
        err = err_copy(im->c->err);
        return image_failf(run, i, &err, "registry");
    }
    im->scope = dh_imageref_scope(&im->ref);
    if (dh_registry_ping(im->c->r, NULL, &err) < 0) {
        if (err->status == EPROTO && strstr(err->msg, "TLS") &&
            !is_insecure(run->opt, im->ref.domain, dh_registry_host(im->c->r))) {
            _cleanup_error_ struct dh_error *e = NULL;

            dh_error_move(&e, &err);
            dh_error_make(&err, EPROTO,
                          "%s (a plain http registry needs --insecure-registry %s; a private CA "
                          "goes in SSL_CERT_FILE or in docker's certs.d/%s/ca.crt)",
                          e->msg, im->ref.domain, dh_registry_host(im->c->r));
        }
        return image_failf(run, i, &err, "registry");
    }
    if (get_manifest(run, im, dh_imageref_manifest_ref(&im->ref), &resp, &err) < 0 ||
        dh_digest_check(resp.body.data, resp.body.len, im->ref.digest,
                        dh_http_header(&resp, "Docker-Content-Digest"), &digest, &err) < 0 ||
        dh_manifest_parse(resp.body.data, resp.body.len, dh_http_header(&resp, "Content-Type"),
                          &top, &err) < 0) {
        image_failf(run, i, &err, "manifest");
        goto out;
    }
    if (dh_manifest_kind_is_index(top.kind)) {
        long k = dh_manifest_select(&top, want, &err);
        const struct dh_descriptor *d;

        if (k < 0) {
            image_failf(run, i, &err, "platform");
            goto out;
        }
        d = &top.manifests[k];
        res->index_digest = TAKE_PTR(digest);
        res->platform = dh_platform_string(d->platform ? d->platform : want);
        dh_http_response_release(&resp);
        if (get_manifest(run, im, d->digest, &resp, &err) < 0 ||
            dh_digest_check(resp.body.data, resp.body.len, d->digest, NULL, &digest, &err) < 0 ||
            dh_manifest_parse(resp.body.data, resp.body.len, dh_http_header(&resp, "Content-Type"),
                              &im->man, &err) < 0) {
            image_failf(run, i, &err, "manifest");
            goto out;
        }
        if (dh_manifest_kind_is_index(im->man.kind)) {
            dh_error_make(&err, EPROTO, "the index entry %s is itself an index", d->digest);
            image_failf(run, i, &err, "manifest");
            goto out;
        }
    } else {
        im->man = top;
        memset(&top, 0, sizeof(top));
    }
    res->fetched_digest = TAKE_PTR(digest);
    dh_buf_init(&im->manifest, DH_MANIFEST_MAX_BYTES);
    if (im->man.kind == DH_MANIFEST_DOCKER_V2) {
        /* OCI layouts hold OCI manifests (skopeo and umoci insist): convert, as skopeo does */
        if (dh_manifest_docker_to_oci(resp.body.data, resp.body.len, &im->manifest, &err) < 0) {
            image_failf(run, i, &err, "manifest");
            goto out;
        }
        res->media_type = dh_xstrdup(DH_MT_OCI_MANIFEST);
    } else {
        if (dh_buf_append(&im->manifest, resp.body.data, resp.body.len, &err) < 0) {
            image_failf(run, i, &err, "manifest");
            goto out;
        }
        res->media_type = dh_xstrdup(im->man.media_type);
    }
    res->digest = dh_digest_sha256(im->manifest.data, im->manifest.len);
    res->blobs_total = (unsigned)im->man.n_layers + 1;
    res->bytes_total = im->man.config.size;
    for (size_t k = 0; k < im->man.n_layers; k++)
        res->bytes_total += im->man.layers[k].size;
    progress(run, i, DH_PULL_RESOLVED);
    rc = 0;
out:
    dh_http_response_release(&resp);
    dh_manifest_release(&top);
    return rc;
}

/* ---- blobs ---- */

static void blob_fail(struct run *run, struct blob *b, struct dh_error **err)
{
    b->failed = true;
    dh_error_wrap(err, "blob %s", b->d->digest);
    b->err = err_copy(*err);
    for (size_t i = 0; i < run->n_images; i++) {
        struct image *im = &run->images[i];
        bool needs = !strcmp(im->man.config.digest ? im->man.config.digest : "", b->d->digest);

        for (size_t k = 0; !needs && k < im->man.n_layers; k++)
            needs = !strcmp(im->man.layers[k].digest, b->d->digest);
        if (needs && !im->failed) {
            struct dh_error *e = err_copy(*err);

            image_fail(run, i, &e);
        }
    }
    dh_error_free(err);
}

static int blob_body(void *arg, const char *data, size_t len, struct dh_error **err);

static int queue_blob(struct run *run, struct blob *b, const char *url, bool with_auth,
                      bool fresh_token, long delay_ms, struct dh_error **err)
{
    struct image *im = &run->images[b->owner];
    __attribute__((cleanup(str_free_wipep))) char *auth = NULL;
    const char *headers[] = {NULL, NULL};
    int64_t off = dh_oci_blob_offset(b->w);
    struct dh_http_multi_request req = {
            .url = url,
            .headers = headers,
            .range_start = off,
            .max_body = (size_t)(b->d->size - off),
            .on_body = blob_body,
            .on_body_arg = b,
    };

    if (with_auth) {
        if (dh_registry_authorization(im->c->r, im->scope, fresh_token, &auth, err) < 0)
            return -1;
        headers[0] = auth;
        dh_registry_multi_settings(im->c->r, &req);
    } else {
        /* another origin (object storage): no credentials, no client certificate,
           not the registry's certs.d CAs; the general trust (SSL_CERT_FILE, else the
           system's); plain http only when the registry itself is insecure */
        struct dh_http_multi_request tmp = {0};
        const char *bundle = getenv("SSL_CERT_FILE");

        dh_registry_multi_settings(im->c->r, &tmp);
        req.allow_http = tmp.allow_http;
        req.ca_file = bundle && *bundle ? bundle : NULL;
    }
    return dh_http_multi_add_delayed(run->m, &req, b, delay_ms, err);
}

static int blob_body(void *arg, const char *data, size_t len, struct dh_error **err)
{
    struct blob *b = arg;
    struct run *run = b->run;
    struct image *im = &run->images[b->owner];

    if (dh_oci_blob_write(b->w, data, len, err) < 0)
        return -1;
    im->res->bytes_done += (int64_t)len;
    im->res->bytes_fetched += (int64_t)len;
    progress(run, b->owner, DH_PULL_BYTES);
    return 0;
}

static int blob_done(void *arg, struct dh_http_multi_result *res, struct dh_error **err)
{
    struct run *run = arg;
    struct blob *b = res->tag;
    struct image *im = &run->images[b->owner];
    _cleanup_error_ struct dh_error *e = NULL;
    long st = res->resp.status;
    const char *loc;

    (void)err;
    if (res->err) {
        /* dropped or stalled: continue from what the partial file holds */
        int s = res->err->status;

        dh_error_move(&e, &res->err);
        if ((s == ECONNRESET || s == ETIMEDOUT || s == EIO || s == ECONNREFUSED) &&
            ++b->attempts <= run->max_retries) {
            dh_log_debug("blob %s: %s; resuming at %lld", b->d->digest, e->msg,
                         (long long)dh_oci_blob_offset(b->w));
            if (queue_blob(run, b, b->url, true, false, backoff_ms(b->attempts - 1), &e) == 0)
                return 0;
        }
        goto failed;
    }
    if (st == 200 || st == 206) {
        struct dh_oci_blob_writer *w = TAKE_PTR(b->w);

        if (dh_oci_blob_commit(w, &e) < 0)
            goto failed;
        im->res->blobs_fetched++;
        return 0;
    }
    if (st >= 300 && st < 400 && (loc = dh_http_header(&res->resp, "Location"))) {
        _cleanup_free_ char *target = NULL;

        if (++b->redirects > MAX_REDIRECTS) {
            dh_error_make(&e, ELOOP, "too many redirects");
            goto failed;
        }
        target = dh_http_resolve_url(b->url, loc, &e);
        if (!target)
            goto failed;
        /* Authorization only to the registry's own origin */
        if (queue_blob(run, b, target, dh_http_same_origin(b->url, target), false, 0, &e) < 0)
            goto failed;
        return 0;
    }
    if (st == 401 && !b->auth_retried) {
        /* the token expired during a long pull: one fresh token */
        b->auth_retried = true;
        if (queue_blob(run, b, b->url, true, true, 0, &e) < 0)
            goto failed;
        return 0;
    }
    if (retryable_status(st) && ++b->attempts <= run->max_retries) {
        long d = retry_delay(run, &res->resp, b->attempts);

        dh_log_debug("blob %s: HTTP %ld, retrying in %ld ms", b->d->digest, st, d);
        if (queue_blob(run, b, b->url, true, false, d, &e) < 0)
            goto failed;
        return 0;
    }
    {
        _cleanup_free_ char *msg =
                dh_registry_error_message(res->resp.body.data, res->resp.body.len);

        dh_error_make(&e,
                      st == 401 || st == 403 ? EACCES
                      : st == 404            ? ENOENT
                                             : EIO,
                      "HTTP %ld%s%s", st, msg ? ": " : "", msg ? msg : "");
    }
failed:
    if (b->w) {
        /* a transport failure keeps the partial file for a later pull to resume */
        dh_oci_blob_abort(TAKE_PTR(b->w), e && e->status != EBADMSG && e->status != E2BIG);
    }
    blob_fail(run, b, &e);
    return 0;
}

/* Collects the distinct blobs of the resolved images and fetches the missing ones. */
static int fetch_blobs(struct run *run, struct dh_error **err)
{
    struct dh_http_multi_options mo = {.max_concurrent = run->opt->concurrency
                                                                 ? run->opt->concurrency
                                                                 : DH_PULL_DEFAULT_CONCURRENCY,
                                       .no_http2 = run->opt->no_http2};
    size_t cap = 0;

    for (size_t i = 0; i < run->n_images; i++)
        cap += run->images[i].failed ? 0 : run->images[i].man.n_layers + 1;
    run->blobs = dh_xcalloc(cap ? cap : 1, sizeof(*run->blobs));
    for (size_t i = 0; i < run->n_images; i++) {
        struct image *im = &run->images[i];

        if (im->failed)
            continue;
        for (size_t k = 0; k <= im->man.n_layers; k++) {
            const struct dh_descriptor *d = k == 0 ? &im->man.config : &im->man.layers[k - 1];
            bool seen = false;

            for (size_t j = 0; j < run->n_blobs && !seen; j++)
                seen = !strcmp(run->blobs[j].d->digest, d->digest);
            if (seen || dh_oci_has_blob(&run->layout, d->digest, d->size)) {
                im->res->blobs_reused++;
                im->res->bytes_done += d->size;
                continue;
            }
            run->blobs[run->n_blobs++] = (struct blob){.run = run, .d = d, .owner = i};
        }
        progress(run, i, DH_PULL_BYTES);
    }
    if (!run->n_blobs)
        return 0;
    if (dh_http_multi_new(&mo, &run->m, err) < 0)
        return -1;
    for (long waited = 0;; waited += BUSY_POLL_MS) {
        size_t busy = 0;

        for (size_t j = 0; j < run->n_blobs; j++) {
            struct blob *b = &run->blobs[j];
            struct image *im = &run->images[b->owner];
            _cleanup_error_ struct dh_error *e = NULL;

            if (b->started || b->failed)
                continue;
            if (waited && dh_oci_has_blob(&run->layout, b->d->digest, b->d->size)) {
                /* the other writer finished it */
                b->started = true;
                im->res->blobs_reused++;
                im->res->bytes_done += b->d->size;
                continue;
            }
            if (dh_oci_blob_begin(&run->layout, b->d->digest, b->d->size, true, &b->w, &e) < 0) {
                if (e->status == EBUSY && waited < BUSY_WAIT_MS) {
                    busy++; /* another pull writes it into this layout: wait for it */
                    continue;
                }
                goto failed;
            }
            b->started = true;
            if (!b->url)
                b->url = dh_xasprintf("%s/v2/%s/blobs/%s", dh_registry_base_url(im->c->r),
                                      im->ref.path, b->d->digest);
            if (dh_oci_blob_offset(b->w) == b->d->size) {
                /* a previous pull received every byte but stopped before the commit */
                if (dh_oci_blob_commit(TAKE_PTR(b->w), &e) < 0)
                    goto failed;
                im->res->blobs_reused++;
                im->res->bytes_done += b->d->size;
                continue;
            }
            /* bytes a previous, interrupted pull left in the partial file */
            im->res->bytes_done += dh_oci_blob_offset(b->w);
            if (queue_blob(run, b, b->url, true, false, 0, &e) < 0) {
            failed:
                b->started = true;
                if (b->w)
                    dh_oci_blob_abort(TAKE_PTR(b->w), true);
                blob_fail(run, b, &e);
            }
        }
        if (dh_http_multi_pending(run->m) && dh_http_multi_run(run->m, blob_done, run, err) < 0)
            return -1;
        if (!busy)
            return 0;
        usleep(BUSY_POLL_MS * 1000);
    }
}

/* Stores the manifest of image i and names it in index.json. */
static void finish_image(struct run *run, size_t i)
{
    struct image *im = &run->images[i];
    struct dh_pull_result *res = im->res;
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_oci_ref r = {res->media_type, res->digest, (int64_t)im->manifest.len, res->ref_name};

    if (im->failed)
        return;
    if (dh_oci_put_blob(&run->layout, res->digest, im->manifest.data, im->manifest.len, &err) < 0 ||
        dh_oci_layout_add_ref(&run->layout, &r, &err) < 0) {
        image_failf(run, i, &err, "layout");
        return;
    }
    res->duration_ms = now_ms() - run->start_ms;
    progress(run, i, DH_PULL_DONE);
}

int dh_pull(const char *dir, const char *const *images, const char *const *ref_names, size_t n,
            const struct dh_pull_options *opt, struct dh_pull_result *results,
            struct dh_error **err)
{
    static const struct dh_pull_options defaults = {0};
    struct run run = {.opt = opt ? opt : &defaults, .start_ms = now_ms()};
    struct dh_platform want = {0};
    size_t failed = 0, first_failed = 0, i;
    int rc = -1;

    memset(results, 0, n * sizeof(*results));
    for (i = 0; i < n; i++) {
        results[i].image = dh_xstrdup(images[i]);
        if (ref_names && ref_names[i])
            results[i].ref_name = dh_xstrdup(ref_names[i]);
    }
    if (run.opt->concurrency > DH_PULL_MAX_CONCURRENCY)
        return dh_error_make(err, EINVAL, "concurrency %u is above the limit of %d",
                             run.opt->concurrency, DH_PULL_MAX_CONCURRENCY);
    run.max_retries = run.opt->max_retries == 0  ? DH_PULL_DEFAULT_RETRIES
                      : run.opt->max_retries < 0 ? 0
                                                 : run.opt->max_retries;
    run.retry_after_max = run.opt->retry_after_max_ms > 0 ? run.opt->retry_after_max_ms
                                                          : DH_PULL_RETRY_AFTER_MAX_MS;
    if (run.opt->platform ? dh_platform_parse(run.opt->platform, &want, err) < 0
                          : (dh_platform_default(&want), 0))
        return -1;
    if (dh_oci_layout_open(dir, true, &run.layout, err) < 0) {
        dh_platform_release(&want);
        return -1;
    }
    run.images = dh_xcalloc(n ? n : 1, sizeof(*run.images));
    run.clients = dh_xcalloc(n ? n : 1, sizeof(*run.clients));
    run.n_images = n;
    for (i = 0; i < n; i++) {
        run.images[i].res = &results[i];
        if (!results[i].ref_name) {
            _cleanup_error_ struct dh_error *e = NULL;

            results[i].ref_name = dh_pull_default_ref_name(images[i], &e);
            if (!results[i].ref_name) {
                image_failf(&run, i, &e, "reference");
                continue;
            }
        }
        resolve_image(&run, i, &want);
    }
    if (fetch_blobs(&run, err) < 0)
        goto out;
    for (i = 0; i < n; i++)
        finish_image(&run, i);
    for (i = 0; i < n; i++) {
        if (run.images[i].failed && failed++ == 0)
            first_failed = i;
    }
    if (failed) {
        dh_error_make(err, EIO, "%zu of %zu image%s failed; %s: %s", failed, n, n == 1 ? "" : "s",
                      results[first_failed].image, results[first_failed].err->msg);
        goto out;
    }
    rc = 0;
out:
    for (i = 0; i < run.n_blobs; i++) {
        if (run.blobs[i].w)
            dh_oci_blob_abort(run.blobs[i].w, true);
        free(run.blobs[i].url);
        dh_error_free(&run.blobs[i].err);
    }
    free(run.blobs);
    dh_http_multi_free(run.m);
    for (i = 0; i < n; i++) {
        dh_imageref_release(&run.images[i].ref);
        free(run.images[i].scope);
        dh_buf_release(&run.images[i].manifest);
        dh_manifest_release(&run.images[i].man);
    }
    free(run.images);
    for (i = 0; i < run.n_clients; i++) {
        free(run.clients[i].domain);
        dh_registry_free(run.clients[i].r);
        dh_error_free(&run.clients[i].err);
    }
    free(run.clients);
    dh_oci_layout_close(&run.layout);
    dh_platform_release(&want);
    return rc;
}
