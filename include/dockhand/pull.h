/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pull engine: fetches images from registries into one OCI image layout
 * (`dockhand pull`, and later the node agent).  docs/pull.md is the user's view,
 * docs/pull-internals.md the rules.
 *
 *  1. per image, in order: parse the reference (imageref.h), get a registry
 *     client (one per registry, so a bearer token is fetched once per
 *     repository and reused by every image of it), fetch the manifest (an index
 *     is resolved to the platform asked for), check its digest against the one
 *     asked for and Docker-Content-Digest;
 *  2. one parallel run (dh_http_multi) over the blobs of every image: each
 *     distinct digest once, blobs already in the layout skipped, each verified
 *     by size and sha256 while streaming and committed atomically; a dropped
 *     connection resumes with Range, 429/503 wait for Retry-After, 5xx retry a
 *     bounded number of times, redirects are followed without Authorization to
 *     another origin;
 *  3. per image whose blobs all arrived: the manifest is stored (a Docker v2
 *     manifest converted to OCI) and named in index.json.
 *
 * One image failing does not stop the others; each result says why.
 */
#ifndef DOCKHAND_PULL_H
#define DOCKHAND_PULL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dockhand/error.h"

#define DH_PULL_DEFAULT_CONCURRENCY 6
#define DH_PULL_MAX_CONCURRENCY     64
#define DH_PULL_DEFAULT_RETRIES     4
#define DH_PULL_RETRY_AFTER_MAX_MS  60000L

/* Credentials for a registry: the docker config key ("https://index.docker.io/v1/"
   for Docker Hub, else "host[:port]").  Returns 1 with *user and *secret set (new
   strings; the secret is wiped by the engine), 0 for anonymous, -1 on error. */
typedef int (*dh_pull_creds_cb)(void *arg, const char *server, char **user, char **secret,
                                struct dh_error **err);

enum dh_pull_event {
    DH_PULL_RESOLVED, /* the manifest is known: bytes_total, blobs_total set */
    DH_PULL_BYTES,    /* bytes arrived (bytes_done grew) */
    DH_PULL_DONE,     /* the image is in the layout */
    DH_PULL_FAILED,   /* the image failed: result->err */
};

struct dh_pull_result {
    char *image;           /* the reference as given */
    char *ref_name;        /* its org.opencontainers.image.ref.name in index.json */
    char *digest;          /* the manifest stored and named (after a Docker -> OCI conversion) */
    char *fetched_digest;  /* the manifest the registry served (differs after a conversion) */
    char *index_digest;    /* the index it was selected from, or NULL */
    char *platform;        /* "os/arch[/variant]" selected from an index, or NULL */
    char *media_type;      /* of the stored manifest */
    int64_t bytes_total;   /* config + layers */
    int64_t bytes_done;    /* of those, present or received so far */
    int64_t bytes_fetched; /* received over the network for this image's blobs */
    unsigned blobs_total;
    unsigned blobs_fetched; /* fetched for this image (a blob shared with an image
                               earlier in the list is counted there) */
    unsigned blobs_reused;  /* already in the layout, or fetched for an earlier image */
    long duration_ms;       /* from the start of the pull to this image's end */
    struct dh_error *err;   /* "STEP: message" (STEP: reference, auth, manifest,
                               platform, blob sha256:..., layout), or NULL */
};

typedef void (*dh_pull_progress_cb)(void *arg, size_t i, enum dh_pull_event ev,
                                    const struct dh_pull_result *r);

struct dh_pull_options {
    unsigned concurrency;                   /* blob transfers at once; 0 = default */
    const char *platform;                   /* "os/arch[/variant]"; NULL = this host's */
    const char *const *insecure_registries; /* NULL-terminated "host[:port]" list */
    int max_retries;                        /* per blob and manifest; 0 = default, <0 = none */
    long retry_after_max_ms;                /* cap on one wait; 0 = default */
    bool no_http2;
    dh_pull_creds_cb creds; /* NULL = anonymous */
    void *creds_arg;
    dh_pull_progress_cb progress; /* NULL = none; called from the pulling thread */
    void *progress_arg;
};

/* Pulls images[0..n) into the layout at dir (created when missing).  ref_names
   (may be NULL, or hold NULLs) name the index.json entries; the default is
   dh_pull_default_ref_name().  results (n entries) are filled and must be
   released with dh_pull_result_release() whatever the outcome.  Returns 0 when
   every image was pulled, -1 when at least one failed (*err then says how many
   and names the first), or on a failure before any image was tried (bad
   options, layout not writable). */
int dh_pull(const char *dir, const char *const *images, const char *const *ref_names, size_t n,
            const struct dh_pull_options *opt, struct dh_pull_result *results,
            struct dh_error **err);
void dh_pull_result_release(struct dh_pull_result *r);

/* The ref name an image gets in the layout: its familiar reference as docker
   prints it ("busybox:latest", "127.0.0.1:5000/team/app:1.2",
   "team/app@sha256:..."), so that images of different repositories never
   collide.  NULL with *err when the reference does not parse.  New string. */
char *dh_pull_default_ref_name(const char *image, struct dh_error **err);

#endif
