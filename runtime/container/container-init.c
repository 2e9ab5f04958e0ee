/* Locating slipway-init on the host.  Invariant: the answer is an absolute path to an executable regular
 * file, or -ENOENT; an explicit $SLIPWAY_INIT is never silently replaced by another candidate. */
#include "container-init.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"

#ifndef SLIPWAY_INIT_INSTALLED
#define SLIPWAY_INIT_INSTALLED "/usr/local/libexec/slipway/slipway-init"
#endif

static int usable(const char *path, char **ret) {
        struct stat st;
        char *real;

        if (!path || path[0] != '/' || stat(path, &st) < 0 || !S_ISREG(st.st_mode) || access(path, X_OK) < 0)
                return -ENOENT;
        real = realpath(path, NULL);
        if (!real)
                return errno == ENOMEM ? -ENOMEM : -ENOENT;
        *ret = real;
        return 0;
}

const char *container_init_missing_hint(void) {
        if (!isempty(getenv(CONTAINER_INIT_ENV)))
                return CONTAINER_INIT_ENV
                        " names no executable file; point it at slipway-init, the program "
                        "every container starts with (it refuses clone3 namespaces), or unset it";
        return "slipway-init, the program every container starts with (it refuses clone3 namespaces), is "
               "missing: install it as " SLIPWAY_INIT_INSTALLED " (in a build tree, ninja builds it as "
               "runtime/container/slipway-init) or set " CONTAINER_INIT_ENV " to its path";
}

int container_init_find(char **ret) {
        const char *explicit_path = getenv(CONTAINER_INIT_ENV);
        _cleanup_free_ char *self = NULL;
        int r;

        if (!isempty(explicit_path))
                return usable(explicit_path, ret);

        self = realpath("/proc/self/exe", NULL);
        if (self) {
                char *slash = strrchr(self, '/');
                static const char *const relative[] = {
                        "../../runtime/container/slipway-init", /* build tree: two levels down */
                        "slipway-init",
                };

                *slash = 0;
                for (size_t i = 0; i < ELEMENTSOF(relative); i++) {
                        _cleanup_free_ char *cand = NULL;

                        if (asprintf(&cand, "%s/%s", self, relative[i]) < 0)
                                return -ENOMEM;
                        r = usable(cand, ret);
                        if (r != -ENOENT)
                                return r;
                }
        }
        return usable(SLIPWAY_INIT_INSTALLED, ret);
}
