/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dockhand/cleanup.h"
#include "dockhand/log.h"

struct cli_command {
    const char *name;
    const char *summary;
    int (*fn)(int argc, char **argv, struct dh_error **err);
};

static int cmd_version(int argc, char **argv, struct dh_error **err);
static int cmd_help(int argc, char **argv, struct dh_error **err);

static const struct cli_command commands[] = {
        {"help", "show this help", cmd_help},
        {"version", "print the version", cmd_version},
};

static int cmd_version(int argc, char **argv, struct dh_error **err)
{
    (void)argc, (void)argv, (void)err;
    printf("dockhand v%s\n", DH_VERSION);
    return 0;
}

static int cmd_help(int argc, char **argv, struct dh_error **err)
{
    size_t i;

    (void)argc, (void)argv, (void)err;
    printf("usage: dockhand <command> [<args>]\n\ncommands:\n");
    for (i = 0; i < DH_ARRAY_SIZE(commands); i++)
        printf("  %-18s %s\n", commands[i].name, commands[i].summary);
    printf("\nThe docker credential helper is docker-credential-dockhand; see README.md.\n");
    return 0;
}

int dh_cli_main(int argc, char **argv)
{
    _cleanup_error_ struct dh_error *err = NULL;
    const char *name;
    size_t i;

    if (argc < 2) {
        cmd_help(argc, argv, NULL);
        return 2;
    }
    name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h"))
        name = "help";
    else if (!strcmp(name, "--version") || !strcmp(name, "-v"))
        name = "version";
    for (i = 0; i < DH_ARRAY_SIZE(commands); i++) {
        if (strcmp(commands[i].name, name) != 0)
            continue;
        if (commands[i].fn(argc - 1, argv + 1, &err) == 0)
            return 0;
        dh_log_error("%s", err->msg);
        return 1;
    }
    dh_log_error("unknown command '%s'; see 'dockhand help'", name);
    return 2;
}
