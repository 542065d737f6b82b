/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rules of `dockhand prune` (docs/prune.md): given a docker config document
 * and a context, decide which entries to remove and why, then remove them.
 *
 * Rules, in the order they are evaluated:
 *  1. missing-helper: a credHelpers entry or the credsStore names a helper that
 *     is not on PATH.  Removed only with opt->helpers; otherwise reported (a
 *     hint).  Later rules see the configuration after these removals.
 *  2. expired: an auths entry holding a token whose expiry is known and past
 *     (now >= expiry): an ECR token (expiry embedded in the password; else from
 *     what dockhand minted), or a token dockhand minted (ECR, GCR).  Unknown
 *     expiry: kept.
 *  3. empty: an auths entry without credentials (`{}`, what docker leaves for a
 *     credential-store login).  Its helper is credHelpers[key], else
 *     credHelpers[hostname], else credsStore.  No helper: removed.  Otherwise
 *     the helper is asked (ops->store_has): "not found" removes it, an error or
 *     a helper not on PATH keeps it (reported).
 *  4. duplicate: auths keys with the same dh_dockerconfig_hostname(); one is
 *     kept: valid over unreadable, then the latest known expiry, then an entry
 *     with credentials over one without, then docker's own key
 *     (dh_dockerconfig_key_for), then the last in file order.
 *  5. unused (opt->older_than > 0): credHelpers entries naming dockhand, and
 *     auths entries dockhand serves (credHelpers or credsStore "dockhand"), whose
 *     last recorded use (ops->last_used) is older_than seconds ago or more.  An
 *     entry without a record is kept and counted in n_unknown_usage.
 *
 * Entries that are not objects (auths) or not strings (credHelpers), and keys
 * holding a NUL character, are left alone.  Nothing here prints or logs a
 * secret: keys and reasons only.
 */
#ifndef DOCKHAND_PRUNE_H
#define DOCKHAND_PRUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dockhand/dockerconfig.h"
#include "dockhand/error.h"

enum dh_prune_rule {
    DH_PRUNE_EXPIRED = 0,    /* "expired" */
    DH_PRUNE_EMPTY,          /* "empty" */
    DH_PRUNE_DUPLICATE,      /* "duplicate" */
    DH_PRUNE_MISSING_HELPER, /* "missing-helper" */
    DH_PRUNE_UNUSED,         /* "unused" */
    DH_PRUNE_UNREADABLE,     /* "unreadable": an entry whose "auth" cannot be decoded (kept) */
    DH_PRUNE_N_RULES,
};

enum dh_prune_section {
    DH_PRUNE_AUTHS = 0,    /* "auths" (the top level of a legacy .dockercfg) */
    DH_PRUNE_CRED_HELPERS, /* "credHelpers" */
    DH_PRUNE_CREDS_STORE,  /* "credsStore" (key is the helper name) */
};

struct dh_prune_action {
    enum dh_prune_rule rule;
    enum dh_prune_section section;
    char *key;    /* the auths or credHelpers key; the helper name for credsStore */
    char *reason; /* one line, never a secret */
    bool remove;  /* false: kept and only reported (a hint, or a check that failed) */
};

struct dh_prune_result {
    struct dh_prune_action *actions; /* removals in rule order (each in file order), then
                                        what was kept although a check failed */
    size_t n_actions, cap;
    size_t n_removed;       /* actions with remove set */
    size_t n_unknown_usage; /* with older_than: candidates without a usage record */
    size_t n_entries;       /* auths entries examined */
};

/* The world the rules ask about.  Every callback is required. */
struct dh_prune_ops {
    /* Does the store behind helper ("dockhand", "desktop", ...) hold credentials
       for server (an auths key, as written)?  1 yes, 0 no, -1 with *err when it
       cannot tell (the message becomes the reason the entry is kept). */
    int (*store_has)(void *arg, const char *helper, const char *server, struct dh_error **err);
    /* Is docker-credential-<helper> on PATH? */
    bool (*helper_exists)(void *arg, const char *helper);
    /* Last recorded use of registry by dockhand: 1 and *ret (unix seconds), or 0. */
    int (*last_used)(void *arg, const char *registry, int64_t *ret);
    /* Expiry of a token dockhand minted: 1 and *ret (unix seconds), or 0 when unknown. */
    int (*minted_expiry)(void *arg, const char *secret, int64_t *ret);
};

struct dh_prune_options {
    int64_t now;        /* unix seconds */
    bool helpers;       /* remove credHelpers / credsStore naming a helper not on PATH */
    int64_t older_than; /* seconds; 0: no "unused" rule */
};

/* Evaluates the rules on c (not modified) and fills *ret (release with
   dh_prune_result_release). */
void dh_prune_plan(struct dh_dockerconfig *c, const struct dh_prune_options *opt,
                   const struct dh_prune_ops *ops, void *arg, struct dh_prune_result *ret);

/* Removes the entries of r's actions that have remove set from c. */
void dh_prune_apply(struct dh_dockerconfig *c, const struct dh_prune_result *r);

void dh_prune_result_release(struct dh_prune_result *r);

/* Stable names: "expired", "empty", "duplicate", "missing-helper", "unused",
   "unreadable"; "auths", "credHelpers", "credsStore". */
const char *dh_prune_rule_name(enum dh_prune_rule rule);
const char *dh_prune_section_name(enum dh_prune_section section);

/* The expiry of an ECR token held in a config.json "auth" value (base64 of
   "AWS:" + password, the password base64 of JSON ending in "expiration": N}), read
   from the two ends of the value only: its first 8 characters and the last ~160,
   so that pruning a file of many 3 KiB tokens stays fast.  Returns 0 and sets
   *ret, or -1 when auth does not look like that (the caller then decodes the
   whole entry: dh_dockerconfig_entry_creds and dh_ecr_password_expiry). */
int dh_prune_ecr_auth_expiry(const char *auth, int64_t *ret);

/* Parses a duration: Go's time.ParseDuration syntax without a sign ("1h30m",
   "90s", "1.5h", units ns us µs ms s m h) plus "d" for days ("30d", "2d12h").
   Sets *ret to whole seconds (fractions truncated); must be > 0 and at most 100
   years.  Errors: "invalid duration 'X' (e.g. 30d, 12h, 1h30m)". */
int dh_prune_parse_duration(const char *s, int64_t *ret, struct dh_error **err);

#endif
