/* apk installed-database parsing: records separated by blank lines, each line "X:value" with a one-letter
 * key (P name, V version, o origin, A architecture).  Invariant: a record is taken whole or skipped and
 * counted. */
#include "sbom-apk.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "sbom-file.h"
#include "sbom-purl.h"

#define APK_INSTALLED_PATH "lib/apk/db/installed"

typedef struct ApkRecord {
        char *name, *version, *origin, *arch;
        bool bad;
} ApkRecord;

static void apk_record_done(ApkRecord *a) {
        free(a->name);
        free(a->version);
        free(a->origin);
        free(a->arch);
        *a = (ApkRecord) {};
}

static void apk_set(ApkRecord *a, char **slot, const char *v, size_t n) {
        if (*slot || memchr(v, 0, n)) {
                a->bad = true;
                return;
        }
        *slot = strndup(v, n);
        if (!*slot)
                a->bad = true; /* out of memory: the record is skipped like a malformed one */
}

static int apk_flush(Sbom *s, ApkRecord *a, const char *path) {
        _cleanup_free_ char *purl = NULL;
        const char *origin;
        int r;

        if (a->bad || isempty(a->name) || isempty(a->version))
                return -EBADMSG;
        origin = a->origin && !streq(a->origin, a->name) ? a->origin : NULL;
        r = sbom_purl_apk(a->name, a->version, a->arch, &purl);
        if (r < 0)
                return r;
        return sbom_add(s, a->name, a->version, "Alpine", origin, path, purl);
}

int sbom_parse_apk_installed(Sbom *s, const char *data, size_t size, const char *path) {
        _cleanup_(apk_record_done) ApkRecord a = {};
        const char *p = data, *end = data + size;
        bool in_record = false;
        unsigned skipped = 0;
        int r;

        for (;;) {
                const char *nl = p < end ? memchr(p, '\n', (size_t) (end - p)) : NULL;
                const char *eol = nl ?: end;
                size_t n = (size_t) (eol - p);

                if (n > 0 && eol[-1] == '\r')
                        n--;
                if (n > 0) {
                        in_record = true;
                        if (n < 2 || p[1] != ':')
                                a.bad = true;
                        else if (p[0] == 'P')
                                apk_set(&a, &a.name, p + 2, n - 2);
                        else if (p[0] == 'V')
                                apk_set(&a, &a.version, p + 2, n - 2);
                        else if (p[0] == 'o')
                                apk_set(&a, &a.origin, p + 2, n - 2);
                        else if (p[0] == 'A')
                                apk_set(&a, &a.arch, p + 2, n - 2);
                }
                if ((n == 0 || !nl) && in_record) {
                        r = apk_flush(s, &a, path);
                        if (r == -ENOMEM || r == -E2BIG)
                                return r;
                        if (r < 0)
                                skipped++;
                        apk_record_done(&a);
                        in_record = false;
                }
                if (!nl)
                        break;
                p = nl + 1;
        }
        return (int) MIN(skipped, (unsigned) INT32_MAX);
}

int sbom_scan_apk(int root_fd, Sbom *s, size_t *skipped) {
        return sbom_read_and_parse(root_fd, s, APK_INSTALLED_PATH, sbom_parse_apk_installed, skipped);
}
