/* Image references per the distribution reference grammar:
 *   [host[:port]/]component[/component…][:tag][@sha256:hex]
 * Only a string that passes oci_ref_is_valid() is ever stored as a name, and oci_ref_normalize()
 * gives every name one spelling ("busybox" → "busybox:latest") so lookups compare strings. */
#include <ctype.h>
#include <string.h>

#include "digest.h"
#include "oci-store.h"

#define OCI_TAG_MAX 128U

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c) {
        return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | "__" | "-"+ */
static bool path_component_is_valid(const char *s, size_t n) {
        size_t i = 0;

        if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
                return false;
        while (i < n) {
                size_t j;

                if (is_lower_alnum(s[i])) {
                        i++;
                        continue;
                }
                /* a separator run: must be ".", "_", "__" or "-"+ and be followed by alnum */
                j = i;
                if (s[i] == '.')
                        j = i + 1;
                else if (s[i] == '_')
                        j = (i + 1 < n && s[i + 1] == '_') ? i + 2 : i + 1;
                else if (s[i] == '-')
                        while (j < n && s[j] == '-')
                                j++;
                else
                        return false;
                if (j >= n || !is_lower_alnum(s[j]))
                        return false;
                i = j;
        }
        return true;
}

/* domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static bool domain_component_is_valid(const char *s, size_t n) {
        if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_alnum(s[i]) && s[i] != '-')
                        return false;
        return true;
}

/* host[:port]; IPv6 literals in brackets are accepted too. */
static bool domain_is_valid(const char *s, size_t n) {
        const char *colon = NULL;
        size_t hn;

        if (n == 0)
                return false;
        if (s[0] == '[') {
                const char *close = memchr(s, ']', n);
                if (!close || close == s + 1)
                        return false;
                for (const char *p = s + 1; p < close; p++)
                        if (!isxdigit((unsigned char) *p) && *p != ':')
                                return false;
                hn = (size_t) (close - s) + 1;
                if (hn < n)
                        colon = s + hn;
        } else {
                colon = memchr(s, ':', n);
                hn = colon ? (size_t) (colon - s) : n;
                for (size_t i = 0, start = 0; i <= hn; i++)
                        if (i == hn || s[i] == '.') {
                                if (!domain_component_is_valid(s + start, i - start))
                                        return false;
                                start = i + 1;
                        }
        }
        if (colon) {
                if (*colon != ':' || colon + 1 >= s + n)
                        return false;
                for (const char *p = colon + 1; p < s + n; p++)
                        if (!(*p >= '0' && *p <= '9'))
                                return false;
        }
        return true;
}

static bool tag_is_valid(const char *s, size_t n) {
        if (n == 0 || n > OCI_TAG_MAX)
                return false;
        if (!is_alnum(s[0]) && s[0] != '_')
                return false;
        for (size_t i = 1; i < n; i++)
                if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
                        return false;
        return true;
}

/* Splits ref into name, tag and digest parts (pointers into ref, with lengths). */
static bool ref_split(const char *ref, size_t *ret_name_len, const char **ret_tag, size_t *ret_tag_len,
                      const char **ret_digest) {
        const char *at, *slash, *colon, *end;

        if (!ref || strlen(ref) > OCI_REF_MAX)
                return false;
        at = strchr(ref, '@');
        end = at ?: ref + strlen(ref);
        if (at && !digest_is_valid(at + 1))
                return false;

        /* the tag colon is the last ':' after the last '/' (a ':' before is a registry port) */
        slash = memrchr(ref, '/', (size_t) (end - ref));
        colon = memrchr(slash ?: ref, ':', (size_t) (end - (slash ?: ref)));
        *ret_name_len = (size_t) ((colon ?: end) - ref);
        *ret_tag = colon ? colon + 1 : NULL;
        *ret_tag_len = colon ? (size_t) (end - colon - 1) : 0;
        *ret_digest = at ? at + 1 : NULL;
        return true;
}

static bool name_is_valid(const char *name, size_t n) {
        const char *slash = memchr(name, '/', n);
        size_t start = 0;

        if (n == 0)
                return false;
        /* A first component with '.' or ':' or "localhost" is a registry host. */
        if (slash) {
                size_t fl = (size_t) (slash - name);
                if (memchr(name, '.', fl) || memchr(name, ':', fl) ||
                    (fl == strlen("localhost") && memcmp(name, "localhost", fl) == 0)) {
                        if (!domain_is_valid(name, fl))
                                return false;
                        start = fl + 1;
                }
        }
        for (size_t i = start; i <= n; i++)
                if (i == n || name[i] == '/') {
                        if (!path_component_is_valid(name + start, i - start))
                                return false;
                        start = i + 1;
                }
        return true;
}

bool oci_ref_is_valid(const char *ref) {
        const char *tag, *digest;
        size_t name_len, tag_len;

        if (!ref_split(ref, &name_len, &tag, &tag_len, &digest))
                return false;
        if (tag && !tag_is_valid(tag, tag_len))
                return false;
        return name_is_valid(ref, name_len);
}

int oci_ref_normalize(const char *ref, char **ret) {
        const char *tag, *digest;
        size_t name_len, tag_len;
        char *s;

        if (!oci_ref_is_valid(ref))
                return -EINVAL;
        (void) ref_split(ref, &name_len, &tag, &tag_len, &digest);
        if (tag || digest)
                s = strdup(ref);
        else if (asprintf(&s, "%s:latest", ref) < 0)
                s = NULL;
        if (!s)
                return -ENOMEM;
        if (strlen(s) > OCI_REF_MAX) {
                free(s);
                return -EINVAL;
        }
        *ret = s;
        return 0;
}

int oci_ref_familiarize(const char *ref, char **ret) {
        static const char *const prefixes[] = { "docker.io/library/", "index.docker.io/library/",
                                                "docker.io/", "index.docker.io/" };
        char *s;

        if (!ref)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++) {
                size_t l = strlen(prefixes[i]);
                if (strncmp(ref, prefixes[i], l) == 0 && ref[l]) {
                        ref += l;
                        break;
                }
        }
        s = strdup(ref);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
