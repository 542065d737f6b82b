/* SPDX-License-Identifier: Apache-2.0 */
#include "dockhand/xdg.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include "dockhand/mem.h"

int dh_home_dir(char **ret, struct dh_error **err)
{
    const char *home = secure_getenv("HOME");

    if (!home || home[0] != '/') {
        struct passwd *pw = getpwuid(getuid());

        if (!pw || !pw->pw_dir || pw->pw_dir[0] != '/')
            return dh_error_make(err, ENOENT, "cannot find the home directory: HOME is not set");
        home = pw->pw_dir;
    }
    *ret = dh_xstrdup(home);
    return 0;
}

int dh_xdg_dir(enum dh_xdg_kind kind, char **ret, struct dh_error **err)
{
    static const char *const vars[] = {"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME",
                                       "XDG_RUNTIME_DIR"};
    static const char *const defaults[] = {".config", ".local/share", ".cache", ".cache"};
    const char *v = secure_getenv(vars[kind]);
    char *home;

    if (kind == DH_XDG_RUNTIME && (!v || v[0] != '/'))
        return dh_xdg_dir(DH_XDG_CACHE, ret, err);
    if (v && v[0] == '/') {
        *ret = dh_xasprintf("%s/dockhand", v);
        return 0;
    }
    if (dh_home_dir(&home, err) < 0)
        return -1;
    *ret = dh_xasprintf("%s/%s/dockhand", home, defaults[kind]);
    free(home);
    return 0;
}
