/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `dockhand kubelet-provider`: the kubelet's exec credential provider plugin.  The
 * kubelet runs it with the CredentialProviderRequest on stdin and reads the
 * CredentialProviderResponse from stdout; any failure is exit status 1 with one line
 * on stderr ("dockhand: error: ..."), which the kubelet logs.  See
 * docs/kubelet-provider.md and deploy/kubelet/.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dockhand/buf.h"
#include "dockhand/cleanup.h"
#include "dockhand/cli_cmds.h"
#include "dockhand/config.h"
#include "dockhand/kubelet.h"
#include "dockhand/log.h"

static int write_all(int fd, const char *p, size_t n, struct dh_error **err)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return dh_error_sys(err, w < 0 ? errno : EIO,
                                "cannot write the CredentialProviderResponse to stdout");
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int dh_cmd_kubelet_provider(int argc, char **argv, struct dh_error **err)
{
    _cleanup_buf_ struct dh_buf in = DH_BUF_INIT_SECRET(DH_KUBELET_REQUEST_MAX);
    _cleanup_buf_ struct dh_buf out = DH_BUF_INIT_SECRET(4u << 20);
    _cleanup_kubelet_request_ struct dh_kubelet_request *req = NULL;
    _cleanup_config_ struct dh_config *cfg = NULL;

    (void)argv;
    if (argc > 1)
        return dh_error_make(err, EINVAL,
                             "usage: dockhand kubelet-provider < CredentialProviderRequest (it "
                             "takes no arguments; the kubelet runs it, see deploy/kubelet/)");
    if (dh_buf_read_fd(&in, STDIN_FILENO, err) < 0)
        return dh_error_wrap(err, "cannot read the CredentialProviderRequest from stdin");
    if (dh_kubelet_request_parse(in.data, in.len, &req, err) < 0)
        return -1;
    dh_buf_release(&in);
    if (dh_config_load(&cfg, err) < 0)
        return -1;
    if (cfg->log_level_set && !dh_log_level_from_env())
        dh_log_set_level(cfg->log_level);
    if (cfg->log_format_set && !dh_log_format_from_env())
        dh_log_set_format(cfg->log_format);
    if (dh_kubelet_provide(cfg, req, &out, err) < 0)
        return -1;
    return write_all(STDOUT_FILENO, out.data, out.len, err);
}
