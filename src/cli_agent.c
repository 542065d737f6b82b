/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `dockhand agent [--config F] [--once] [--runtime-endpoint E] [--metrics-address A]
 *                 [--state-dir D] [--concurrency N]`
 * `dockhand agent status [--config F] [--runtime-endpoint E] [--state-dir D] [--json]`
 *
 * The node pre-puller (docs/agent.md).  Logs are JSON lines unless
 * DOCKHAND_LOG_FORMAT says otherwise; level info unless DOCKHAND_LOG_LEVEL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/agent.h"
#include "dockhand/cli_cmds.h"
#include "dockhand/log.h"

static const char usage[] =
        "usage: dockhand agent [--config FILE] [--once] [--runtime-endpoint E]\n"
        "                      [--metrics-address HOST:PORT] [--state-dir DIR] [--concurrency N]\n"
        "       dockhand agent status [--config FILE] [--runtime-endpoint E] [--state-dir DIR] "
        "[--json]\n"
        "\n"
        "Keeps the images listed in FILE (default " DH_AGENT_DEFAULT_CONFIG ") present in the\n"
        "node's container runtime through CRI.  --once: make them present, then exit (non-zero\n"
        "naming each image that failed).  Endpoint: --runtime-endpoint, the list's\n"
        "runtimeEndpoint, $CONTAINER_RUNTIME_ENDPOINT, else crictl's defaults.  /metrics and\n"
        "/healthz on --metrics-address (default " DH_AGENT_DEFAULT_METRICS "; \"\" turns it off).\n"
        "See docs/agent.md.\n";

int dh_cmd_agent(int argc, char **argv, struct dh_error **err)
{
    struct dh_agent_options o = {.config_path = DH_AGENT_DEFAULT_CONFIG};
    bool status = false, json = false;
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        }
        if (!strcmp(a, "status") && i == 1) {
            status = true;
        } else if (!strcmp(a, "--once") && !status) {
            o.once = true;
        } else if (!strcmp(a, "--json") && status) {
            json = true;
        } else if (!strcmp(a, "--config") || !strcmp(a, "--runtime-endpoint") ||
                   !strcmp(a, "--metrics-address") || !strcmp(a, "--state-dir") ||
                   (!strcmp(a, "--concurrency") && !status)) {
            if (!v)
                return dh_error_make(err, EINVAL, "option '%s' needs a value\n%s", a, usage);
            if (!strcmp(a, "--config"))
                o.config_path = v;
            else if (!strcmp(a, "--runtime-endpoint"))
                o.runtime_endpoint = v;
            else if (!strcmp(a, "--metrics-address"))
                o.metrics_address = v;
            else if (!strcmp(a, "--state-dir"))
                o.state_dir = v;
            else {
                char *end;
                unsigned long n = strtoul(v, &end, 10);
                if (*end || !*v || n < 1 || n > 64)
                    return dh_error_make(err, EINVAL,
                                         "--concurrency must be a number from 1 to 64");
                o.concurrency = (unsigned)n;
            }
            i++;
        } else {
            return dh_error_make(err, EINVAL, "unknown argument '%s'\n%s", a, usage);
        }
    }
    if (o.state_dir && o.state_dir[0] != '/')
        return dh_error_make(err, EINVAL, "--state-dir must be an absolute path");
    if (status)
        return dh_agent_status(&o, json, err);
    if (!dh_log_format_from_env())
        dh_log_set_format(DH_LOG_JSON);
    if (!dh_log_level_from_env())
        dh_log_set_level(DH_LOG_INFO);
    return dh_agent_run(&o, err);
}
