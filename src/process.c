/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/process.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

void dh_process_harden(void)
{
    struct rlimit rl = {0, 0};

    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    (void)setrlimit(RLIMIT_CORE, &rl);
    (void)umask(077);
}
