/* SPDX-License-Identifier: Apache-2.0 */
/*
 * XDG base directories (XDG Base Directory Specification 0.8).
 *
 * A variable that is unset, empty or not an absolute path is ignored, as the
 * specification says, and the default under $HOME is used ($HOME falls back
 * to the passwd entry).  XDG_RUNTIME_DIR has no default under $HOME: when it
 * is unusable, dh_xdg_dir() falls back to $XDG_CACHE_HOME.
 */
#ifndef DOCKHAND_XDG_H
#define DOCKHAND_XDG_H

#include "dockhand/error.h"

enum dh_xdg_kind {
    DH_XDG_CONFIG,  /* $XDG_CONFIG_HOME or ~/.config */
    DH_XDG_DATA,    /* $XDG_DATA_HOME or ~/.local/share */
    DH_XDG_CACHE,   /* $XDG_CACHE_HOME or ~/.cache */
    DH_XDG_RUNTIME, /* $XDG_RUNTIME_DIR, else the cache home */
};

/* Sets *ret to a new string "<base>/dockhand" for the kind (not created). */
int dh_xdg_dir(enum dh_xdg_kind kind, char **ret, struct dh_error **err);
/* Sets *ret to the home directory ($HOME, else the passwd entry). */
int dh_home_dir(char **ret, struct dh_error **err);

#endif
