/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image manifests and indexes: Docker v2 schema 2 manifests and manifest lists,
 * OCI image manifests and image indexes.  Parsing with validation, platform
 * selection from an index, and the digest check of fetched bytes.
 *
 * Parsing rules:
 *  - at most DH_MANIFEST_MAX_BYTES (4 MiB, distribution's own limit); a JSON
 *    object with no duplicate keys; "schemaVersion" must be 2 (1 gives "schema 1
 *    manifests are not supported", the deprecated signed format);
 *  - the kind comes from the "mediaType" field, else from the Content-Type
 *    (parameters ignored), else from the shape (OCI allows leaving mediaType
 *    out: "manifests" makes an index, "config" + "layers" a manifest).  When
 *    both the field and a specific Content-Type are present they must agree
 *    (distribution-spec: reject a manifest whose mediaType differs);
 *    "application/json" and "text/plain" Content-Types say nothing;
 *  - an unknown manifest media type is refused and named;
 *  - descriptors: "digest" valid (dh_digest_validate), "size" an integer in
 *    0..DH_MANIFEST_MAX_BLOB_SIZE, "mediaType" a string (required by both
 *    specs; any type for layers and config), optional "urls" (strings),
 *    "annotations" (string values), "platform" {architecture, os (both
 *    required), variant, os.version, os.features};
 *  - a manifest needs "config" and "layers" (zero layers allowed: OCI artifacts);
 *    an index needs "manifests" (may be empty).
 *
 * Errors are one line with status EINVAL (EPROTONOSUPPORT for schema 1 and
 * unknown media types, E2BIG for size) and never quote more than 128 bytes of
 * the input.
 */
#ifndef DOCKHAND_MANIFEST_H
#define DOCKHAND_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dockhand/buf.h"
#include "dockhand/error.h"

#define DH_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define DH_MT_DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
#define DH_MT_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define DH_MT_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define DH_MT_DOCKER_SCHEMA1  "application/vnd.docker.distribution.manifest.v1+json"
#define DH_MT_DOCKER_SCHEMA1S "application/vnd.docker.distribution.manifest.v1+prettyjws"
#define DH_MT_DOCKER_CONFIG   "application/vnd.docker.container.image.v1+json"
#define DH_MT_OCI_CONFIG      "application/vnd.oci.image.config.v1+json"
/* The Accept header of a manifest request (containerd's list, without the wildcard). */
#define DH_MANIFEST_ACCEPT \
    DH_MT_OCI_INDEX ", " DH_MT_DOCKER_LIST ", " DH_MT_OCI_MANIFEST ", " DH_MT_DOCKER_MANIFEST

#define DH_MANIFEST_MAX_BYTES     ((size_t)4 << 20)
#define DH_MANIFEST_MAX_BLOB_SIZE ((int64_t)1 << 40)

enum dh_manifest_kind {
    DH_MANIFEST_UNKNOWN = 0,
    DH_MANIFEST_DOCKER_V2,   /* single-platform image, Docker */
    DH_MANIFEST_DOCKER_LIST, /* multi-platform list, Docker */
    DH_MANIFEST_OCI,         /* single-platform image, OCI */
    DH_MANIFEST_OCI_INDEX,   /* multi-platform index, OCI */
    DH_MANIFEST_SCHEMA1,     /* refused */
};

struct dh_platform {
    char *os;           /* "linux" */
    char *architecture; /* "amd64" */
    char *variant;      /* "v8", or NULL */
    char *os_version;   /* or NULL */
    char **os_features; /* n_os_features strings */
    size_t n_os_features;
};

struct dh_annotation {
    char *key;
    char *value;
};

struct dh_descriptor {
    char *media_type; /* never NULL */
    char *digest;     /* "sha256:<hex>" */
    int64_t size;
    char **urls;
    size_t n_urls;
    struct dh_annotation *annotations;
    size_t n_annotations;
    struct dh_platform *platform; /* NULL when absent */
};

struct dh_manifest {
    enum dh_manifest_kind kind;
    char *media_type;             /* the media type decided, e.g. DH_MT_OCI_INDEX */
    struct dh_descriptor config;  /* manifests */
    struct dh_descriptor *layers; /* manifests */
    size_t n_layers;
    struct dh_descriptor *manifests; /* indexes and lists */
    size_t n_manifests;
};

/* The kind named by a media type (parameters after ';' and case ignored). */
enum dh_manifest_kind dh_manifest_kind_of(const char *media_type);
static inline bool dh_manifest_kind_is_index(enum dh_manifest_kind k)
{
    return k == DH_MANIFEST_DOCKER_LIST || k == DH_MANIFEST_OCI_INDEX;
}

/* Parses and validates a manifest or index.  content_type may be NULL.  *m is
   initialised first and holds nothing after a failure. */
int dh_manifest_parse(const void *data, size_t len, const char *content_type, struct dh_manifest *m,
                      struct dh_error **err);
void dh_manifest_release(struct dh_manifest *m);
/* The value of an annotation of d, or NULL.  Borrowed. */
const char *dh_descriptor_annotation(const struct dh_descriptor *d, const char *key);

/* Platforms.  "os/arch[/variant]" (containerd's platforms.Parse restricted to the
   full form), normalised: os lowercased ("macos" -> "darwin"), arch aliases
   (x86_64/x86-64 -> amd64, aarch64 -> arm64, i386/i686 -> 386, armhf -> arm v7,
   armel -> arm v6), variants ("8"/"v8"/"v8.0" on arm64 -> none, "" on arm -> v7,
   "5".."8" on arm -> "vN", "v1" on amd64 -> none).  Errors name the string. */
int dh_platform_parse(const char *s, struct dh_platform *p, struct dh_error **err);
/* The platform of this host: linux + the compiled architecture. */
void dh_platform_default(struct dh_platform *p);
void dh_platform_release(struct dh_platform *p);
/* "os/arch[/variant]". New string. */
char *dh_platform_string(const struct dh_platform *p);
/* containerd's default matcher (platforms.Only): how well `have` serves `want`:
   0 = exact, larger = a compatible fallback (amd64 vN -> v(N-1).. -> 386, arm vN
   -> v(N-1)..v5, arm64 -> arm v8..v5), -1 = no.  os.version must be equal when
   want sets it; want's os.features must all be in have's. */
int dh_platform_rank(const struct dh_platform *want, const struct dh_platform *have);
/* Picks the entry of an index for want: the best rank, first in index order on a
   tie; only manifest and index media types (attestations, unknown kinds skipped).
   An entry without platform is taken as linux/amd64 (go-containerregistry).
   Returns the index into m->manifests, or -1 with an error naming want and the
   platforms available (ENOENT). */
long dh_manifest_select(const struct dh_manifest *m, const struct dh_platform *want,
                        struct dh_error **err);

/* Converts a Docker v2 schema 2 manifest to an OCI image manifest, as skopeo does
   when it writes Docker images into an OCI layout (umoci and skopeo's oci: transport
   accept only OCI manifests there): the media types of the manifest, the config
   (application/vnd.docker.container.image.v1+json -> ...oci.image.config.v1+json,
   the config blob itself is kept) and the layers (tar.gzip -> ...layer.v1.tar+gzip,
   tar -> ...layer.v1.tar, foreign -> ...layer.nondistributable.v1.tar+gzip) are
   rewritten; every other field is kept.  The result is new bytes with a new digest
   (blob digests are unchanged).  Appends the JSON to out.  Input that is not a valid
   Docker v2 manifest, or a layer of another media type, fails with EINVAL. */
int dh_manifest_docker_to_oci(const void *data, size_t len, struct dh_buf *out,
                              struct dh_error **err);

/* The "sha256:<hex>" digest of data.  New string. */
char *dh_digest_sha256(const void *data, size_t len);
/* Checks fetched bytes: their sha256 must equal `asked` (when not NULL: the digest
   the reference or parent descriptor named) and `header` (when not NULL: the
   Docker-Content-Digest header).  A digest of another algorithm cannot be checked
   (ENOTSUP, named).  On success *ret_digest (when not NULL) is the computed digest.
   Errors: EBADMSG "digest mismatch: expected X, got Y" (header: "registry sent
   Docker-Content-Digest X for content with digest Y"). */
int dh_digest_check(const void *data, size_t len, const char *asked, const char *header,
                    char **ret_digest, struct dh_error **err);

#endif
