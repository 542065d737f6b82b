/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC unary calls over HTTP/2 (grpc/grpc doc/PROTOCOL-HTTP2.md), carried by
 * src/http.c (libcurl, h2c with prior knowledge, usually over a unix socket).
 *
 * A call is one HTTP/2 POST to /package.Service/Method with
 * "content-type: application/grpc", "te: trailers" and "grpc-timeout"; the
 * body is one length-prefixed message (flag byte 0 = uncompressed, then the
 * length as 4 big-endian bytes).  The reply is read whole (capped), must hold
 * exactly one uncompressed message when the status is OK, and the status comes
 * from the grpc-status / grpc-message trailers (or the headers of a
 * Trailers-Only reply).  Without grpc-status the HTTP status is mapped as the
 * spec says (404 → UNIMPLEMENTED, 503 → UNAVAILABLE, ...).
 */
#ifndef DOCKHAND_GRPC_H
#define DOCKHAND_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dockhand/buf.h"
#include "dockhand/error.h"

enum dh_grpc_code {
    DH_GRPC_OK = 0,
    DH_GRPC_CANCELLED = 1,
    DH_GRPC_UNKNOWN = 2,
    DH_GRPC_INVALID_ARGUMENT = 3,
    DH_GRPC_DEADLINE_EXCEEDED = 4,
    DH_GRPC_NOT_FOUND = 5,
    DH_GRPC_ALREADY_EXISTS = 6,
    DH_GRPC_PERMISSION_DENIED = 7,
    DH_GRPC_RESOURCE_EXHAUSTED = 8,
    DH_GRPC_FAILED_PRECONDITION = 9,
    DH_GRPC_ABORTED = 10,
    DH_GRPC_OUT_OF_RANGE = 11,
    DH_GRPC_UNIMPLEMENTED = 12,
    DH_GRPC_INTERNAL = 13,
    DH_GRPC_UNAVAILABLE = 14,
    DH_GRPC_DATA_LOSS = 15,
    DH_GRPC_UNAUTHENTICATED = 16,
};

#define DH_GRPC_FRAME_HEADER    5
#define DH_GRPC_DEFAULT_MAX_MSG ((size_t)16 << 20)

/* The code's name as grpc-go prints it ("NotFound", "Unavailable", ...; crictl's
   "rpc error: code = NotFound desc = ..."), "Code(N)" for one outside 0..16. */
const char *dh_grpc_code_name(int code);
/* An errno-style status for a code, for dh_error: NOT_FOUND ENOENT, DEADLINE_EXCEEDED
   ETIMEDOUT, UNAVAILABLE ECONNREFUSED, UNAUTHENTICATED/PERMISSION_DENIED EACCES,
   UNIMPLEMENTED ENOSYS, INVALID_ARGUMENT EINVAL, RESOURCE_EXHAUSTED EAGAIN, else EIO. */
int dh_grpc_code_errno(int code);
/* The code for an HTTP status of a reply without grpc-status (the spec's table). */
int dh_grpc_code_from_http(long http_status);

/* Appends the 5-byte prefix and msg to out (0, or -1 E2BIG / EINVAL past 4 GiB). */
int dh_grpc_frame_encode(const void *msg, size_t len, struct dh_buf *out, struct dh_error **err);
/* The single uncompressed message of a unary reply body: *ret_msg points into data.
   EPROTO when the body is truncated, compressed, holds no message or more than one. */
int dh_grpc_frame_decode(const void *data, size_t len, const uint8_t **ret_msg, size_t *ret_len,
                         struct dh_error **err);
/* grpc-status value: decimal digits only, 0..2^31-1; -1 when invalid. */
int dh_grpc_parse_status(const char *s);
/* grpc-message percent-decoding (%XX; a malformed escape is kept as it is, as grpc-go
   does).  New string. */
char *dh_grpc_percent_decode(const char *s);

struct dh_grpc_call {
    const char *unix_socket; /* the server's socket (required) */
    const char *authority;   /* :authority; NULL = "localhost" */
    const char *method;      /* "/runtime.v1.ImageService/PullImage" */
    const void *request;     /* the encoded request message */
    size_t request_len;
    bool request_secret; /* the request holds credentials: its frame is wiped */
    long timeout_ms;     /* whole call, also sent as grpc-timeout; 0 = 30 s */
    size_t max_reply;    /* 0 = DH_GRPC_DEFAULT_MAX_MSG */
};

/* Performs a unary call.  On OK, *ret_msg (initialised here, capped at max_reply) holds
   the reply message, and 0 is returned.  Otherwise -1 with *err "METHOD: rpc error:
   code = NAME desc = MESSAGE" (status from dh_grpc_code_errno) for a gRPC status, or
   the transport error of dh_http_do wrapped with the method; *ret_code (may be NULL)
   gets the gRPC code, or -1 when no status was received (transport failure). */
int dh_grpc_unary(const struct dh_grpc_call *call, struct dh_buf *ret_msg, int *ret_code,
                  struct dh_error **err);

#endif
