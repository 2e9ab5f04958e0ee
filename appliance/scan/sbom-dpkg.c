/* dpkg status parsing.  Stanzas are separated by blank lines, fields are "Name: value" with continuation
 * lines starting with a space or tab.  Invariant: a stanza is either taken whole or skipped and counted;
 * nothing of it survives a malformed line. */
#include "sbom-dpkg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fs-util.h"
#include "macro.h"
#include "path-confine.h"
#include "sbom-file.h"
#include "sbom-purl.h"

#define DPKG_STATUS_PATH "var/lib/dpkg/status"
#define DPKG_STATUS_D_PATH "var/lib/dpkg/status.d"

typedef struct DpkgStanza {
        /* Pointers into the stanza's own copy, each value trimmed. */
        char *package, *version, *source, *status, *arch;
        bool bad;
} DpkgStanza;

static bool is_blank_line(const char *p, const char *end) {
        for (; p < end; p++)
                if (*p != ' ' && *p != '\t' && *p != '\r')
                        return false;
        return true;
}

static char *trim(char *s) {
        char *e;

        while (*s == ' ' || *s == '\t')
                s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                *--e = 0;
        return s;
}

/* Parses one line (NUL-terminated, in a writable copy) into st. */
static void dpkg_field(DpkgStanza *st, char *line) {
        static const struct {
                const char *name;
                size_t offset;
        } fields[] = {
                { "Package", offsetof(DpkgStanza, package) },   { "Version", offsetof(DpkgStanza, version) },
                { "Source", offsetof(DpkgStanza, source) },     { "Status", offsetof(DpkgStanza, status) },
                { "Architecture", offsetof(DpkgStanza, arch) },
        };
        char *colon, *value;

        if (line[0] == ' ' || line[0] == '\t')
                return; /* continuation of a field we do not read (Description, Conffiles) */
        colon = strchr(line, ':');
        if (!colon || colon == line) {
                st->bad = true;
                return;
        }
        *colon = 0;
        value = trim(colon + 1);
        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                char **slot = (char **) ((char *) st + fields[i].offset);

                if (strcasecmp(line, fields[i].name) != 0)
                        continue;
                if (*slot)
                        st->bad = true; /* a field twice: which one dpkg meant is unknown */
                *slot = value;
        }
}

static bool dpkg_installed(const char *status) {
        char want[16], flag[16], state[32];

        /* "install ok installed", with any spacing; "hold ok installed" is installed too. */
        if (sscanf(status, "%15s %15s %31s", want, flag, state) != 3)
                return false;
        return streq(flag, "ok") && streq(state, "installed");
}

/* Takes one stanza [p, end): 1 when added, 0 when not installed, -EBADMSG when malformed. */
static int dpkg_stanza(Sbom *s, const char *p, const char *end, const char *path, bool need_status) {
        _cleanup_free_ char *copy = strndup(p, (size_t) (end - p));
        _cleanup_free_ char *purl = NULL, *source = NULL;
        DpkgStanza st = {};
        int r;

        if (!copy)
                return -ENOMEM;
        if (strlen(copy) != (size_t) (end - p))
                return -EBADMSG; /* a NUL byte inside */
        for (char *line = copy, *nl; line; line = nl) {
                nl = strchr(line, '\n');
                if (nl)
                        *nl++ = 0;
                if (*line)
                        dpkg_field(&st, line);
        }
        if (st.bad || isempty(st.package) || isempty(st.version))
                return -EBADMSG;
        if (st.status ? !dpkg_installed(st.status) : need_status)
                return 0;
        if (strpbrk(st.package, " \t") || strpbrk(st.version, " \t"))
                return -EBADMSG;
        if (st.source) {
                /* "Source: name (version)": the name is what the purl's upstream names. */
                size_t n = strcspn(st.source, " \t(");

                if (n == 0)
                        return -EBADMSG;
                source = strndup(st.source, n);
                if (!source)
                        return -ENOMEM;
                if (streq(source, st.package)) {
                        free(source);
                        source = NULL;
                }
        }
        r = sbom_purl_deb(st.package, st.version, st.arch, source, &purl);
        if (r < 0)
                return r;
        r = sbom_add(s, st.package, st.version, "Debian", source, path, purl);
        return r < 0 ? r : 1;
}

static int dpkg_parse(Sbom *s, const char *data, size_t size, const char *path, bool need_status) {
        const char *p = data, *end = data + size, *start = NULL;
        unsigned skipped = 0;
        int r;

        for (;;) {
                const char *nl = p < end ? memchr(p, '\n', (size_t) (end - p)) : NULL;
                const char *eol = nl ?: end;
                bool blank = is_blank_line(p, eol);

                if (!blank && !start)
                        start = p;
                if ((blank || !nl) && start) {
                        r = dpkg_stanza(s, start, blank ? p : end, path, need_status);
                        if (r == -ENOMEM || r == -E2BIG)
                                return r;
                        if (r < 0)
                                skipped++;
                        start = NULL;
                }
                if (!nl)
                        break;
                p = nl + 1;
        }
        return (int) MIN(skipped, (unsigned) INT32_MAX);
}

int sbom_parse_dpkg_status(Sbom *s, const char *data, size_t size, const char *path) {
        /* Distroless status.d files carry no Status field: each file is one installed package. */
        bool status_d = path && strstr(path, "status.d/");

        return dpkg_parse(s, data, size, path, !status_d);
}

static int dpkg_read(int root_fd, Sbom *s, const char *path, size_t *skipped) {
        return sbom_read_and_parse(root_fd, s, path, sbom_parse_dpkg_status, skipped);
}

int sbom_scan_dpkg(int root_fd, Sbom *s, size_t *skipped) {
        _cleanup_(closedirp) DIR *d = NULL;
        unsigned n = 0;
        int fd, r;

        r = dpkg_read(root_fd, s, DPKG_STATUS_PATH, skipped);
        if (r < 0)
                return r;

        fd = confine_open(root_fd, DPKG_STATUS_D_PATH, O_RDONLY | O_DIRECTORY, 0);
        if (fd < 0)
                return 0;
        if (fdopendir_consume(fd, &d) < 0)
                return 0;
        for (struct dirent *de; (de = readdir_no_dot(d));) {
                _cleanup_free_ char *path = NULL;

                if (de->d_name[0] == '.')
                        continue;
                if (++n > SBOM_DPKG_STATUS_D_MAX) {
                        (*skipped)++;
                        break;
                }
                path = path_join(DPKG_STATUS_D_PATH, de->d_name);
                if (!path)
                        return -ENOMEM;
                r = dpkg_read(root_fd, s, path, skipped);
                if (r < 0)
                        return r;
        }
        return 0;
}
