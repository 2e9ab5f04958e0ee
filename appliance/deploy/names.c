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

/* -EINVAL, and when asked the sentence "Invalid <what><noun> '<s>': it <problem>; <advice>" (-ENOMEM when it
 * cannot be made). */
static int invalid(char **ret_error, const char *what, const char *noun, const char *s, const char *problem,
                   const char *advice) {
        char *m = NULL;

        if (!ret_error)
                return -EINVAL;
        if (asprintf(&m, "Invalid %s%s '%.80s': it %s; %s", what, noun, strempty(s), problem, advice) < 0)
                return -ENOMEM;
        *ret_error = m;
        return -EINVAL;
}

/* What is wrong with a name, as the end of "it …"; NULL when nothing. */
static const char *name_problem(const char *s) {
        size_t n = s ? strlen(s) : 0;

        if (n == 0)
                return "must not be empty";
        if (n > NAME_MAX_LEN)
                return "is longer than 63 characters";
        for (size_t i = 0; i < n; i++)
                if (!label_char(s[i]))
                        return "contains a character other than a-z, 0-9 and '-'";
        if (s[0] == '-' || s[n - 1] == '-')
                return "must start and end with a letter or digit";
        return NULL;
}

int name_validate(const char *what, const char *s, char **ret_error) {
        const char *problem = name_problem(s);

        if (!problem)
                return 0;
        return invalid(ret_error, what, " name", s, problem,
                       "use lower-case letters, digits and '-' (e.g. 'my-app').");
}

bool name_is_valid(const char *s) {
        return !name_problem(s);
}

/* The same for a domain. */
static const char *domain_problem(const char *s) {
        if (isempty(s))
                return "is empty";
        if (strlen(s) > DOMAIN_MAX_LEN)
                return "is longer than 200 characters";
        for (const char *label = s; label;) {
                const char *dot = strchr(label, '.');
                size_t len = dot ? (size_t) (dot - label) : strlen(label);

                if (len == 0)
                        return "has an empty label (two dots in a row, or a dot at an end)";
                if (len > NAME_MAX_LEN)
                        return "has a label longer than 63 characters";
                if (label[0] == '-' || label[len - 1] == '-')
                        return "has a label starting or ending with '-'";
                for (size_t i = 0; i < len; i++)
                        if (!label_char(label[i]))
                                return "contains a character other than a-z, 0-9, '-' and '.'";
                label = dot ? dot + 1 : NULL;
        }
        return NULL;
}

int domain_validate(const char *s, char **ret_error) {
        const char *problem = domain_problem(s);

        if (!problem)
                return 0;
        return invalid(ret_error, "domain", "", s, problem,
                       "give a lower-case DNS name such as 'dev.example.com'.");
}

/* [a-z0-9][a-z0-9._-]{0,max-1}: registries', users' (and API tokens') names. */
static const char *dotted_name_problem(const char *s, size_t max) {
        size_t n = s ? strlen(s) : 0;

        if (n == 0)
                return "must not be empty";
        if (n > max)
                return "is longer than 63 characters";
        if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
                return "must start with a lower-case letter or digit";
        for (size_t i = 1; i < n; i++)
                if (!label_char(s[i]) && s[i] != '.' && s[i] != '_')
                        return "contains a character other than a-z, 0-9, '.', '_' and '-'";
        return NULL;
}

int registry_name_validate(const char *s, char **ret_error) {
        const char *problem = dotted_name_problem(s, REGISTRY_NAME_MAX_LEN);

        if (!problem)
                return 0;
        return invalid(ret_error, "registry", " name", s, problem,
                       "use lower-case letters, digits, '.', '_' and '-' (e.g. 'corp').");
}

int user_name_validate(const char *s, char **ret_error) {
        const char *problem = dotted_name_problem(s, USER_NAME_MAX_LEN);

        if (!problem)
                return 0;
        return invalid(ret_error, "user", " name", s, problem,
                       "use lower-case letters, digits, '.', '_' and '-' (e.g. 'alice').");
}
