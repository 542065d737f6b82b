/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small Kubernetes API client: connection settings from kubeconfig or from the
 * in-cluster service account, JSON requests through http.h, and Kubernetes
 * `Status` objects turned into one-line errors.
 *
 * Connection (dh_kube_config_load), as client-go's default loading rules:
 *   1. $KUBECONFIG, a colon-separated list of files (missing files are skipped;
 *      the first file to set a map key wins: a cluster, user or context name,
 *      and current-context), else ~/.kube/config;
 *   2. when no such file exists and KUBERNETES_SERVICE_HOST and
 *      KUBERNETES_SERVICE_PORT are set: the in-cluster configuration
 *      (https://host:port, IPv6 bracketed; token, ca.crt and namespace from
 *      DH_KUBE_SA_DIR; the token is re-read when older than a minute and after
 *      a 401; the namespace is $POD_NAMESPACE, the namespace file, or "default").
 * Relative paths in a kubeconfig (certificate-authority, client-certificate,
 * client-key, tokenFile, and an exec command holding a '/') are resolved
 * against the directory of the file that defines them.  Supported: server,
 * certificate-authority(-data), insecure-skip-tls-verify, token, tokenFile,
 * client-certificate(-data), client-key(-data), username/password and exec
 * plugins (client.authentication.k8s.io/v1 and v1beta1).  tls-server-name,
 * proxy-url, auth-provider and impersonation (as, as-groups, ...) are refused
 * with an error naming the setting, rather than silently ignored.
 *
 * Exec plugins run with the kubeconfig's args and env added to ours,
 * KUBERNETES_EXEC_INFO set, stdin from /dev/null (dockhand is never
 * interactive) and stderr passed through.  The ExecCredential they print is
 * cached in the process until its expirationTimestamp, and the plugin is run
 * again once when the API server answers 401.
 *
 * Secrets (tokens, passwords, private keys, response bodies holding Secret
 * data) never reach an error message, a log line or a child's argv.
 */
#ifndef DOCKHAND_KUBE_H
#define DOCKHAND_KUBE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "dockhand/buf.h"
#include "dockhand/error.h"
#include "dockhand/mem.h"

#define DH_KUBE_SA_DIR             "/var/run/secrets/kubernetes.io/serviceaccount"
#define DH_KUBE_DEFAULT_TIMEOUT_MS 10000
#define DH_KUBE_MAX_TIMEOUT_MS     600000
#define DH_KUBE_TOKEN_MAX_AGE_S    60
#define DH_KUBE_EXEC_TIMEOUT_MS    60000
#define DH_KUBE_EXEC_MAX_OUTPUT    (1024 * 1024)

#define DH_KUBE_EXEC_V1      "client.authentication.k8s.io/v1"
#define DH_KUBE_EXEC_V1BETA1 "client.authentication.k8s.io/v1beta1"

/* Errors from dh_kube_request() carry these status codes, by HTTP status. */
#define DH_KUBE_E_UNAUTHORIZED EACCES    /* 401 */
#define DH_KUBE_E_FORBIDDEN    EPERM     /* 403 */
#define DH_KUBE_E_NOT_FOUND    ENOENT    /* 404 */
#define DH_KUBE_E_CONFLICT     EBUSY     /* 409 Conflict (resourceVersion mismatch) */
#define DH_KUBE_E_EXISTS       EEXIST    /* 409 AlreadyExists */
#define DH_KUBE_E_INVALID      EINVAL    /* 400, 415, 422 */
#define DH_KUBE_E_TIMEOUT      ETIMEDOUT /* 504, or a transport time-out */
#define DH_KUBE_E_GONE         ESTALE    /* 410 Gone (a watch's resourceVersion is too old) */

struct dh_kube_env {
    char *name;
    char *value;
};

/* users[].user.exec */
struct dh_kube_exec {
    char *api_version; /* DH_KUBE_EXEC_V1 or DH_KUBE_EXEC_V1BETA1 */
    char *command;     /* as given, or resolved against the kubeconfig's directory */
    char **args;       /* n_args strings */
    size_t n_args;
    struct dh_kube_env *env; /* n_env pairs */
    size_t n_env;
    char *interactive_mode; /* "Never", "IfAvailable", "Always", or NULL (v1beta1 only) */
    bool provide_cluster_info;
    char *install_hint; /* or NULL */
};

/* A resolved connection: one cluster and one user.  Free with dh_kube_config_free(). */
struct dh_kube_config {
    bool in_cluster;
    char *source;    /* for messages: "in-cluster" or the kubeconfig file(s) */
    char *context;   /* the context used; NULL in cluster */
    char *cluster;   /* cluster name for messages ("in-cluster" in cluster) */
    char *user;      /* user name, or NULL (anonymous / in-cluster) */
    char *server;    /* "https://host:port[/prefix]", no trailing '/' */
    char *namespace; /* the context's namespace (NULL when unset); in cluster: as above */
    bool insecure_skip_tls_verify;
    char *ca_file; /* PEM file path, or NULL */
    char *ca_pem;  /* decoded certificate-authority-data, or NULL (wins over ca_file) */
    char *client_cert_file;
    char *client_cert_pem; /* wins over client_cert_file */
    char *client_key_file;
    struct dh_secret *client_key_pem; /* wins over client_key_file */
    struct dh_secret *token;
    char *token_file; /* wins over token; re-read when older than DH_KUBE_TOKEN_MAX_AGE_S */
    char *username;
    struct dh_secret *password;
    struct dh_kube_exec *exec;
};

void dh_kube_config_free(struct dh_kube_config *c);
static inline void dh_kube_config_freep(struct dh_kube_config **c)
{
    dh_kube_config_free(*c);
}
#define _cleanup_kube_config_ __attribute__((cleanup(dh_kube_config_freep)))

/* The default loading rules above.  context selects a kubeconfig context instead of
   current-context (NULL: current-context; an error in cluster). *ret is new. */
int dh_kube_config_load(const char *context, struct dh_kube_config **ret, struct dh_error **err);
/* Merges the kubeconfig files paths[0..n) (missing ones skipped; ENOENT when none
   exists) and resolves context (NULL: the merged current-context). */
int dh_kube_config_from_files(const char *const *paths, size_t n, const char *context,
                              struct dh_kube_config **ret, struct dh_error **err);
/* Parses one kubeconfig held in memory; relative paths are resolved against dir
   (NULL: the current directory).  filename names it in messages. */
int dh_kube_config_parse(const char *data, size_t len, const char *filename, const char *dir,
                         const char *context, struct dh_kube_config **ret, struct dh_error **err);
/* The in-cluster configuration (ENXIO when KUBERNETES_SERVICE_HOST/PORT are not set). */
int dh_kube_config_in_cluster(struct dh_kube_config **ret, struct dh_error **err);
/* "https://" + host + ":" + port, with an IPv6 address in brackets.  New string. */
char *dh_kube_server_url(const char *host, const char *port);

/* An ExecCredential's status.  Free with dh_kube_exec_cred_free(). */
struct dh_kube_exec_cred {
    struct dh_secret *token; /* or NULL */
    char *client_cert_pem;   /* or NULL; set together with client_key_pem */
    struct dh_secret *client_key_pem;
    time_t expires; /* 0 = no expirationTimestamp */
};
void dh_kube_exec_cred_free(struct dh_kube_exec_cred *c);
static inline void dh_kube_exec_cred_freep(struct dh_kube_exec_cred **c)
{
    dh_kube_exec_cred_free(*c);
}
#define _cleanup_kube_exec_cred_ __attribute__((cleanup(dh_kube_exec_cred_freep)))

/* Parses a plugin's stdout: an ExecCredential of apiVersion api_version with a
   token or a client certificate and key.  Errors never quote the data. */
int dh_kube_exec_cred_parse(const char *data, size_t len, const char *api_version,
                            struct dh_kube_exec_cred **ret, struct dh_error **err);
/* Runs the exec plugin of cfg (cfg->exec must be set) and parses its output.  Does
   not use the cache.  timeout_ms 0 means DH_KUBE_EXEC_TIMEOUT_MS. */
int dh_kube_exec_run(const struct dh_kube_config *cfg, long timeout_ms,
                     struct dh_kube_exec_cred **ret, struct dh_error **err);
/* Drops every cached ExecCredential of this process. */
void dh_kube_exec_cache_clear(void);

/* RFC 3339 date-time ("2024-05-01T10:00:00Z", fraction and offset allowed) to
   seconds since the epoch.  Returns 0, or -1 when malformed. */
int dh_kube_parse_time(const char *s, time_t *ret);

/* Builds the error for an unsuccessful response: status from the HTTP code (see
   DH_KUBE_E_*), message from the Status object in body when there is one:
     401 "unauthorized: check the credentials for cluster '<cluster>'"
     403 "forbidden: <Status message>"
     404 "not found: <Status message>"      409 "conflict: <Status message>"
     other "<cluster>: HTTP <code> <reason>: <Status message>"
   The Status message is cut to a sane length, control characters are replaced,
   and redact (when not NULL or empty) is replaced by "<redacted>".  Returns -1. */
int dh_kube_status_error(long http_status, const char *body, size_t len, const char *cluster,
                         const char *redact, struct dh_error **err);

struct dh_kube_client;

/* Takes ownership of cfg (also on failure).  timeout_ms bounds each request
   (0 = DH_KUBE_DEFAULT_TIMEOUT_MS). */
int dh_kube_client_new(struct dh_kube_config *cfg, long timeout_ms, struct dh_kube_client **ret,
                       struct dh_error **err);
/* dh_kube_config_load(context) then dh_kube_client_new(). */
int dh_kube_client_open(const char *context, long timeout_ms, struct dh_kube_client **ret,
                        struct dh_error **err);
void dh_kube_client_free(struct dh_kube_client *c);
static inline void dh_kube_client_freep(struct dh_kube_client **c)
{
    dh_kube_client_free(*c);
}
#define _cleanup_kube_client_ __attribute__((cleanup(dh_kube_client_freep)))
/* Borrowed, valid until the client is freed. */
const struct dh_kube_config *dh_kube_client_config(const struct dh_kube_client *c);
/* The number of HTTP requests this client has sent (retries included). */
unsigned long dh_kube_client_requests(const struct dh_kube_client *c);

/*
 * One API request.  path starts with '/' and may carry a query (escape values with
 * dh_kube_query_escape).  body (may be NULL) is sent as JSON with content_type
 * (NULL: "application/json").  On a 2xx answer returns 0 and sets *ret_body to the
 * decoded JSON (NULL for an empty body; ret_body may be NULL).  Otherwise returns -1
 * with an error from dh_kube_status_error() or the transport.  *ret_http_status (may
 * be NULL) is the HTTP status, 0 when there was no answer.  A 401 triggers one retry
 * with fresh credentials (exec plugin re-run, token file re-read).
 */
int dh_kube_request(struct dh_kube_client *c, const char *method, const char *path,
                    const char *content_type, const json_t *body, json_t **ret_body,
                    long *ret_http_status, struct dh_error **err);
int dh_kube_get(struct dh_kube_client *c, const char *path, json_t **ret, struct dh_error **err);
int dh_kube_post(struct dh_kube_client *c, const char *path, const json_t *body, json_t **ret,
                 struct dh_error **err);
int dh_kube_put(struct dh_kube_client *c, const char *path, const json_t *body, json_t **ret,
                struct dh_error **err);
/* PATCH with a patch content type (application/merge-patch+json, ...). */
int dh_kube_patch(struct dh_kube_client *c, const char *path, const char *content_type,
                  const json_t *body, json_t **ret, struct dh_error **err);
/* Server-side apply: PATCH path?fieldManager=<field_manager>&force=true with
   Content-Type application/apply-patch+yaml and a JSON body. */
int dh_kube_apply(struct dh_kube_client *c, const char *path, const char *field_manager,
                  const json_t *body, json_t **ret, struct dh_error **err);
/* DELETE; body (DeleteOptions, e.g. with preconditions) may be NULL. */
int dh_kube_delete(struct dh_kube_client *c, const char *path, const json_t *body, json_t **ret,
                   struct dh_error **err);

/* Lists a collection, following `continue` until the last page: GET
   path?limit=<limit>[&continue=...] (path may carry a query already, e.g. a
   labelSelector).  *ret_items is a new array holding every page's items;
   *ret_rv (may be NULL) the list's metadata.resourceVersion (new string, ""
   when absent), to start a watch from.  At most 100000 pages. */
int dh_kube_list(struct dh_kube_client *c, const char *path, size_t limit, json_t **ret_items,
                 char **ret_rv, struct dh_error **err);

/* Watches: a stream of JSON objects, one per line, {"type": T, "object": O}. */
enum dh_kube_event_type {
    DH_KUBE_ADDED,
    DH_KUBE_MODIFIED,
    DH_KUBE_DELETED,
    DH_KUBE_BOOKMARK,
};

/* Parses one line of a watch stream (without its newline).  Returns 0 with
   *ret_type and *ret_object (a new reference to the event's object, always a JSON
   object), 1 for a blank line, and -1 for a malformed line (EPROTO) or an ERROR
   event, whose Status becomes the error as dh_kube_status_error() makes it from
   its code (410 "too old resource version" -> DH_KUBE_E_GONE). */
int dh_kube_watch_event_parse(const char *line, size_t len, enum dh_kube_event_type *ret_type,
                              json_t **ret_object, struct dh_error **err);

/* Splits a byte stream into lines of at most max bytes (DH_KUBE_LINE_MAX when 0).
   Feed chunks with dh_kube_lines_feed(); each complete line (without '\n' or a
   final '\r') is passed to cb; a callback's -1 stops the feed and is returned.
   Whatever is left at the end of the stream is passed by dh_kube_lines_finish(). */
#define DH_KUBE_LINE_MAX ((size_t)16 << 20)
typedef int (*dh_kube_line_cb)(void *arg, const char *line, size_t len, struct dh_error **err);
struct dh_kube_lines {
    struct dh_buf partial;
    size_t max;
};
void dh_kube_lines_init(struct dh_kube_lines *l, size_t max);
void dh_kube_lines_release(struct dh_kube_lines *l);
int dh_kube_lines_feed(struct dh_kube_lines *l, const char *data, size_t len, dh_kube_line_cb cb,
                       void *arg, struct dh_error **err);
int dh_kube_lines_finish(struct dh_kube_lines *l, dh_kube_line_cb cb, void *arg,
                         struct dh_error **err);

/* Called for each event of a watch; object is borrowed.  Return -1 (with *err) to
   stop the watch: dh_kube_watch() then returns that error. */
typedef int (*dh_kube_watch_cb)(void *arg, enum dh_kube_event_type type, json_t *object,
                                struct dh_error **err);
/* Streams GET path (which must carry watch=1 and its options, e.g.
   resourceVersion, allowWatchBookmarks=true, timeoutSeconds) through http.h's
   on_body, line by line, and calls cb for each event as it arrives.  timeout_ms
   bounds the whole request (set it above the timeoutSeconds asked of the server).
   Returns 0 when the server ended the stream; -1 on an ERROR event (410 ->
   DH_KUBE_E_GONE), a non-2xx answer (dh_kube_status_error()), a transport error
   (a stream silent for 30 s ends with DH_KUBE_E_TIMEOUT: servers send bookmarks,
   so the caller may simply watch again from its last resourceVersion), or the
   callback's error.  A 401 is retried once with fresh credentials, as
   dh_kube_request() does. */
int dh_kube_watch(struct dh_kube_client *c, const char *path, long timeout_ms, dh_kube_watch_cb cb,
                  void *arg, struct dh_error **err);

/* Percent-encodes s for a query value (everything but unreserved characters).  New string. */
char *dh_kube_query_escape(const char *s);
/* DNS-1123 label (namespaces): 1-63 of [a-z0-9-], alphanumeric at both ends. */
bool dh_kube_label_valid(const char *s);
/* DNS-1123 subdomain (Secret names): 1-253, dot-separated labels of [a-z0-9-]. */
bool dh_kube_subdomain_valid(const char *s);
/* A deterministic DNS-1123 subdomain of at most 63 characters for the registry with
   canonical key (dh_regurl_key) key: prefix + host [+ "-" + port], plus "-" and a
   hash of the key when the host had to be changed (IPv6), when the key has a path
   or is http, or when the name had to be cut.  prefix is e.g. "dockhand-".  New string. */
char *dh_kube_registry_secret_name(const char *prefix, const char *key);

#endif
