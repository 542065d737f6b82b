/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder: the 'secretservice' store is being written (issue 3); this file is replaced by it. */
#include <errno.h>

#include "dockhand/cleanup.h"
#include "dockhand/store.h"

int dh_store_secretservice_open(const char *arg DH_UNUSED, const char *ns DH_UNUSED,
                       const struct dh_config *cfg DH_UNUSED, struct dh_store **ret DH_UNUSED,
                       struct dh_error **err)
{
    return dh_error_make(err, ENOSYS, "the 'secretservice' store is not built yet");
}
