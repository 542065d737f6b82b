/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ocifetch: fetches one image from a registry into an OCI layout with the pull
 * foundation modules (imageref, manifest, http multi, ocilayout).  A test tool
 * for test/cli/85-pull-foundation.bats, and the reference for how `dockhand pull`
 * puts them together; it does no token auth (the registry auth module does that).
 *
 *   ocifetch [--plain-http] [--ca-file PEM] [--platform OS/ARCH[/VARIANT]]
 *            [--concurrency N] [--name REF] [--retries N] [--stats] IMAGE DIR
 *
 * --stats prints one line per finished blob transfer on stderr:
 * "transfer STATUS http/VERSION new-connections N".
 *
 * Credentials for HTTP Basic come from $OCIFETCH_BASIC ("user:password"), never
 * argv; they are sent to the registry only, never to a redirect target on another
 * host.  A Docker v2 schema 2 manifest is stored converted to OCI (as skopeo
 * does).  Prints the manifest digest stored under REF (default: the tag, else
 * "latest") on success; "ocifetch: IMAGE: STEP: message" and status 1 on failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/base64.h"
#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/http.h"
#include "dockhand/imageref.h"
#include "dockhand/manifest.h"
#include "dockhand/mem.h"
#include "dockhand/ocilayout.h"

#define MAX_REDIRECTS 5

static const char *image_arg;
static char *auth_header; /* "Authorization: Basic ..." or NULL */
static bool plain_http;
static bool stats;
static const char *ca_file;
static int max_retries = 4;

static int fail(const char *step, struct dh_error *err)
{
    fprintf(stderr, "ocifetch: %s: %s: %s\n", image_arg, step, err ? err->msg : "failed");
    return 1;
}

static long backoff_ms(int attempt)
{
    long d = 200L << (attempt < 6 ? attempt : 6);

    return d > 5000 ? 5000 : d;
}

/* GET a manifest, with bounded retries on 429/5xx (Retry-After honoured). */
static int get_manifest(const char *base, const char *ref, struct dh_http_response *resp,
                        struct dh_error **err)
{
    _cleanup_free_ char *url = dh_xasprintf("%s/manifests/%s", base, ref);
    const char *headers[] = {"Accept: " DH_MANIFEST_ACCEPT, auth_header, NULL};
    struct dh_http_request req = {.url = url,
                                  .headers = headers,
                                  .allow_http = plain_http,
                                  .ca_file = ca_file,
                                  .max_body = DH_MANIFEST_MAX_BYTES};

    for (int attempt = 0;; attempt++) {
        long delay;

        if (dh_http_do(&req, resp, err) < 0)
            return -1;
        if (resp->status == 200)
            return 0;
        if ((resp->status != 429 && resp->status < 500) || attempt >= max_retries)
            return dh_error_make(err, EIO, "GET manifest '%s': HTTP %ld: %.200s", ref, resp->status,
                                 resp->body.data ? resp->body.data : "");
        delay = dh_http_retry_after_ms(dh_http_header(resp, "Retry-After"), 0);
        if (delay < 0)
            delay = backoff_ms(attempt);
        dh_http_response_release(resp);
        usleep((useconds_t)(delay > 30000 ? 30000 : delay) * 1000);
    }
}

struct blob {
    const struct dh_descriptor *d;
    struct dh_oci_blob_writer *w;
    char *url; /* the registry's URL for it */
    int attempts;
    int redirects;
};

struct run {
    struct dh_http_multi *m;
    const struct dh_oci_layout *l;
    struct dh_error *first_err;
};

static int blob_body(void *arg, const char *data, size_t len, struct dh_error **err)
{
    struct blob *b = arg;

    return dh_oci_blob_write(b->w, data, len, err);
}

static int queue_blob(struct run *r, struct blob *b, const char *url, bool with_auth, long delay_ms,
                      struct dh_error **err)
{
    const char *auth[] = {auth_header, NULL};
    int64_t off = dh_oci_blob_offset(b->w);
    struct dh_http_multi_request req = {
            .url = url,
            .headers = with_auth ? auth : NULL,
            .range_start = off,
            .max_body = (size_t)(b->d->size - off),
            .allow_http = plain_http,
            .ca_file = ca_file,
            .on_body = blob_body,
            .on_body_arg = b,
    };

    return dh_http_multi_add_delayed(r->m, &req, b, delay_ms, err);
}

static int blob_done(void *arg, struct dh_http_multi_result *res, struct dh_error **err)
{
    struct run *r = arg;
    struct blob *b = res->tag;
    long st = res->resp.status, delay;
    const char *loc;

    if (stats)
        fprintf(stderr, "transfer %ld http/%ld new-connections %ld\n", st, res->http_version,
                res->new_connections);
    if (res->err) {
        /* dropped or stalled: continue from what the partial file holds */
        if (++b->attempts > max_retries ||
            (res->err->status != ECONNRESET && res->err->status != ETIMEDOUT))
            goto failed;
        return queue_blob(r, b, b->url, true, backoff_ms(b->attempts - 1), err);
    }
    if (st == 200 || st == 206) {
        struct dh_oci_blob_writer *w = TAKE_PTR(b->w);

        if (dh_oci_blob_commit(w, err) < 0)
            return dh_error_wrap(err, "blob %s", b->d->digest);
        return 0;
    }
    if (st >= 300 && st < 400 && (loc = dh_http_header(&res->resp, "Location"))) {
        _cleanup_free_ char *target = NULL;

        if (++b->redirects > MAX_REDIRECTS)
            return dh_error_make(err, ELOOP, "blob %s: too many redirects", b->d->digest);
        target = dh_http_resolve_url(b->url, loc, err);
        if (!target)
            return -1;
        /* credentials only to the registry itself */
        return queue_blob(r, b, target, dh_http_same_origin(b->url, target), 0, err);
    }
    if ((st == 429 || st >= 500) && ++b->attempts <= max_retries) {
        delay = dh_http_retry_after_ms(dh_http_header(&res->resp, "Retry-After"), 0);
        if (delay < 0)
            delay = backoff_ms(b->attempts - 1);
        return queue_blob(r, b, b->url, true, delay > 30000 ? 30000 : delay, err);
    }
    return dh_error_make(err, EIO, "blob %s: HTTP %ld: %.200s", b->d->digest, st,
                         res->resp.body.data ? res->resp.body.data : "");
failed:
    dh_error_move(err, &res->err);
    return dh_error_wrap(err, "blob %s", b->d->digest);
}

static int fetch_blobs(const struct dh_oci_layout *l, const char *base, const struct dh_manifest *m,
                       unsigned concurrency, struct dh_error **err)
{
    struct dh_http_multi_options opt = {.max_concurrent = concurrency};
    size_t n = m->n_layers + 1, i;
    struct blob *blobs = dh_xcalloc(n, sizeof(*blobs));
    struct run r = {.l = l};
    int ret = -1;

    if (dh_http_multi_new(&opt, &r.m, err) < 0)
        goto out;
    for (i = 0; i < n; i++) {
        struct blob *b = &blobs[i];

        b->d = i == 0 ? &m->config : &m->layers[i - 1];
        if (dh_oci_has_blob(l, b->d->digest, b->d->size))
            continue; /* shared with an image fetched before */
        b->url = dh_xasprintf("%s/blobs/%s", base, b->d->digest);
        if (dh_oci_blob_begin(l, b->d->digest, b->d->size, true, &b->w, err) < 0)
            goto out;
        if (queue_blob(&r, b, b->url, true, 0, err) < 0)
            goto out;
    }
    ret = dh_http_multi_run(r.m, blob_done, &r, err);
out:
    for (i = 0; i < n; i++) {
        if (blobs[i].w)
            dh_oci_blob_abort(blobs[i].w, true); /* a later run resumes */
        free(blobs[i].url);
    }
    free(blobs);
    dh_http_multi_free(r.m);
    return ret;
}

int main(int argc, char **argv)
{
    _cleanup_error_ struct dh_error *err = NULL;
    struct dh_imageref ref;
    struct dh_platform want;
    struct dh_manifest idx = {0}, man = {0};
    struct dh_http_response resp = {0};
    struct dh_oci_layout l = {0};
    _cleanup_free_ char *base = NULL, *host = NULL, *digest = NULL, *name = NULL;
    const char *platform = NULL, *refname = NULL, *dir;
    unsigned concurrency = 4;
    int i;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--plain-http"))
            plain_http = true;
        else if (!strcmp(argv[i], "--stats"))
            stats = true;
        else if (!strcmp(argv[i], "--ca-file") && i + 1 < argc)
            ca_file = argv[++i];
        else if (!strcmp(argv[i], "--platform") && i + 1 < argc)
            platform = argv[++i];
        else if (!strcmp(argv[i], "--concurrency") && i + 1 < argc)
            concurrency = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--retries") && i + 1 < argc)
            max_retries = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--name") && i + 1 < argc)
            refname = argv[++i];
        else
            break;
    }
    if (argc - i != 2) {
        fprintf(stderr, "usage: ocifetch [--plain-http] [--ca-file PEM] [--platform P] "
                        "[--concurrency N] [--name REF] [--retries N] [--stats] IMAGE DIR\n");
        return 2;
    }
    image_arg = argv[i];
    dir = argv[i + 1];
    if (getenv("OCIFETCH_BASIC")) {
        const char *c = getenv("OCIFETCH_BASIC");
        _cleanup_free_ char *b64 = dh_base64_encode(c, strlen(c), false);

        auth_header = dh_xasprintf("Authorization: Basic %s", b64);
    }
    if (dh_imageref_parse(image_arg, &ref, &err) < 0)
        return fail("reference", err);
    if (platform ? dh_platform_parse(platform, &want, &err) < 0 : (dh_platform_default(&want), 0))
        return fail("platform", err);
    host = dh_imageref_registry(&ref);
    base = dh_xasprintf("%s://%s/v2/%s", plain_http ? "http" : "https", host, ref.path);

    if (get_manifest(base, dh_imageref_manifest_ref(&ref), &resp, &err) < 0)
        return fail("manifest", err);
    if (dh_digest_check(resp.body.data, resp.body.len, ref.digest,
                        dh_http_header(&resp, "Docker-Content-Digest"), &digest, &err) < 0 ||
        dh_manifest_parse(resp.body.data, resp.body.len, dh_http_header(&resp, "Content-Type"),
                          &idx, &err) < 0)
        return fail("manifest", err);
    if (dh_manifest_kind_is_index(idx.kind)) {
        long k = dh_manifest_select(&idx, &want, &err);
        const struct dh_descriptor *d;

        if (k < 0)
            return fail("platform", err);
        d = &idx.manifests[k];
        dh_http_response_release(&resp);
        free(digest);
        digest = NULL;
        if (get_manifest(base, d->digest, &resp, &err) < 0 ||
            dh_digest_check(resp.body.data, resp.body.len, d->digest, NULL, &digest, &err) < 0 ||
            dh_manifest_parse(resp.body.data, resp.body.len, dh_http_header(&resp, "Content-Type"),
                              &man, &err) < 0)
            return fail("manifest", err);
        if (dh_manifest_kind_is_index(man.kind))
            return fail("manifest", (dh_error_make(&err, EINVAL, "nested index"), err));
    } else {
        man = idx;
        memset(&idx, 0, sizeof(idx));
    }
    if (dh_oci_layout_open(dir, true, &l, &err) < 0)
        return fail("layout", err);
    if (fetch_blobs(&l, base, &man, concurrency, &err) < 0)
        return fail("blobs", err);
    if (man.kind == DH_MANIFEST_DOCKER_V2) {
        /* OCI layouts hold OCI manifests (skopeo and umoci insist): convert, as skopeo does */
        _cleanup_buf_ struct dh_buf oci = DH_BUF_INIT(DH_MANIFEST_MAX_BYTES);

        if (dh_manifest_docker_to_oci(resp.body.data, resp.body.len, &oci, &err) < 0)
            return fail("manifest", err);
        dh_buf_release(&resp.body);
        resp.body = oci;
        memset(&oci, 0, sizeof(oci));
        free(digest);
        digest = dh_digest_sha256(resp.body.data, resp.body.len);
        free(man.media_type);
        man.media_type = dh_xstrdup(DH_MT_OCI_MANIFEST);
    }
    if (dh_oci_put_blob(&l, digest, resp.body.data, resp.body.len, &err) < 0)
        return fail("layout", err);
    name = dh_xstrdup(refname ? refname : ref.tag ? ref.tag : "latest");
    {
        struct dh_oci_ref r = {man.media_type, digest, (int64_t)resp.body.len, name};

        if (dh_oci_layout_add_ref(&l, &r, &err) < 0)
            return fail("layout", err);
    }
    printf("%s\n", digest);
    dh_http_response_release(&resp);
    dh_manifest_release(&idx);
    dh_manifest_release(&man);
    dh_oci_layout_close(&l);
    dh_imageref_release(&ref);
    dh_platform_release(&want);
    dh_str_free_wipe(auth_header);
    return 0;
}
