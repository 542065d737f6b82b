/* SPDX-License-Identifier: Apache-2.0 */
#ifndef DOCKHAND_PROCESS_H
#define DOCKHAND_PROCESS_H

/*
 * Process hardening done first thing in every binary: no core dumps and no
 * ptrace attach by other processes of the user (PR_SET_DUMPABLE 0), core
 * size limit 0, and umask 077 so every file created is private.
 */
void dh_process_harden(void);

#endif
