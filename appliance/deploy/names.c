/* DNS-label names for projects, environments and components.  A valid name is safe in host names,
 * URL paths, file names and /etc/hosts, so no caller escapes it. */
#include "names.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"

static bool label_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

int name_validate(const char *what, const char *s, char **ret_error) {
        const char *problem = NULL;
        size_t n = s ? strlen(s) : 0;
        char bad = 0;

        if (n == 0)
                problem = "must not be empty";
        else if (n > NAME_MAX_LEN)
                problem = "is longer than 63 characters";
        else {
                for (size_t i = 0; i < n; i++)
                        if (!label_char(s[i])) {
                                bad = s[i];
                                break;
                        }
                if (bad)
                        problem = "contains a character other than a-z, 0-9 and '-'";
                else if (s[0] == '-' || s[n - 1] == '-')
                        problem = "must start and end with a letter or digit";
        }
        if (!problem)
                return 0;
        if (ret_error) {
                char *m = NULL;
                if (asprintf(&m,
                             "Invalid %s name '%.80s': it %s; use lower-case letters, digits and '-' (e.g. "
                             "'my-app').",
                             what, s ? s : "", problem) < 0)
                        return -ENOMEM;
                *ret_error = m;
        }
        return -EINVAL;
}

bool name_is_valid(const char *s) {
        return name_validate("", s, NULL) == 0;
}

int domain_validate(const char *s, char **ret_error) {
        const char *problem = NULL;
        size_t n = s ? strlen(s) : 0;

        if (n == 0)
                problem = "is empty";
        else if (n > DOMAIN_MAX_LEN)
                problem = "is longer than 200 characters";
        else
                for (const char *label = s; label && !problem;) {
                        const char *dot = strchr(label, '.');
                        size_t len = dot ? (size_t)(dot - label) : strlen(label);

                        if (len == 0)
                                problem = "has an empty label (two dots in a row, or a dot at an end)";
                        else if (len > NAME_MAX_LEN)
                                problem = "has a label longer than 63 characters";
                        else if (label[0] == '-' || label[len - 1] == '-')
                                problem = "has a label starting or ending with '-'";
                        for (size_t i = 0; i < len && !problem; i++)
                                if (!label_char(label[i]))
                                        problem = "contains a character other than a-z, 0-9, '-' and '.'";
                        label = dot ? dot + 1 : NULL;
                }
        if (!problem)
                return 0;
        if (ret_error) {
                char *m = NULL;
                if (asprintf(&m,
                             "Invalid domain '%.80s': it %s; give a lower-case DNS name such as "
                             "'dev.example.com'.",
                             s ? s : "", problem) < 0)
                        return -ENOMEM;
                *ret_error = m;
        }
        return -EINVAL;
}
