/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/tokens.h"

#include <string.h>
#include <strings.h>

#include "dockhand/aws.h"
#include "dockhand/cleanup.h"
#include "dockhand/dockercfg.h"
#include "dockhand/ecr.h"
#include "dockhand/gcp.h"
#include "dockhand/mem.h"
#include "dockhand/regurl.h"
#include "dockhand/sigv4.h"
#include "dockhand/tokencache.h"

struct ecr_job {
    struct dh_ecr_registry reg;
    struct dh_aws_options opt;
};

static int ecr_mint(void *arg, struct dh_token **ret, struct dh_error **err)
{
    struct ecr_job *job = arg;
    struct dh_aws_creds *creds = NULL;
    int r;

    if (dh_aws_load_credentials(&job->opt, &creds, err) < 0)
        return dh_error_wrap(err, "cannot get an ECR token for account %s in %s",
                             job->reg.is_public ? "(public)" : job->reg.account, job->reg.region);
    r = dh_ecr_get_token(&job->reg, creds, ret, err);
    dh_aws_creds_free(creds);
    return r;
}

static int gcp_mint(void *arg, struct dh_token **ret, struct dh_error **err)
{
    return dh_gcp_mint(arg, ret, err);
}

/* host[:port] of a parsed URL, as a new string. */
static char *host_port(const struct dh_regurl *u)
{
    return u->port ? dh_xasprintf("%s:%u", u->host, u->port) : dh_xstrdup(u->host);
}

static int lookup_ecr(const struct dh_config *cfg, const char *server_url, const char *key,
                      const char *host, struct dh_token **ret, struct dh_error **err)
{
    const struct dh_ecr_setting *set = NULL;
    struct ecr_job job;
    _cleanup_free_ char *identity = NULL, *full = NULL;
    struct dh_token_request req;
    size_t i;
    int r;

    for (i = 0; i < cfg->n_ecr; i++) {
        if (dh_kubelet_match_rank(cfg->ecr[i].registry, server_url, 0) >= 0) {
            set = &cfg->ecr[i];
            break;
        }
    }
    memset(&job, 0, sizeof(job));
    if (set && set->account)
        dh_ecr_registry_init(&job.reg, set->account, set->region);
    else if (dh_ecr_parse_host(host, &job.reg) < 0)
        return 0;
    job.opt.profile = set ? set->profile : NULL;
    job.opt.role_arn = set ? set->role_arn : NULL;
    job.opt.region = set && set->region ? set->region : job.reg.region;
    identity = dh_aws_identity(&job.opt);
    full = dh_xasprintf("%s|%s|%s", identity, job.reg.is_public ? "public" : job.reg.account,
                        job.reg.region ? job.reg.region : "");
    req = (struct dh_token_request){.provider = job.reg.is_public ? "ecr-public" : "ecr",
                                    .identity = full,
                                    .registry = key,
                                    .mint = ecr_mint,
                                    .mint_arg = &job};
    r = dh_token_cache_get(&req, ret, err);
    dh_ecr_registry_release(&job.reg);
    return r < 0 ? -1 : 1;
}

static bool gcr_host(const struct dh_config *cfg, const char *server_url, const char *host)
{
    size_t i;

    if (dh_gcp_is_registry_host(host))
        return true;
    for (i = 0; i < cfg->n_gcr_registries; i++)
        if (dh_kubelet_match_rank(cfg->gcr_registries[i], server_url, 0) >= 0)
            return true;
    return false;
}

int dh_tokens_lookup(const struct dh_config *cfg, const char *server_url, struct dh_token **ret,
                     struct dh_error **err)
{
    _cleanup_free_ char *key = NULL, *host = NULL;
    struct dh_regurl u;
    int r;

    if (dh_regurl_parse(server_url, &u, NULL) < 0)
        return 0;
    key = dh_regurl_key(&u);
    host = host_port(&u);
    dh_regurl_release(&u);

    r = lookup_ecr(cfg, server_url, key, host, ret, err);
    if (r != 0)
        return r;
    if (gcr_host(cfg, server_url, host)) {
        struct dh_gcp_source *src = NULL;
        struct dh_token_request req;

        if (dh_gcp_find_source(cfg->gcr_key_file, &src, err) < 0)
            return dh_error_wrap(err, "cannot get a Google token for '%s'", host);
        req = (struct dh_token_request){.provider = "gcr",
                                        .identity = dh_gcp_source_identity(src),
                                        .registry = key,
                                        .mint = gcp_mint,
                                        .mint_arg = src};
        r = dh_token_cache_get(&req, ret, err);
        dh_gcp_source_free(src);
        return r < 0 ? -1 : 1;
    }
    return 0;
}
