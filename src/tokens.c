/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which registries take minted tokens, and how a minted token and a stored
 * credential are weighed (docs/tokens.md):
 *  - a registry the config names (`ecr:` with an account, `gcr.registries`) is
 *    always minted; a stored credential serves only when minting fails;
 *  - a registry recognised by its host name (ECR, ECR Public, GCR, Artifact
 *    Registry) uses a stored credential when there is one (the user put it there:
 *    a mounted pull secret, a `_json_key` login), unless it is an ECR token whose
 *    embedded expiry has passed; otherwise it is minted.
 */
#include "dockhand/tokens.h"

#include <string.h>
#include <time.h>

#include "dockhand/aws.h"
#include "dockhand/cleanup.h"
#include "dockhand/dockercfg.h"
#include "dockhand/ecr.h"
#include "dockhand/gcp.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"
#include "dockhand/regurl.h"
#include "dockhand/sigv4.h"
#include "dockhand/tokencache.h"

enum plan_kind { PLAN_NONE, PLAN_ECR, PLAN_GCR };

struct plan {
    enum plan_kind kind;
    bool explicit_; /* named by the config, not only recognised by its host */
    char *key;      /* canonical registry key */
    char *host;     /* host[:port] */
    struct dh_ecr_registry reg;
    struct dh_aws_options opt;
};

static void plan_release(struct plan *p)
{
    if (p->kind == PLAN_ECR)
        dh_ecr_registry_release(&p->reg);
    free(p->key);
    free(p->host);
}

static void make_plan(const struct dh_config *cfg, const char *server_url, struct plan *p)
{
    const struct dh_ecr_setting *set = NULL;
    struct dh_regurl u;
    size_t i;

    memset(p, 0, sizeof(*p));
    if (dh_regurl_parse(server_url, &u, NULL) < 0)
        return;
    p->key = dh_regurl_key(&u);
    p->host = u.port ? dh_xasprintf("%s:%u", u.host, u.port) : dh_xstrdup(u.host);
    dh_regurl_release(&u);

    for (i = 0; i < cfg->n_ecr && !set; i++)
        if (dh_kubelet_match_rank(cfg->ecr[i].registry, server_url, 0) >= 0)
            set = &cfg->ecr[i];
    if (set && set->account) {
        dh_ecr_registry_init(&p->reg, set->account, set->region);
        p->kind = PLAN_ECR;
        p->explicit_ = true;
    } else if (dh_ecr_parse_host(p->host, &p->reg) == 0) {
        p->kind = PLAN_ECR;
    }
    if (p->kind == PLAN_ECR) {
        p->opt.profile = set ? set->profile : NULL;
        p->opt.role_arn = set ? set->role_arn : NULL;
        p->opt.region = set && set->region ? set->region : p->reg.region;
        return;
    }
    for (i = 0; i < cfg->n_gcr_registries; i++) {
        if (dh_kubelet_match_rank(cfg->gcr_registries[i], server_url, 0) >= 0) {
            p->kind = PLAN_GCR;
            p->explicit_ = true;
            return;
        }
    }
    if (dh_gcp_is_registry_host(p->host))
        p->kind = PLAN_GCR;
}

static int ecr_mint(void *arg, struct dh_token **ret, struct dh_error **err)
{
    struct plan *p = arg;
    struct dh_aws_creds *creds = NULL;
    int r;

    if (dh_aws_load_credentials(&p->opt, &creds, err) < 0)
        return dh_error_wrap(err, "cannot get an ECR token for '%s'", p->host);
    r = dh_ecr_get_token(&p->reg, creds, ret, err);
    dh_aws_creds_free(creds);
    return r;
}

static int gcp_mint(void *arg, struct dh_token **ret, struct dh_error **err)
{
    return dh_gcp_mint(arg, ret, err);
}

static int mint(const struct dh_config *cfg, struct plan *p, struct dh_token **ret,
                struct dh_error **err)
{
    struct dh_token_request req;
    int r;

    if (p->kind == PLAN_ECR) {
        _cleanup_free_ char *identity = dh_aws_identity(&p->opt);
        _cleanup_free_ char *full =
                dh_xasprintf("%s|%s|%s", identity, p->reg.is_public ? "public" : p->reg.account,
                             p->reg.region ? p->reg.region : "");

        req = (struct dh_token_request){.provider = p->reg.is_public ? "ecr-public" : "ecr",
                                        .identity = full,
                                        .registry = p->key,
                                        .mint = ecr_mint,
                                        .mint_arg = p};
        return dh_token_cache_get(&req, ret, err);
    }
    {
        struct dh_gcp_source *src = NULL;

        if (dh_gcp_find_source(cfg->gcr_key_file, &src, err) < 0)
            return dh_error_wrap(err, "cannot get a Google token for '%s'", p->host);
        req = (struct dh_token_request){.provider = "gcr",
                                        .identity = dh_gcp_source_identity(src),
                                        .registry = p->key,
                                        .mint = gcp_mint,
                                        .mint_arg = src};
        r = dh_token_cache_get(&req, ret, err);
        dh_gcp_source_free(src);
        return r;
    }
}

/* True when a stored credential should answer instead of a minted token. */
static bool stored_wins(const struct plan *p, const struct dh_cred *stored)
{
    int64_t exp;

    if (!stored || !*stored->secret || p->explicit_)
        return false;
    if (p->kind == PLAN_ECR && dh_ecr_password_expiry(stored->secret, &exp) == 0 &&
        exp <= (int64_t)time(NULL) + 60)
        return false; /* an expired ECR token from a docker login */
    return true;
}

int dh_tokens_resolve(const struct dh_config *cfg, const char *server_url,
                      const struct dh_cred *stored, struct dh_token **ret, struct dh_error **err)
{
    struct plan p;
    _cleanup_error_ struct dh_error *mint_err = NULL;
    int r;

    make_plan(cfg, server_url, &p);
    if (p.kind == PLAN_NONE || stored_wins(&p, stored)) {
        plan_release(&p);
        return 0;
    }
    r = mint(cfg, &p, ret, &mint_err);
    plan_release(&p);
    if (r == 0)
        return 1;
    if (stored && *stored->secret) {
        dh_log_warn("%s; using the credential stored for '%s'", mint_err->msg, server_url);
        return 0;
    }
    dh_error_move(err, &mint_err);
    return -1;
}

bool dh_tokens_is_minted(const struct dh_config *cfg, const char *server_url)
{
    struct plan p;
    bool minted;

    make_plan(cfg, server_url, &p);
    minted = p.kind != PLAN_NONE;
    plan_release(&p);
    return minted;
}

int dh_tokens_lookup(const struct dh_config *cfg, const char *server_url, struct dh_token **ret,
                     struct dh_error **err)
{
    return dh_tokens_resolve(cfg, server_url, NULL, ret, err);
}
