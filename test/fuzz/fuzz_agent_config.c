/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the agent's image list (src/agent_config.c): parses the bytes
 * with dh_agent_config_parse(), checks the error contract (an error exactly on
 * failure, starting with "fuzz.yaml"; no config returned) and the invariants of a
 * parsed list (every image has a canonical reference, name, registry; settings in
 * range; no duplicates), then frees everything.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dh_agent_config *c = NULL;
    struct dh_error *err = NULL;
    size_t i, j;
    int r;

    r = dh_agent_config_parse((const char *)data, size, "fuzz.yaml", &c, &err);
    if (r < 0) {
        if (r != -1 || c || !err || strncmp(err->msg, "fuzz.yaml", 9) != 0)
            abort();
        dh_error_free(&err);
        return 0;
    }
    if (err || !c || c->concurrency < 1 || c->concurrency > 64 || !c->metrics_address ||
        c->retry_max_ms < c->retry_base_ms)
        abort();
    for (i = 0; i < c->n_images; i++) {
        const struct dh_agent_image *im = &c->images[i];
        if (!im->ref || !im->canonical || !im->name || !im->registry || !*im->registry ||
            strncmp(im->canonical, im->name, strlen(im->name)) != 0)
            abort();
        for (j = 0; j < i; j++)
            if (!strcmp(c->images[j].canonical, im->canonical))
                abort();
    }
    dh_agent_config_free(c);
    return 0;
}
