/* SPDX-License-Identifier: Apache-2.0 */
/* dockhand: the command line.  All logic is in src/cli.c and the modules it calls. */
#include "dockhand/cli.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"
#include "dockhand/process.h"

int main(int argc, char **argv)
{
    dh_process_harden();
    dh_json_use_wiping_alloc();
    dh_log_init("dockhand");
    return dh_cli_main(argc, argv);
}
