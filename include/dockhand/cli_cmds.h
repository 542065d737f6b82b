/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `dockhand` subcommands, one file each (src/cli_<name>.c), listed in the
 * table in src/cli.c.  argv[0] is the subcommand's name.  Each returns 0 or -1
 * with *err set (printed once by dh_cli_main, exit 1); a command that must exit
 * with another status says so in its own file.
 */
#ifndef DOCKHAND_CLI_CMDS_H
#define DOCKHAND_CLI_CMDS_H

#include "dockhand/error.h"

int dh_cmd_prune(int argc, char **argv, struct dh_error **err);
int dh_cmd_configure_docker(int argc, char **argv, struct dh_error **err);
int dh_cmd_login(int argc, char **argv, struct dh_error **err);
int dh_cmd_logout(int argc, char **argv, struct dh_error **err);
int dh_cmd_secret(int argc, char **argv, struct dh_error **err);
/* `dockhand secret sync ...` (argv[0] is "sync"), called by dh_cmd_secret. */
int dh_cmd_secret_sync(int argc, char **argv, struct dh_error **err);
int dh_cmd_kubelet_provider(int argc, char **argv, struct dh_error **err);
int dh_cmd_pull(int argc, char **argv, struct dh_error **err);
int dh_cmd_agent(int argc, char **argv, struct dh_error **err);

/* Matches argv[*i] against an option that takes a value: "-s VALUE", "-sVALUE"
   (when short_name is given), "--long VALUE", "--long=VALUE".  Returns 1 with
   *ret set (borrowed from argv) and *i advanced past a separate value, 0 when
   argv[*i] is another option, -1 with *err when the value is missing. */
int dh_cli_opt_value(int argc, char **argv, int *i, const char *short_name, const char *long_name,
                     const char **ret, struct dh_error **err);

#endif
