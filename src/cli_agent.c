/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "dockhand/cli_cmds.h"

int dh_cmd_agent(int argc, char **argv, struct dh_error **err)
{
    (void)argc;
    return dh_error_make(err, ENOSYS, "%s: not implemented yet", argv[0]);
}
