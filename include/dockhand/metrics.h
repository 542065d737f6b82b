/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny HTTP/1.1 server for the agent's /metrics and /healthz (docs/agent.md).
 *
 * Poll-based, single-threaded, driven by the caller's poll loop: at most
 * DH_METRICS_MAX_CONNS connections, requests capped at DH_METRICS_MAX_REQUEST
 * bytes (431 past it), a connection idle for DH_METRICS_IDLE_MS is closed, one
 * request per connection (Connection: close).  GET and HEAD only (405 otherwise).
 */
#ifndef DOCKHAND_METRICS_H
#define DOCKHAND_METRICS_H

#include <poll.h>
#include <stddef.h>

#include "dockhand/buf.h"
#include "dockhand/error.h"

#define DH_METRICS_MAX_CONNS   16
#define DH_METRICS_MAX_REQUEST 8192
#define DH_METRICS_IDLE_MS     5000
#define DH_METRICS_POLLFDS     (DH_METRICS_MAX_CONNS + 1)

/* Fills body for path (no query) and returns the HTTP status (404 for an unknown
   path); *ctype is a static content type. */
typedef int (*dh_metrics_render_cb)(void *arg, const char *path, struct dh_buf *body,
                                    const char **ctype);

struct dh_metrics_server;

/* Listens on address: "host:port", "[v6]:port" or ":port" (all interfaces);
   numeric hosts only ("localhost" too).  Port 0 picks a free one. */
int dh_metrics_listen(const char *address, dh_metrics_render_cb render, void *arg,
                      struct dh_metrics_server **ret, struct dh_error **err);
void dh_metrics_close(struct dh_metrics_server *s);
/* The bound address ("127.0.0.1:9747"), borrowed. */
const char *dh_metrics_bound(const struct dh_metrics_server *s);
/* Fills up to DH_METRICS_POLLFDS entries; returns how many. */
size_t dh_metrics_pollfds(struct dh_metrics_server *s, struct pollfd *fds);
/* After poll(): accepts, reads, answers, and closes idle connections.  Returns the
   milliseconds until the next idle deadline (or -1: none). */
int dh_metrics_handle(struct dh_metrics_server *s, const struct pollfd *fds, size_t n);

#endif
