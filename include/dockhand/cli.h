/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `dockhand` command line: a table of subcommands (crun/git style).  Each
 * subcommand is `int cmd_x(int argc, char **argv, struct dh_error **err)`
 * returning 0 or an error; dh_cli_main() maps that to an exit status and prints
 * the error once on stderr.
 */
#ifndef DOCKHAND_CLI_H
#define DOCKHAND_CLI_H

#include "dockhand/error.h"

/* Runs `dockhand ARGS...`; returns the process exit status. */
int dh_cli_main(int argc, char **argv);

#endif
