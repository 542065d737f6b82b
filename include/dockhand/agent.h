/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `dockhand agent`: the node pre-puller (docs/agent.md).
 *
 * It reads a YAML list of images, keeps each one present in the node's container
 * runtime through CRI (dockhand/cri.h), re-checks mutable tags with a manifest
 * HEAD (dockhand/registry.h), and serves /metrics and /healthz
 * (dockhand/metrics.h).  One pull or check runs in a forked child at a time per
 * concurrency slot, so a SIGTERM stops everything at once.
 */
#ifndef DOCKHAND_AGENT_H
#define DOCKHAND_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dockhand/error.h"

#define DH_AGENT_DEFAULT_CONFIG  "/etc/dockhand/agent.yaml"
#define DH_AGENT_DEFAULT_METRICS "127.0.0.1:9747"
#define DH_AGENT_STATE_FILE      "agent-state.json"
#define DH_AGENT_MAX_IMAGES      4096

struct dh_agent_image {
    char *ref;         /* as written in the list */
    char *canonical;   /* "host/path:tag[@digest]" (dh_imageref_string) */
    char *name;        /* "host/path" */
    char *registry;    /* host[:port] as in the reference ("docker.io" for Hub) */
    char *platform;    /* "os/arch[/variant]" or NULL */
    char *credentials; /* server key to resolve instead of the registry, "none", or NULL */
    bool by_digest;    /* a digest-pinned reference: never re-checked */
    size_t line;       /* line in the list file */
};

struct dh_agent_config {
    struct dh_agent_image *images;
    size_t n_images;
    /* settings; *_set tells whether the file gave them (flags override them) */
    unsigned concurrency;     /* parallel pulls per node (default 2) */
    uint64_t start_jitter_ms; /* random delay before the first pass (default 10 s, --once 0) */
    bool start_jitter_set;
    uint64_t recheck_ms;        /* tag re-check interval (default 15 min, +-10 % jitter) */
    uint64_t retry_base_ms;     /* first retry delay after a failure (default 5 s) */
    uint64_t retry_max_ms;      /* retry delay cap (default 5 min) */
    unsigned retries;           /* retries per image before it is failed (default 5) */
    uint64_t pull_timeout_ms;   /* one PullImage (default 30 min) */
    uint64_t reload_check_ms;   /* stat fallback of the reload (default 10 s) */
    char *metrics_address;      /* "host:port"; "" disables (default 127.0.0.1:9747) */
    char *runtime_endpoint;     /* NULL: flag, $CONTAINER_RUNTIME_ENDPOINT, crictl's defaults */
    char *state_dir;            /* NULL: /var/lib/dockhand (root) or $XDG_STATE_HOME/dockhand */
    bool remove;                /* remove images that left the list and dockhand pulled */
    char **insecure_registries; /* plain-http / unverified registries for the HEAD re-check */
    size_t n_insecure;
};

/* Parses the list file (YAML, see docs/agent.md).  Errors name "<file>:<line>: ". */
int dh_agent_config_parse(const char *data, size_t len, const char *filename,
                          struct dh_agent_config **ret, struct dh_error **err);
int dh_agent_config_load(const char *path, struct dh_agent_config **ret, struct dh_error **err);
void dh_agent_config_free(struct dh_agent_config *c);
static inline void dh_agent_config_freep(struct dh_agent_config **c)
{
    dh_agent_config_free(*c);
}
#define _cleanup_agent_config_ __attribute__((cleanup(dh_agent_config_freep)))

/* "linux/amd64[/v8]" of this machine (uname), new string. */
char *dh_agent_node_platform(void);
/* True when an image's platform ("linux/amd64", "linux/arm64/v8") is this node's. */
bool dh_agent_platform_matches(const char *want, const char *node);

/* Retry-After: delta seconds or an HTTP-date; milliseconds from now (>= 0), or -1
   when absent or malformed.  Capped at one hour. */
int64_t dh_agent_parse_retry_after(const char *value, int64_t now_unix);
/* Delay before retry number attempt (1-based): base * 2^(attempt-1), capped at max,
   then jittered by up to +-20 % with r in [0,1). */
uint64_t dh_agent_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t max_ms, double r);
/* True when a pull error reads as throttling or a registry-side failure (429,
   toomanyrequests, 5xx): the whole registry backs off. */
bool dh_agent_error_is_throttle(const char *msg);

/* ListContainersResponse: appends to *images (new strings) every Container.image.image
   (4.1) and Container.image_ref (5).  For the removal check. */
int dh_agent_decode_container_images(const void *data, size_t len, char ***images, size_t *n,
                                     struct dh_error **err);

struct dh_agent_options {
    const char *config_path;
    const char *runtime_endpoint; /* flag, or NULL */
    const char *metrics_address;  /* flag, or NULL */
    const char *state_dir;        /* flag, or NULL */
    unsigned concurrency;         /* flag, or 0 */
    bool once;
};

/* Runs the agent until SIGTERM/SIGINT (0), or with once until every image is present
   or failed (-1 naming each failed image). */
int dh_agent_run(const struct dh_agent_options *opts, struct dh_error **err);

/* `dockhand agent status`: one line per desired image (docs/agent.md). */
int dh_agent_status(const struct dh_agent_options *opts, bool json, struct dh_error **err);

/* The state file path for the options (new string). */
int dh_agent_state_path(const struct dh_agent_options *opts, const struct dh_agent_config *cfg,
                        char **ret, struct dh_error **err);

#endif
