/* Debian versions, [epoch:]upstream[-revision]: parsed and validated here with the rules of dpkg's
 * parseversion(), ordered by libdpkg's own dpkg_version_compare().  dpkg's parser is not used because it
 * keeps every parsed string in a process-wide store that is never freed; ours copies onto the stack. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#define LIBDPKG_VOLATILE_API 1
#include <dpkg/version.h>

#include "version-scheme.h"
#include "version.h"

typedef struct DebVersion {
        struct dpkg_version version; /* points into buf */
        char buf[VERSION_LENGTH_MAX + 1];
} DebVersion;

static bool deb_is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* As dpkg: blanks before and whitespace after are dropped, whitespace inside is refused; the epoch is
 * up to the first ':' (decimal, at most INT_MAX; dpkg's strtol() also takes a sign there, we take
 * digits only), the revision after the last '-'.  The upstream part must start with a digit and hold only
 * alphanumerics and ".+-~:", the revision only alphanumerics and ".+~" — dpkg calls those two
 * warnings, a scanner cannot order such a version, so here they make it invalid. */
static int deb_parse(const char *s, DebVersion *ret) {
        const char *end, *p, *colon;
        unsigned long epoch = 0;
        char *hyphen, *revision;
        size_t n;

        while (*s == ' ' || *s == '\t')
                s++;
        for (end = s; *end && !deb_is_space(*end); end++)
                ;
        for (p = end; *p; p++)
                if (!deb_is_space(*p))
                        return -EINVAL;
        if (end == s)
                return -EINVAL;

        colon = memchr(s, ':', end - s);
        if (colon) {
                if (colon == s)
                        return -EINVAL;
                for (p = s; p < colon; p++) {
                        if (!version_is_digit(*p))
                                return -EINVAL;
                        epoch = epoch * 10 + (unsigned long) (*p - '0');
                        if (epoch > INT_MAX)
                                return -EINVAL;
                }
                s = colon + 1;
        }

        n = end - s;
        if (n == 0 || n > VERSION_LENGTH_MAX)
                return -EINVAL;
        memcpy(ret->buf, s, n);
        ret->buf[n] = '\0';

        hyphen = strrchr(ret->buf, '-');
        if (hyphen) {
                *hyphen = '\0';
                revision = hyphen + 1;
                if (*revision == '\0')
                        return -EINVAL;
        } else
                revision = ret->buf + n; /* "" */

        if (!version_is_digit(ret->buf[0]))
                return -EINVAL;
        for (p = ret->buf; *p; p++)
                if (!version_is_alnum(*p) && !strchr(".-+~:", *p))
                        return -EINVAL;
        for (p = revision; *p; p++)
                if (!version_is_alnum(*p) && !strchr(".+~", *p))
                        return -EINVAL;

        ret->version = DPKG_VERSION_OBJECT((unsigned) epoch, ret->buf, revision);
        return 0;
}

int version_deb_compare(const char *a, const char *b, int *ret) {
        DebVersion va, vb;
        int r;

        r = deb_parse(a, &va);
        if (r < 0)
                return r;
        r = deb_parse(b, &vb);
        if (r < 0)
                return r;
        *ret = version_sign(dpkg_version_compare(&va.version, &vb.version), 0);
        return 0;
}

bool version_deb_valid(const char *v) {
        DebVersion dv;

        return deb_parse(v, &dv) >= 0;
}
