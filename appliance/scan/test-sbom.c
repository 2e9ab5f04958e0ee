/* Unit tests of appliance/scan/sbom: the dpkg and apk parsers, a synthetic image root with every ecosystem
 * (a symlink out of the root among them, which must not be followed), purls and the CycloneDX document. */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "json-util.h"
#include "macro.h"
#include "sbom-lang.h"
#include "sbom-purl.h"
#include "sbom.h"

#include "tests.h"

static char tmp[] = "/tmp/test-sbom.XXXXXX";

static void put(const char *rel, const char *text) {
        _cleanup_free_ char *p = path_join(tmp, rel);
        char *slash;

        CHECK(p);
        slash = strrchr(p, '/');
        *slash = 0;
        CHECK_OK(mkdir_p(p, 0755));
        CHECK(mkdir(p, 0755) == 0 || errno == EEXIST);
        *slash = '/';
        CHECK_OK(write_file_atomic(p, text, strlen(text), 0644));
}

static const SbomComponent *find(const Sbom *s, const char *ecosystem, const char *name) {
        const SbomComponent *found = NULL;

        for (size_t i = 0; i < s->n_components; i++)
                if (streq(s->components[i].ecosystem, ecosystem) && streq(s->components[i].name, name)) {
                        CHECK(!found); /* each name once in these fixtures */
                        found = &s->components[i];
                }
        return found;
}

static const char dpkg_status[] = "Package: libc6\n"
                                  "Status: install ok installed\n"
                                  "Architecture: amd64\n"
                                  "Source: glibc (2.36-9+deb12u4)\n"
                                  "Version: 2.36-9+deb12u4\n"
                                  "Description: GNU C Library\n"
                                  " a continuation line: with a colon\n"
                                  " .\n"
                                  "\n"
                                  "Package: zlib1g\n"
                                  "Status: install ok installed\n"
                                  "Architecture: amd64\n"
                                  "Source: zlib\n"
                                  "Version: 1:1.2.13.dfsg-1\n"
                                  "\n"
                                  "\n"
                                  "Package: removed-pkg\n"
                                  "Status: deinstall ok config-files\n"
                                  "Version: 1.0\n"
                                  "\n"
                                  "Package: bash\n"
                                  "Status: install ok installed\n"
                                  "Architecture: amd64\n"
                                  "Version: 5.2.15-2+b2\n"
                                  "Source: bash\n"
                                  "\n"
                                  "Package: broken\n"
                                  "Status: install ok installed\n"
                                  "this line has no colon\n"
                                  "Version: 1\n"
                                  "\n"
                                  "Package: truncated\n"
                                  "Status: install ok installed\n";

static void test_dpkg(void) {
        _cleanup_(sbom_freep) Sbom *s = calloc(1, sizeof(Sbom));
        const SbomComponent *c;

        CHECK(s);
        CHECK(sbom_parse_dpkg_status(s, dpkg_status, strlen(dpkg_status), "var/lib/dpkg/status") == 2);
        CHECK(s->n_components == 3);
        c = find(s, "Debian", "libc6");
        CHECK(c);
        CHECK_STREQ(c->version, "2.36-9+deb12u4");
        CHECK_STREQ(c->source, "glibc");
        CHECK_STREQ(c->path, "var/lib/dpkg/status");
        CHECK_STREQ(c->purl, "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&upstream=glibc");
        c = find(s, "Debian", "zlib1g");
        CHECK(c);
        CHECK_STREQ(c->version, "1:1.2.13.dfsg-1");
        CHECK_STREQ(c->purl, "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&upstream=zlib");
        c = find(s, "Debian", "bash");
        CHECK(c);
        CHECK_STREQ(c->source, NULL); /* the same as the package */
        CHECK_STREQ(c->purl, "pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64");
        CHECK(!find(s, "Debian", "removed-pkg"));
        CHECK(!find(s, "Debian", "broken"));
        CHECK(!find(s, "Debian", "truncated"));

        /* Empty input, and bytes that are no stanza at all. */
        CHECK(sbom_parse_dpkg_status(s, "", 0, "x") == 0);
        CHECK(sbom_parse_dpkg_status(s, "\n\n \n", 4, "x") == 0);
        CHECK(sbom_parse_dpkg_status(s, "Package: a\0b\nVersion: 1\n", 24, "x") == 1);
        CHECK(s->n_components == 3);
}

static const char apk_installed[] = "C:Q1abc=\n"
                                    "P:musl\n"
                                    "V:1.2.4-r2\n"
                                    "A:x86_64\n"
                                    "o:musl\n"
                                    "\n"
                                    "P:libcrypto3\n"
                                    "V:3.1.4-r5\n"
                                    "A:x86_64\n"
                                    "o:openssl\n"
                                    "\n"
                                    "P:noversion\n"
                                    "A:x86_64\n"
                                    "\n"
                                    "P:busybox\n"
                                    "V:1.36.1-r15\n"
                                    "A:aarch64";

static void test_apk(void) {
        _cleanup_(sbom_freep) Sbom *s = calloc(1, sizeof(Sbom));
        const SbomComponent *c;

        CHECK(s);
        CHECK(sbom_parse_apk_installed(s, apk_installed, strlen(apk_installed), "lib/apk/db/installed") ==
              1);
        CHECK(s->n_components == 3);
        c = find(s, "Alpine", "musl");
        CHECK(c);
        CHECK_STREQ(c->source, NULL);
        CHECK_STREQ(c->purl, "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64");
        c = find(s, "Alpine", "libcrypto3");
        CHECK(c);
        CHECK_STREQ(c->source, "openssl");
        CHECK_STREQ(c->version, "3.1.4-r5");
        c = find(s, "Alpine", "busybox"); /* the last record, without a final newline */
        CHECK(c);
        CHECK_STREQ(c->purl, "pkg:apk/alpine/busybox@1.36.1-r15?arch=aarch64");
}

static void test_purl(void) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;

        CHECK_OK(sbom_purl_pypi("Foo_Bar", "1.0", &a));
        CHECK_STREQ(a, "pkg:pypi/foo-bar@1.0");
        CHECK_OK(sbom_purl_npm("@types/node", "20.1.0", &b));
        CHECK_STREQ(b, "pkg:npm/%40types/node@20.1.0");
        CHECK_OK(sbom_purl_golang("github.com/a/b c", "v1.2.3+incompatible", &c));
        CHECK_STREQ(c, "pkg:golang/github.com/a/b%20c@v1.2.3%2Bincompatible");
        CHECK_OK(sbom_purl_golang("example.com/app", "(devel)", &d));
        CHECK_STREQ(d, "pkg:golang/example.com/app");
        CHECK_OK(sbom_purl_deb("a", "1?x#y@z/w", NULL, NULL, &e));
        CHECK_STREQ(e, "pkg:deb/debian/a@1%3Fx%23y%40z%2Fw");
}

/* A synthetic Go build info blob (Go >= 1.18 inline form) in a fake ELF executable. */
static void put_go_binary(const char *rel) {
        static const char sentinel_start[16] = "0w\xaf\x0c\x92t\x08\x02"
                                               "A\xe1\xc1\x07\xe6\xd6\x18\xe6";
        static const char sentinel_end[16] = "\xf9"
                                             "2C1\x86\x18 r\x00\x82"
                                             "B\x10"
                                             "A\x16\xd8\xf2";
        const char *mod = "path\texample.com/app/cmd/app\n"
                          "mod\texample.com/app\t(devel)\t\n"
                          "dep\tgithub.com/pkg/errors\tv0.9.1\th1:abc=\n"
                          "dep\tgolang.org/x/sys\tv0.1.0\th1:def=\n"
                          "=>\tgolang.org/x/sys\tv0.2.0\th1:ghi=\n"
                          "build\t-compiler=gc\n";
        _cleanup_free_ char *p = path_join(tmp, rel);
        char buf[4096] = "\x7f"
                         "ELF";
        size_t n = 200, mlen = strlen(mod) + 32;
        _cleanup_close_ int fd = -EBADF;

        /* First a copy of the magic as plain data (as in Go's own toolchain), which must not confuse it. */
        memcpy(buf + 64, "\xff Go buildinf:", 14);
        memcpy(buf + n, "\xff Go buildinf:", 14);
        buf[n + 14] = 8;
        buf[n + 15] = 2;
        n += 32;
        buf[n++] = 8;
        memcpy(buf + n, "go1.22.1", 8);
        n += 8;
        buf[n++] = (char) (0x80 | (mlen & 0x7f));
        buf[n++] = (char) (mlen >> 7);
        memcpy(buf + n, sentinel_start, 16);
        memcpy(buf + n + 16, mod, strlen(mod));
        memcpy(buf + n + 16 + strlen(mod), sentinel_end, 16);
        n += mlen;
        CHECK(p);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
        CHECK(fd >= 0);
        CHECK_OK(loop_write(fd, buf, n + 100));
}

static void build_root(void) {
        char out[sizeof tmp + 16];

        CHECK(mkdtemp(tmp));
        put("root/var/lib/dpkg/status", dpkg_status);
        put("root/var/lib/dpkg/status.d/tzdata",
            "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n");
        put("root/lib/apk/db/installed", apk_installed);
        put("root/usr/lib/python3/dist-packages/Jinja2-3.1.2.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: Jinja2\nVersion: 3.1.2\n\nName: not-a-header\n");
        put("root/usr/local/lib/python3.11/site-packages/typing_extensions-4.9.0.dist-info/METADATA",
            "Metadata-Version: 2.1\r\nName: typing_extensions\r\nVersion: 4.9.0\r\n");
        put("root/usr/local/lib/python3.11/site-packages/broken-1.dist-info/METADATA", "Name: broken\n");
        put("root/app/node_modules/express/package.json", "{\"name\":\"express\",\"version\":\"4.18.2\"}");
        put("root/app/node_modules/express/node_modules/debug/package.json",
            "{\"name\":\"debug\",\"version\":\"2.6.9\"}");
        put("root/app/node_modules/@types/node/package.json",
            "{\"name\":\"@types/node\",\"version\":\"20.1.0\"}");
        put("root/app/node_modules/noversion/package.json", "{\"name\":\"noversion\"}");
        put("root/app/node_modules/.bin/x", "");
        put("root/app/lib/test/package.json",
            "{\"name\":\"fixture\",\"version\":\"0\"}"); /* not in node_modules */
        put("root/usr/bin/placeholder", "");
        put_go_binary("root/usr/bin/app");

        /* Outside the root: a database and a package that symlinks inside must not reach. */
        put("outside/status", "Package: evil\nStatus: install ok installed\nVersion: 6.6.6\n");
        put("outside/pkg/package.json", "{\"name\":\"evil-npm\",\"version\":\"6.6.6\"}");
        snprintf(out, sizeof out, "%s/outside/status", tmp);
        _cleanup_free_ char *l1 = path_join(tmp, "root/var/lib/dpkg/status.d/evil");
        _cleanup_free_ char *l2 = path_join(tmp, "root/app/node_modules/evil");
        _cleanup_free_ char *l3 = path_join(tmp, "root/usr/lib/python3/dist-packages/evil.dist-info");
        CHECK(l1 && l2 && l3);
        CHECK(symlink(out, l1) == 0);
        snprintf(out, sizeof out, "%s/outside/pkg", tmp);
        CHECK(symlink(out, l2) == 0);
        CHECK(symlink(out, l3) == 0);
}

static void test_scan(void) {
        _cleanup_(sbom_freep) Sbom *s = NULL;
        _cleanup_free_ char *root = path_join(tmp, "root");
        _cleanup_close_ int fd = -EBADF;
        const SbomComponent *c;
        size_t skipped = 0;

        CHECK(root);
        fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK(fd >= 0);
        CHECK_OK(sbom_scan_root(fd, &s, &skipped));

        CHECK(find(s, "Debian", "libc6"));
        c = find(s, "Debian", "tzdata"); /* status.d: no Status field */
        CHECK(c);
        CHECK_STREQ(c->path, "var/lib/dpkg/status.d/tzdata");
        CHECK_STREQ(c->purl, "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all");
        CHECK(find(s, "Alpine", "musl"));
        c = find(s, "PyPI", "Jinja2");
        CHECK(c);
        CHECK_STREQ(c->version, "3.1.2");
        CHECK_STREQ(c->purl, "pkg:pypi/jinja2@3.1.2");
        CHECK_STREQ(c->path, "usr/lib/python3/dist-packages/Jinja2-3.1.2.dist-info/METADATA");
        c = find(s, "PyPI", "typing_extensions");
        CHECK(c);
        CHECK_STREQ(c->purl, "pkg:pypi/typing-extensions@4.9.0");
        c = find(s, "npm", "express");
        CHECK(c);
        CHECK_STREQ(c->path, "app/node_modules/express/package.json");
        c = find(s, "npm", "debug");
        CHECK(c);
        CHECK_STREQ(c->path, "app/node_modules/express/node_modules/debug/package.json");
        CHECK_STREQ(c->purl, "pkg:npm/debug@2.6.9");
        c = find(s, "npm", "@types/node");
        CHECK(c);
        CHECK_STREQ(c->purl, "pkg:npm/%40types/node@20.1.0");
        CHECK(!find(s, "npm", "fixture"));
        c = find(s, "Go", "example.com/app");
        CHECK(c);
        CHECK_STREQ(c->path, "usr/bin/app");
        CHECK_STREQ(c->version, "(devel)");
        CHECK_STREQ(find(s, "Go", "github.com/pkg/errors")->purl, "pkg:golang/github.com/pkg/errors@v0.9.1");
        CHECK_STREQ(find(s, "Go", "golang.org/x/sys")->version, "v0.2.0"); /* the replacement */

        /* Nothing from outside the root. */
        CHECK(!find(s, "Debian", "evil"));
        CHECK(!find(s, "npm", "evil-npm"));
        CHECK(!find(s, "PyPI", "evil-npm"));

        /* Skipped: dpkg's broken and truncated stanzas, apk's record without a version, the broken METADATA
         * and the npm package without a version.  The symlinks are not entries: the walk does not follow
         * them, and the status.d one resolves inside the root to nothing, like a missing database. */
        if (skipped != 5)
                TEST_FAIL("skipped %zu", skipped);
        CHECK(s->n_components == 3 + 1 + 3 + 2 + 3 + 3);
}

static void test_cyclonedx(void) {
        _cleanup_(sbom_freep) Sbom *s = calloc(1, sizeof(Sbom));
        _cleanup_json_ json_t *j = NULL, *j2 = NULL;
        const char *serial, *serial2, *ts;
        json_t *comps, *c;
        int64_t v;
        regex_t re;

        CHECK(s);
        CHECK(sbom_parse_dpkg_status(s, dpkg_status, strlen(dpkg_status), "var/lib/dpkg/status") == 2);
        CHECK(sbom_parse_dpkg_status(s, dpkg_status, strlen(dpkg_status), "var/lib/dpkg/status") == 2);
        CHECK_OK(sbom_add(s, "example.com/app", "(devel)", "Go", NULL, "usr/bin/app",
                          "pkg:golang/example.com/app"));
        CHECK_OK(sbom_add(s, "golang.org/x/sys", "v0.2.0", "Go", NULL, "usr/bin/app",
                          "pkg:golang/golang.org/x/sys"));
        CHECK(sbom_add(s, "bad\nname", "1", "Go", NULL, NULL, NULL) == -EBADMSG);
        CHECK(sbom_add(s, "bad\xff", "1", "Go", NULL, NULL, NULL) == -EBADMSG);
        CHECK_OK(sbom_to_cyclonedx(s, "registry.example/app:1", &j));

        CHECK(json_is_object(j));
        CHECK_STREQ(json_string_value(json_object_get(j, "bomFormat")), "CycloneDX");
        CHECK_STREQ(json_string_value(json_object_get(j, "specVersion")), "1.5");
        CHECK_OK(json_get_int(j, "version", &v));
        CHECK(v == 1);
        CHECK_OK(json_get_string(j, "serialNumber", &serial));
        CHECK(regcomp(&re, "^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
                      REG_EXTENDED | REG_NOSUB) == 0);
        CHECK(regexec(&re, serial, 0, NULL, 0) == 0);
        CHECK(strlen(serial) == strlen("urn:uuid:") + 36);
        regfree(&re);
        CHECK_OK(sbom_to_cyclonedx(s, "registry.example/app:1", &j2));
        CHECK_OK(json_get_string(j2, "serialNumber", &serial2));
        CHECK(!streq(serial, serial2));

        ts = json_string_value(json_object_get(json_object_get(j, "metadata"), "timestamp"));
        CHECK(ts);
        CHECK(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
                      REG_EXTENDED | REG_NOSUB) == 0);
        CHECK(regexec(&re, ts, 0, NULL, 0) == 0);
        regfree(&re);
        c = json_object_get(json_object_get(j, "metadata"), "component");
        CHECK_STREQ(json_string_value(json_object_get(c, "type")), "container");
        CHECK_STREQ(json_string_value(json_object_get(c, "name")), "registry.example/app:1");

        CHECK_OK(json_get_array(j, "components", &comps));
        CHECK(json_array_size(comps) == 8);
        c = json_array_get(comps, 0);
        CHECK_STREQ(json_string_value(json_object_get(c, "type")), "library");
        CHECK_STREQ(json_string_value(json_object_get(c, "name")), "libc6");
        CHECK_STREQ(json_string_value(json_object_get(c, "version")), "2.36-9+deb12u4");
        CHECK_STREQ(json_string_value(json_object_get(c, "purl")),
                    "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&upstream=glibc");
        CHECK_STREQ(json_string_value(json_object_get(c, "bom-ref")),
                    "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&upstream=glibc");
        /* The same package twice: bom-refs stay unique. */
        CHECK(!streq(json_string_value(json_object_get(json_array_get(comps, 3), "bom-ref")),
                     json_string_value(json_object_get(c, "bom-ref"))));
        CHECK_STREQ(json_string_value(json_object_get(json_array_get(comps, 6), "type")), "application");
        CHECK_STREQ(json_string_value(json_object_get(json_array_get(comps, 7), "type")), "library");
}

int main(void) {
        test_purl();
        test_dpkg();
        test_apk();
        test_cyclonedx();
        build_root();
        test_scan();
        (void) rm_rf(tmp);
        return EXIT_SUCCESS;
}
