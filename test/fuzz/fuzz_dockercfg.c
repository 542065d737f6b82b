/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for docker config documents and kubelet matching: parses the
 * bytes in every format, checks the error contract and the entries, matches
 * the parsed keys against a few targets and against each other, and checks
 * that the quick scan agrees with the parser (a document the parser accepts
 * is never invalid to the scan, and the scan's rank bounds every entry's).
 * The bytes are also tried as a key and as a target.  Frees everything.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/dockercfg.h"
#include "dockhand/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char *const targets[] = {
        "r.io",
        "https://index.docker.io/v1/",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "registry.io:8080/path/app",
        "127.0.0.1:5000",
        "a.b.registry.io",
        "[::1]:5000",
};
static const enum dh_dockercfg_format formats[] = {DH_DOCKERCFG_AUTO, DH_DOCKERCFG_CONFIGJSON,
                                                   DH_DOCKERCFG_LEGACY, DH_DOCKERCFG_CONFIGFILE};
static const unsigned flag_sets[] = {0, DH_KMATCH_IMAGE, DH_KMATCH_HOST_ALIAS};

static void check_rank(int r)
{
    if (r != DH_KUBELET_RANK_NONE && r != DH_KUBELET_RANK_ALIAS && r < DH_KUBELET_RANK_BASE)
        abort();
}

static void check_entry(const struct dh_dockercfg_entry *e)
{
    const char *user, *secret;
    bool has = dh_dockercfg_entry_cred(e, &user, &secret);

    if (!e->key || !e->username || !e->password || !user || !secret)
        abort();
    if ((e->auth && !*e->auth) || (e->identitytoken && !*e->identitytoken))
        abort();
    if (has != (*secret != '\0'))
        abort();
}

static void check_doc(const uint8_t *data, size_t size, enum dh_dockercfg_format f)
{
    struct dh_dockercfg *cfg = NULL;
    struct dh_error *err = NULL;
    size_t i, j, t, fl;
    int r = dh_dockercfg_parse((const char *)data, size, f, &cfg, &err);

    if (r < 0) {
        if (r != -1 || !err || !err->msg || cfg)
            abort();
        dh_error_free(&err);
        return;
    }
    if (r != 0 || err || !cfg || (f != DH_DOCKERCFG_AUTO && cfg->format != f))
        abort();
    for (i = 0; i < cfg->n_entries; i++)
        check_entry(&cfg->entries[i]);
    for (i = 0; i < cfg->n_cred_helpers; i++)
        if (!cfg->cred_helpers[i].registry || !cfg->cred_helpers[i].helper)
            abort();
    for (t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
        for (fl = 0; fl < sizeof(flag_sets) / sizeof(flag_sets[0]); fl++) {
            int scan =
                    dh_dockercfg_scan_rank((const char *)data, size, f, targets[t], flag_sets[fl]);

            /* the parser accepted it: the scan must too, and bound every entry's rank */
            if (scan == DH_DOCKERCFG_SCAN_INVALID)
                abort();
            check_rank(scan);
            for (i = 0; i < cfg->n_entries; i++) {
                int rank = dh_kubelet_match_rank(cfg->entries[i].key, targets[t], flag_sets[fl]);

                check_rank(rank);
                if (rank > scan)
                    abort();
            }
        }
    }
    /* keys against each other (a few) */
    for (i = 0; i < cfg->n_entries && i < 8; i++)
        for (j = 0; j < cfg->n_entries && j < 8; j++)
            check_rank(dh_kubelet_match_rank(cfg->entries[i].key, cfg->entries[j].key,
                                             DH_KMATCH_HOST_ALIAS));
    dh_dockercfg_free(cfg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    dh_json_use_wiping_alloc();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t i, fl;
    char *s;

    if (size > DH_DOCKERCFG_MAX + 1)
        return 0;
    for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        check_doc(data, size, formats[i]);
        /* the scan never crashes on anything, whatever the parser says */
        int scan = dh_dockercfg_scan_rank((const char *)data, size, formats[i], "r.io", 0);
        if (scan != DH_DOCKERCFG_SCAN_INVALID)
            check_rank(scan);
    }
    /* the bytes as a key and as a target */
    if (size <= 2 * DH_KUBELET_MATCH_MAX) {
        s = dh_xmalloc(size + 1);
        memcpy(s, data, size);
        s[size] = '\0';
        for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
            for (fl = 0; fl < sizeof(flag_sets) / sizeof(flag_sets[0]); fl++) {
                check_rank(dh_kubelet_match_rank(s, targets[i], flag_sets[fl]));
                check_rank(dh_kubelet_match_rank(targets[i], s, flag_sets[fl]));
            }
        }
        check_rank(dh_kubelet_match_rank(s, s, DH_KMATCH_IMAGE));
        free(s);
    }
    return 0;
}
