/* Safe relative paths. Invariant: nothing accepted here starts with '/' or contains a ".." component,
 * so joining it to a directory stays lexically inside that directory. */
#include "path-util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

/* False as soon as one component between slashes is "..". */
static bool path_has_no_dotdot(const char *p) {
        while (*p) {
                size_t l = strcspn(p, "/");

                if (l == 2 && p[0] == '.' && p[1] == '.')
                        return false;
                p += l;
                while (*p == '/')
                        p++;
        }
        return true;
}

bool path_is_safe_relative(const char *name) {
        return !isempty(name) && name[0] != '/' && path_has_no_dotdot(name);
}

int path_normalize_relative(const char *name, size_t max_len, char **ret) {
        _cleanup_free_ char *out = NULL;
        size_t len, n = 0;

        if (isempty(name))
                return -EINVAL;
        len = strlen(name);
        if (len > max_len)
                return -ENAMETOOLONG;
        if (!path_is_safe_relative(name))
                return -EXDEV;

        out = malloc(len + 1);
        if (!out)
                return -ENOMEM;
        for (const char *p = name; *p;) {
                size_t l = strcspn(p, "/");

                if (l > 0 && !(l == 1 && p[0] == '.')) {
                        if (n > 0)
                                out[n++] = '/';
                        memcpy(out + n, p, l);
                        n += l;
                }
                p += l;
                while (*p == '/')
                        p++;
        }
        out[n] = 0;
        *ret = TAKE_PTR(out);
        return 0;
}
