/* Repository names (repository-name.h).  Invariant: a name that passes holds no '/' at either end, no two
 * separators in a row and no byte outside [a-z0-9._/-], so it never makes a dot segment or an empty one. */
#include "repository-name.h"

#include <string.h>

bool oci_repository_name_valid(const char *name, size_t len) {
        bool start = true;

        if (len == 0 || len > OCI_REPOSITORY_NAME_MAX)
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = name[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

                if (alnum) {
                        start = false;
                        continue;
                }
                if (start || i + 1 == len || c == 0 || !strchr("._-/", c))
                        return false;
                start = true;
        }
        return true;
}
