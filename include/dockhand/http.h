/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP client: the only module that talks to libcurl.
 *
 * libcurl is loaded with dlopen("libcurl.so.4") at the first request, so
 * programs that never make a request (the helper answering from a local store)
 * never load it or its ~35 dependent libraries.  A machine without libcurl gets
 * a clear error at that point.
 *
 * Security defaults:
 *  - https only; plain http only with allow_http (an explicitly insecure registry,
 *    a loopback test server, the metadata endpoints);
 *  - redirects are never followed: a 3xx is returned to the caller, who decides
 *    (credentials must not follow a redirect to another host);
 *  - total and connect time-outs always set, plus a low-speed limit;
 *  - the response body is capped (max_body), and the transfer aborted past it;
 *  - header values and bodies may hold secrets: the module copies nothing into
 *    logs; the debug log (DOCKHAND_LOG_LEVEL=debug) shows method, URL without
 *    query, status and timings only.
 */
#ifndef DOCKHAND_HTTP_H
#define DOCKHAND_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "dockhand/buf.h"
#include "dockhand/error.h"

#define DH_HTTP_DEFAULT_TIMEOUT_MS         30000
#define DH_HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define DH_HTTP_DEFAULT_MAX_BODY           ((size_t)16 << 20)

/* Called with each chunk of the response body when set (the body is then not
   buffered).  Return 0 to go on, -1 (with *err set) to abort the transfer. */
typedef int (*dh_http_body_cb)(void *arg, const char *data, size_t len, struct dh_error **err);

struct dh_http_request {
    const char *method;         /* NULL = "GET" */
    const char *url;            /* required */
    const char *const *headers; /* NULL-terminated "Name: value" strings, or NULL */
    const void *body;           /* request body, or NULL */
    size_t body_len;
    long timeout_ms;             /* 0 = DH_HTTP_DEFAULT_TIMEOUT_MS (whole transfer) */
    long connect_timeout_ms;     /* 0 = DH_HTTP_DEFAULT_CONNECT_TIMEOUT_MS */
    size_t max_body;             /* 0 = DH_HTTP_DEFAULT_MAX_BODY */
    bool allow_http;             /* permit http:// URLs */
    bool insecure_skip_verify;   /* do not verify the server certificate (explicit opt-in) */
    const char *ca_file;         /* PEM bundle path replacing the system CAs, or NULL */
    const char *ca_pem;          /* PEM bundle in memory (NUL-terminated), or NULL */
    const char *client_cert_pem; /* client certificate, PEM in memory, or NULL */
    const char *client_key_pem;  /* its private key, PEM in memory (a secret), or NULL */
    const char *unix_socket;     /* connect to this unix socket instead of TCP, or NULL */
    dh_http_body_cb on_body;     /* stream the body instead of buffering it */
    void *on_body_arg;
    /* Fields below were added after the first version of this header (append only). */
    /* The response body is a secret (a token): resp->body is then a secret dh_buf, wiped
       when released.  Default false. */
    bool secret_body;
    /* Ignore http_proxy/https_proxy/all_proxy from the environment: for metadata
       endpoints, whose answers are credentials a proxy must not see.  Default false. */
    bool no_proxy;
};

struct dh_http_header {
    char *name;  /* as received */
    char *value; /* leading/trailing white space trimmed */
};

struct dh_http_response {
    long status;                    /* HTTP status code */
    struct dh_buf body;             /* the body (unless on_body was set), NUL-terminated */
    struct dh_http_header *headers; /* headers of the final response, in order */
    size_t n_headers;
};

/* Performs the request.  A response with any status (4xx, 5xx, 3xx) is a success
   here: check resp->status.  Errors are transport failures (DNS, connect, TLS,
   time-out, body too large, libcurl missing), with the host named.  *resp must
   be released with dh_http_response_release() after success and after failure;
   dh_http_do() initialises it first (do not pass one still holding a response).
   After a failure it holds nothing (no partial body or headers).

   Error status (errno-style) by kind, for callers that retry: EINVAL a bad
   request struct or URL, EPERM plain http without allow_http, EPROTONOSUPPORT
   another URL scheme, ENOENT libcurl missing or unusable, ENOTSUP a feature the
   loaded libcurl lacks, EHOSTUNREACH name resolution, ECONNREFUSED
   connect, ETIMEDOUT a time-out or stalled transfer, EPROTO TLS, ECONNRESET
   connection lost mid-way, E2BIG body or headers too large, EIO anything else;
   an error returned by on_body is passed through as it is.

   Details:
    - method is one of GET HEAD POST PUT PATCH DELETE (else EINVAL).  POST, PUT
      and PATCH always send a body (empty when body is NULL) with Content-Length;
      GET and DELETE send one only when body is set.  No Content-Type is added:
      pass one in headers.  Bodies over 1 MiB are sent after "Expect:
      100-continue" (pass "Expect:" to turn that off).
    - headers are "Name: value" on one line (CR/LF rejected); curl's forms
      "Name:" (remove a header curl adds, e.g. "Accept:") and "Name;" (send it
      empty) work.  The User-Agent is dockhand/<version>; no Accept-Encoding is
      sent (bodies arrive as the server stores them).
    - max_body also caps a body streamed to on_body; set it as large as the
      caller accepts (a blob download).  Response headers are capped at 256 KiB.
    - a transfer slower than 1 byte/s for 30 s is aborted (ETIMEDOUT), besides
      timeout_ms: a long watch needs a server that sends something (bookmarks).
    - ca_file and ca_pem are exclusive and replace the system CAs.
    - proxies: the usual environment variables apply unless no_proxy is set;
      a unix_socket request never uses a proxy.
    - errors and the debug log name scheme, host[:port] and path only: never the
      query, userinfo, header values or bodies.
    - thread-safe: one connection-reusing handle is shared, and a call made while
      it is busy (another thread, or from inside on_body) gets its own handle. */
int dh_http_do(const struct dh_http_request *req, struct dh_http_response *resp,
               struct dh_error **err);
void dh_http_response_release(struct dh_http_response *resp);
/* Case-insensitive look-up of the first header with this name; borrowed, or NULL. */
const char *dh_http_header(const struct dh_http_response *resp, const char *name);
/* True when libcurl has been loaded in this process (tests check `get` never loads it). */
bool dh_http_loaded(void);

#endif
