/* SPDX-License-Identifier: Apache-2.0 */
/* docker-credential-dockhand: the docker credential helper.  All logic is in src/helper.c. */
#include <stdio.h>
#include <unistd.h>

#include "dockhand/buf.h"
#include "dockhand/helper.h"
#include "dockhand/log.h"
#include "dockhand/mem.h"
#include "dockhand/process.h"

int main(int argc, char **argv)
{
    struct dh_buf out;
    int status;

    dh_process_harden();
    dh_json_use_wiping_alloc();
    dh_log_init(DH_HELPER_NAME);
    dh_buf_init_secret(&out, (size_t)64 << 20);
    status = dh_helper_main(argc, argv, STDIN_FILENO, &out);
    if (out.len && fwrite(out.data, 1, out.len, stdout) != out.len)
        status = 1;
    if (fflush(stdout) != 0)
        status = 1;
    dh_buf_release(&out);
    return status;
}
