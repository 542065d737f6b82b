/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kubelet credential provider plugin (`dockhand kubelet-provider`): the
 * CredentialProviderRequest the kubelet writes on stdin, and the
 * CredentialProviderResponse it reads from stdout (credentialprovider.kubelet.k8s.io
 * v1, v1beta1 and v1alpha1).  Rules and decisions: docs/kubelet-provider.md.
 *
 * The request is decoded as strictly as the kubelet's own codec decodes: a JSON
 * object, no duplicate or unknown fields, the kind and a known apiVersion, a
 * non-empty image; serviceAccountToken and serviceAccountAnnotations (KEP-4412)
 * exist in v1 only.  The response is written byte for byte in the order and with
 * the field names of the kubelet's types, so its strict decoder accepts it.
 */
#ifndef DOCKHAND_KUBELET_H
#define DOCKHAND_KUBELET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dockhand/buf.h"
#include "dockhand/config.h"
#include "dockhand/error.h"

#define DH_KUBELET_GROUP         "credentialprovider.kubelet.k8s.io"
#define DH_KUBELET_API_V1        DH_KUBELET_GROUP "/v1"
#define DH_KUBELET_API_V1BETA1   DH_KUBELET_GROUP "/v1beta1"
#define DH_KUBELET_API_V1ALPHA1  DH_KUBELET_GROUP "/v1alpha1"
#define DH_KUBELET_REQUEST_MAX   ((size_t)1 << 20) /* stdin cap */
#define DH_KUBELET_IMAGE_MAX     4096
#define DH_KUBELET_ECR_ROLE_ANNO "eks.amazonaws.com/ecr-role-arn"
#define DH_KUBELET_GCP_SA_ANNO   "iam.gke.io/gcp-service-account"

struct dh_kubelet_annotation {
    char *key;
    char *value;
};

struct dh_kubelet_request {
    char *api_version; /* one of the three DH_KUBELET_API_* */
    char *image;       /* as sent, e.g. "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1" */
    char *sa_token;    /* serviceAccountToken (a secret, wiped on free), or NULL */
    struct dh_kubelet_annotation *annotations; /* serviceAccountAnnotations, in input order */
    size_t n_annotations;
};

/* Decodes a request (len bytes at data, need not be NUL-terminated).  Errors are
   EINVAL (E2BIG past DH_KUBELET_REQUEST_MAX) with one line naming the problem and
   never a value of the token.  Free *ret with dh_kubelet_request_free. */
int dh_kubelet_request_parse(const char *data, size_t len, struct dh_kubelet_request **ret,
                             struct dh_error **err);
void dh_kubelet_request_free(struct dh_kubelet_request *r);
static inline void dh_kubelet_request_freep(struct dh_kubelet_request **r)
{
    dh_kubelet_request_free(*r);
}
#define _cleanup_kubelet_request_ __attribute__((cleanup(dh_kubelet_request_freep)))

/* The value of a serviceAccountAnnotations key, or NULL (borrowed). */
const char *dh_kubelet_request_annotation(const struct dh_kubelet_request *r, const char *key);

/* The registry host[:port] of an image, as the kubelet computes the Registry cache key
   (the text before the first '/'), except that an image without a registry component
   (no '/', or a first component with no '.' or ':' that is not "localhost") is
   Docker Hub's, "docker.io", as docker and the kubelet's normalisation read it.  The
   host is checked ([A-Za-z0-9.-] labels or a [IPv6] literal, optional numeric port).
   *ret is new. */
int dh_kubelet_image_registry(const char *image, char **ret, struct dh_error **err);

struct dh_kubelet_response {
    const char *api_version; /* echoed from the request */
    bool has_cache_duration; /* false: no cacheDuration (the kubelet's defaultCacheDuration) */
    int64_t cache_duration_ms;
    const char *auth_key; /* NULL: "auth": {} (no credentials) */
    const char *username;
    const char *password; /* a secret */
};

/* Appends the response JSON and a newline to out (make it a secret buffer):
   {"kind":"CredentialProviderResponse","apiVersion":...,"cacheKeyType":"Registry",
    ["cacheDuration":"<Go duration>",]"auth":{[key:{"username":...,"password":...}]}} */
int dh_kubelet_response_encode(const struct dh_kubelet_response *resp, struct dh_buf *out,
                               struct dh_error **err);

/* Go's time.Duration.String() of ns nanoseconds ("5h59m0s", "1m30s", "500ms", "1.5µs",
   "0s", "-2s") into buf (at least 32 bytes).  Returns buf. */
char *dh_go_duration(int64_t ns, char *buf, size_t size);

/* cacheDuration in seconds for a token expiring at expires_at: half of the remaining
   life minus the expiry margin (dh_token_margin), never below 0. */
int64_t dh_kubelet_cache_seconds(int64_t expires_at, int64_t now);

/* Answers one request: resolves the image's registry as the helper's `get` does (stores,
   routes, minted ECR/GCR tokens), or exchanges the service-account token (KEP-4412) for
   ECR and GCR/Artifact Registry images; appends the response to out.  No credentials is a
   response with an empty auth map, not an error. */
int dh_kubelet_provide(const struct dh_config *cfg, const struct dh_kubelet_request *req,
                       struct dh_buf *out, struct dh_error **err);

#endif
