/* The SBOM of an unpacked image: runs each ecosystem's scanner below the root and writes CycloneDX 1.5.
 * Invariant: every component holds valid UTF-8 without control characters, so the JSON never refuses it. */
#include "sbom.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json-util.h"
#include "macro.h"
#include "path-confine.h"
#include "sbom-apk.h"
#include "sbom-dpkg.h"
#include "sbom-lang.h"
#include "utf8.h"

static void sbom_component_done(SbomComponent *c) {
        free(c->name);
        free(c->version);
        free(c->ecosystem);
        free(c->source);
        free(c->path);
        free(c->purl);
}

Sbom *sbom_free(Sbom *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_components; i++)
                sbom_component_done(&s->components[i]);
        free(s->components);
        free(s);
        return NULL;
}

static bool sbom_string_ok(const char *s, bool need) {
        if (!s)
                return !need;
        if (need && !*s)
                return false;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return false;
        return utf8_is_valid(s, strlen(s));
}

int sbom_add(Sbom *s, const char *name, const char *version, const char *ecosystem, const char *source,
             const char *path, const char *purl) {
        SbomComponent c = {};
        size_t n = s->n_components;

        if (!sbom_string_ok(name, true) || !sbom_string_ok(version, true) ||
            !sbom_string_ok(ecosystem, true) || !sbom_string_ok(source, false) ||
            !sbom_string_ok(path, false) || !sbom_string_ok(purl, false))
                return -EBADMSG;
        if (n >= SBOM_COMPONENTS_MAX)
                return -E2BIG;
        /* The capacity is implied by the count: 16, then doubled each time n reaches a power of two. */
        if (n == 0 || (n >= 16 && (n & (n - 1)) == 0)) {
                SbomComponent *a = reallocarray(s->components, n == 0 ? 16 : n * 2, sizeof(SbomComponent));

                if (!a)
                        return -ENOMEM;
                s->components = a;
        }
        c.name = strdup(name);
        c.version = strdup(version);
        c.ecosystem = strdup(ecosystem);
        c.source = source ? strdup(source) : NULL;
        c.path = path ? strdup(path) : NULL;
        c.purl = purl ? strdup(purl) : NULL;
        if (!c.name || !c.version || !c.ecosystem || (source && !c.source) || (path && !c.path) ||
            (purl && !c.purl)) {
                sbom_component_done(&c);
                return -ENOMEM;
        }
        s->components[n] = c;
        s->n_components = n + 1;
        return 0;
}

int sbom_scan_root(int root_fd, Sbom **ret, size_t *ret_skipped) {
        _cleanup_(sbom_freep) Sbom *s = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t skipped = 0;
        int r;

        fd = confine_open(root_fd, ".", O_RDONLY | O_DIRECTORY, 0);
        if (fd < 0)
                return fd;
        s = calloc(1, sizeof(Sbom));
        if (!s)
                return -ENOMEM;
        r = sbom_scan_dpkg(fd, s, &skipped);
        if (r >= 0)
                r = sbom_scan_apk(fd, s, &skipped);
        if (r >= 0)
                r = sbom_scan_lang(fd, s, &skipped);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        if (ret_skipped)
                *ret_skipped = skipped;
        return 0;
}

/* A random RFC 4122 version 4 UUID as "urn:uuid:xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx". */
static int sbom_serial(char ret[static 46]) {
        uint8_t b[16];
        char *p = ret;

        if (sodium_init() < 0)
                return -EIO;
        randombytes_buf(b, sizeof b);
        b[6] = (uint8_t) ((b[6] & 0x0f) | 0x40);
        b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80);
        p += sprintf(p, "urn:uuid:");
        for (size_t i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        *p++ = '-';
                p += sprintf(p, "%02x", b[i]);
        }
        return 0;
}

static int sbom_timestamp(char ret[static 32]) {
        struct tm tm;
        time_t now = time(NULL);

        if (!gmtime_r(&now, &tm) || strftime(ret, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                return -EIO;
        return 0;
}

/* A Go binary's main module is its first component: the one before it has another path or ecosystem. */
static bool sbom_is_application(const Sbom *s, size_t i) {
        const SbomComponent *c = &s->components[i], *prev = i > 0 ? &s->components[i - 1] : NULL;

        if (!streq(c->ecosystem, "Go"))
                return false;
        return !prev || !streq(prev->ecosystem, "Go") || !streq_ptr(prev->path, c->path);
}

int sbom_to_cyclonedx(const Sbom *s, const char *image_name, json_t **ret) {
        _cleanup_json_ json_t *bom = NULL, *components = NULL, *refs = NULL;
        char serial[46], ts[32];
        int r;

        r = sbom_serial(serial);
        if (r >= 0)
                r = sbom_timestamp(ts);
        if (r < 0)
                return r;
        components = json_array();
        refs = json_object();
        if (!components || !refs)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_components; i++) {
                const SbomComponent *c = &s->components[i];
                _cleanup_free_ char *ref = NULL;
                json_t *o;

                /* bom-ref must be unique in the document: the purl, or the purl and the index again. */
                ref = strdup(c->purl ?: c->name);
                if (ref && json_object_get(refs, ref)) {
                        free(ref);
                        ref = NULL;
                        if (asprintf(&ref, "%s#%zu", c->purl ?: c->name, i) < 0)
                                ref = NULL;
                }
                if (!ref || json_object_set_new(refs, ref, json_true()) < 0)
                        return -ENOMEM;
                o = json_pack("{s:s, s:s, s:s, s:s}", "type",
                              sbom_is_application(s, i) ? "application" : "library", "name", c->name,
                              "version", c->version, "bom-ref", ref);
                if (!o)
                        return -ENOMEM;
                if (c->purl && json_object_set_new(o, "purl", json_string(c->purl)) < 0) {
                        json_decref(o);
                        return -ENOMEM;
                }
                if (json_array_append_new(components, o) < 0)
                        return -ENOMEM;
        }
        bom = json_pack("{s:s, s:s, s:s, s:i, s:{s:s, s:{s:s, s:s}}, s:O}", "bomFormat", "CycloneDX",
                        "specVersion", "1.5", "serialNumber", serial, "version", 1, "metadata", "timestamp",
                        ts, "component", "type", "container", "name", image_name ?: "image", "components",
                        components);
        if (!bom)
                return -ENOMEM;
        *ret = TAKE_PTR(bom);
        return 0;
}
