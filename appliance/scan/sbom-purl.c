/* Package URL construction.  Invariant: every byte of outside input that is not unreserved (or ':') reaches
 * the URL percent-encoded, so a purl always parses back into the same parts. */
#include "sbom-purl.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

static int append_raw(char **buf, size_t *len, const char *s, size_t n) {
        char *nb = realloc(*buf, *len + n + 1);

        if (!nb)
                return -ENOMEM;
        memcpy(nb + *len, s, n);
        *len += n;
        nb[*len] = 0;
        *buf = nb;
        return 0;
}

static int append_str(char **buf, size_t *len, const char *s) {
        return append_raw(buf, len, s, strlen(s));
}

static bool purl_unreserved(unsigned char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '-' || c == '_' || c == '~' || c == ':';
}

int sbom_purl_append_encoded(char **buf, size_t *len, const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        int r;

        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };

                if (purl_unreserved(*p))
                        r = append_raw(buf, len, (const char *) p, 1);
                else
                        r = append_raw(buf, len, e, 3);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* "pkg:TYPE/NAMESPACE/" + encoded name + "@" + encoded version. */
static int purl_start(const char *prefix, const char *name, const char *version, char **buf, size_t *len) {
        int r;

        r = append_str(buf, len, prefix);
        if (r >= 0)
                r = sbom_purl_append_encoded(buf, len, name);
        if (r >= 0 && version) {
                r = append_str(buf, len, "@");
                if (r >= 0)
                        r = sbom_purl_append_encoded(buf, len, version);
        }
        return r;
}

/* Qualifiers are appended in key order (arch < upstream), as the canonical form wants. */
static int purl_qualifier(char **buf, size_t *len, bool *first, const char *key, const char *value) {
        int r;

        if (isempty(value))
                return 0;
        r = append_str(buf, len, *first ? "?" : "&");
        if (r >= 0)
                r = append_str(buf, len, key);
        if (r >= 0)
                r = append_str(buf, len, "=");
        if (r >= 0)
                r = sbom_purl_append_encoded(buf, len, value);
        *first = false;
        return r;
}

int sbom_purl_deb(const char *name, const char *version, const char *arch, const char *source, char **ret) {
        _cleanup_free_ char *b = NULL;
        size_t len = 0;
        bool first = true;
        int r;

        r = purl_start("pkg:deb/debian/", name, version, &b, &len);
        if (r >= 0)
                r = purl_qualifier(&b, &len, &first, "arch", arch);
        if (r >= 0)
                r = purl_qualifier(&b, &len, &first, "upstream", source);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(b);
        return 0;
}

int sbom_purl_apk(const char *name, const char *version, const char *arch, char **ret) {
        _cleanup_free_ char *b = NULL;
        size_t len = 0;
        bool first = true;
        int r;

        r = purl_start("pkg:apk/alpine/", name, version, &b, &len);
        if (r >= 0)
                r = purl_qualifier(&b, &len, &first, "arch", arch);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(b);
        return 0;
}

int sbom_purl_pypi(const char *name, const char *version, char **ret) {
        _cleanup_free_ char *b = NULL, *n = strdup(name);
        size_t len = 0;
        int r;

        if (!n)
                return -ENOMEM;
        for (char *p = n; *p; p++)
                *p = *p == '_' ? '-' : (char) tolower((unsigned char) *p);
        r = purl_start("pkg:pypi/", n, version, &b, &len);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(b);
        return 0;
}

int sbom_purl_npm(const char *name, const char *version, char **ret) {
        _cleanup_free_ char *b = NULL;
        const char *slash = name[0] == '@' ? strchr(name, '/') : NULL;
        size_t len = 0;
        int r;

        r = append_str(&b, &len, "pkg:npm/");
        if (r >= 0 && slash) {
                _cleanup_free_ char *scope = strndup(name, (size_t) (slash - name));

                if (!scope)
                        return -ENOMEM;
                r = sbom_purl_append_encoded(&b, &len, scope);
                if (r >= 0)
                        r = append_str(&b, &len, "/");
                name = slash + 1;
        }
        if (r >= 0)
                r = purl_start("", name, version, &b, &len);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(b);
        return 0;
}

int sbom_purl_golang(const char *module, const char *version, char **ret) {
        _cleanup_free_ char *b = NULL;
        size_t len = 0;
        int r;

        r = append_str(&b, &len, "pkg:golang/");
        for (const char *p = module; r >= 0 && *p;) {
                size_t n = strcspn(p, "/");
                _cleanup_free_ char *part = strndup(p, n);

                if (!part)
                        return -ENOMEM;
                r = sbom_purl_append_encoded(&b, &len, part);
                p += n;
                if (r >= 0 && *p == '/') {
                        r = append_str(&b, &len, "/");
                        p++;
                }
        }
        if (r >= 0 && version && !streq(version, "(devel)")) {
                r = append_str(&b, &len, "@");
                if (r >= 0)
                        r = sbom_purl_append_encoded(&b, &len, version);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(b);
        return 0;
}
