/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dockhand configuration file, $XDG_CONFIG_HOME/dockhand/config.yaml
 * (schema and lookup order in docs/config.md).
 *
 * The file is optional.  It is validated against a table-driven schema in
 * src/config.c: an unknown key, a value of the wrong type, a relative path or
 * malformed YAML is an error that names the file and the line, e.g.
 *   config.yaml:12: unknown key 'foo' in 'file'
 *   config.yaml:3: 'namespace' must be a string
 * A key whose value is null (`key:` or `key: ~`) keeps its default.
 *
 * This module does not read the DOCKHAND_* environment overrides; callers
 * apply them on top of the loaded configuration (see docs/config.md).
 */
#ifndef DOCKHAND_CONFIG_H
#define DOCKHAND_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dockhand/error.h"
#include "dockhand/log.h"

/* Files larger than this are rejected. */
#define DH_CONFIG_MAX_SIZE (1024 * 1024)

#define DH_CONFIG_DEFAULT_STORE     "file"
#define DH_CONFIG_DEFAULT_NAMESPACE "default"

/* One `routes:` entry: registries matching `registry` use this store and namespace. */
struct dh_route {
    char *registry;  /* kubelet-style pattern: host labels may be globs ("*.corp.example"),
                        optional ":port" and "/path" prefix */
    char *store;     /* store spec, or NULL for the default store */
    char *namespace; /* namespace, or NULL for the default namespace */
    size_t line;     /* line of the entry in the config file */
};

/* One `ecr:` entry: how to get ECR tokens for registries matching `registry`. */
struct dh_ecr_setting {
    char *registry; /* kubelet-style pattern */
    char *account;  /* the ECR account of a host that is not an ECR name (a mirror, a proxy) */
    char *region;   /* its region (required with account) */
    char *profile;  /* AWS profile for the credentials, or NULL (AWS_PROFILE / default) */
    char *role_arn; /* role to assume with them, or NULL */
    size_t line;
};

struct dh_config {
    char *path;         /* the file that was read; NULL when no file exists */
    char *store;        /* `store:` default store spec, e.g. "file"; default "file" */
    char *namespace;    /* `namespace:`; default "default" */
    bool log_level_set; /* `log.level:` error|warn|info|debug */
    enum dh_log_level log_level;
    bool log_format_set; /* `log.format:` text|json */
    enum dh_log_format log_format;
    char *file_dir;          /* `file.dir:` directory of the file store; NULL = default */
    char *file_key_file;     /* `file.key_file:` path of the 32-byte key file; NULL = default */
    struct dh_route *routes; /* `routes:` in file order; the first match wins */
    size_t n_routes;
    struct dh_ecr_setting *ecr; /* `ecr:` in file order; the first match wins */
    size_t n_ecr;
    char **gcr_registries; /* `gcr.registries:` more hosts that take Google tokens */
    size_t n_gcr_registries;
    char *gcr_key_file; /* `gcr.key_file:` a Google credentials file, else ADC */
    /* `kubelet:` settings of `dockhand kubelet-provider` (docs/kubelet-provider.md) */
    uint64_t kubelet_cache_duration_ms; /* cacheDuration for stored credentials;
                                           DH_CONFIG_UNSET: leave it out */
    char *kubelet_ecr_role_arn;         /* role for service-account tokens (KEP-4412) */
    char *kubelet_gcp_audience;         /* workload identity pool provider */
    char *kubelet_gcp_service_account;  /* account to impersonate, or NULL */
    char *kubelet_gcp_sts_url;          /* NULL: https://sts.googleapis.com/v1/token */
    char *kubelet_gcp_iam_url;          /* NULL: https://iamcredentials.googleapis.com */
};

#define DH_CONFIG_UNSET UINT64_MAX

/* Loads $DOCKHAND_CONFIG if set and non-empty (then the file must exist), else
   $XDG_CONFIG_HOME/dockhand/config.yaml (dh_xdg_dir(DH_XDG_CONFIG)); a missing
   default file is not an error and yields the defaults with path NULL.
   On success *ret is new; the caller frees it with dh_config_free(). */
int dh_config_load(struct dh_config **ret, struct dh_error **err);
/* Loads the file at path (named as given in messages).  When it does not exist:
   an ENOENT error if must_exist, else the defaults with path NULL. */
int dh_config_load_file(const char *path, bool must_exist, struct dh_config **ret,
                        struct dh_error **err);
/* Parses data[0..len) (at most DH_CONFIG_MAX_SIZE bytes).  filename is used in
   messages and copied to ret->path (NULL: messages say "<input>", path NULL).
   Empty input or only comments gives the defaults. */
int dh_config_parse(const char *data, size_t len, const char *filename, struct dh_config **ret,
                    struct dh_error **err);
/* NULL allowed. */
void dh_config_free(struct dh_config *c);
static inline void dh_config_freep(struct dh_config **c)
{
    dh_config_free(*c);
}
#define _cleanup_config_ __attribute__((cleanup(dh_config_freep)))

#endif
