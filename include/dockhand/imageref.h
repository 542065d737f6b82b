/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image references ("busybox", "ghcr.io/o/r:1.2@sha256:...") parsed as docker
 * does: distribution/reference ParseNormalizedNamed followed by TagNameOnly.
 *
 * Grammar (distribution/reference regexp.go):
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path
 *   domain     := host [ ":" port ]      port := [0-9]+
 *   host       := dcomp ( "." dcomp )* | "[" [a-fA-F0-9:]+ "]"
 *   dcomp      := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
 *   path       := pcomp ( "/" pcomp )*
 *   pcomp      := [a-z0-9]+ ( sep [a-z0-9]+ )*     sep := "." | "_" | "__" | "-"+
 *   tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *   digest     := algo ":" hex   (sha256: 64, sha384: 96, sha512: 128 lowercase hex)
 * The name (domain included, after normalisation) is at most 255 characters.
 *
 * Normalisation (normalize.go splitDockerDomain): a single component is a Docker
 * Hub official image ("busybox" -> docker.io/library/busybox); otherwise the
 * first component is the domain when it is "localhost", contains '.' or ':', or
 * has an uppercase letter; "index.docker.io" becomes "docker.io"; a one-component
 * path on docker.io gets "library/".  A reference without tag and digest gets
 * the tag "latest"; one with a digest keeps its tag, if any, and the digest wins.
 *
 * Error messages are docker's: "invalid reference format", "invalid reference
 * format: repository name (library/Foo) must be lowercase", "repository name
 * must have at least one component", "repository name must not be more than 255
 * characters", "invalid checksum digest format", "invalid checksum digest
 * length", "unsupported digest algorithm", "invalid repository name (X), cannot
 * specify 64-byte hexadecimal strings" (the last one echoes the input, which is
 * 64 hex characters).  All fail with status EINVAL.
 */
#ifndef DOCKHAND_IMAGEREF_H
#define DOCKHAND_IMAGEREF_H

#include "dockhand/error.h"

#define DH_IMAGEREF_NAME_MAX 255
#define DH_IMAGEREF_TAG_MAX  128

struct dh_imageref {
    char *domain; /* "docker.io", "127.0.0.1:5000", "[::1]:5000"; "" when none (strict parse) */
    char *path;   /* "library/busybox" */
    char *tag;    /* "latest"; NULL when none */
    char *digest; /* "sha256:<hex>"; NULL when none */
};

/* docker's parsing: ParseNormalizedNamed + TagNameOnly.  *ref is initialised
   first and holds nothing after a failure.  A reference whose name cannot be
   split into a registry domain and a path (e.g. "a_b.c/x", which docker parses
   with an empty domain) is refused with "invalid reference format". */
int dh_imageref_parse(const char *s, struct dh_imageref *ref, struct dh_error **err);
/* distribution's reference.Parse: no normalisation, no default tag; domain is ""
   when the name has none. */
int dh_imageref_parse_strict(const char *s, struct dh_imageref *ref, struct dh_error **err);
void dh_imageref_release(struct dh_imageref *ref);

/* "domain/path" (strict: "path" when domain is ""). New string. */
char *dh_imageref_name(const struct dh_imageref *ref);
/* "domain/path[:tag][@digest]": "docker.io/library/busybox:latest". New string. */
char *dh_imageref_string(const struct dh_imageref *ref);
/* docker's familiar form: "busybox:latest", "dmcgowan/myapp@sha256:...". New string. */
char *dh_imageref_familiar(const struct dh_imageref *ref);
/* The host[:port] to contact: "registry-1.docker.io" for docker.io, else the domain. New. */
char *dh_imageref_registry(const struct dh_imageref *ref);
/* The token scope "repository:<path>:pull". New string. */
char *dh_imageref_scope(const struct dh_imageref *ref);
/* What to ask the registry for under /v2/<path>/manifests/: the digest when there is
   one, else the tag.  Borrowed. */
const char *dh_imageref_manifest_ref(const struct dh_imageref *ref);

/* go-digest validation of "algo:hex" (sha256/sha384/sha512, exact length, lowercase hex).
   Same messages as above.  Returns 0 or -1. */
int dh_digest_validate(const char *digest, struct dh_error **err);

#endif
