/* Bounded walks for language packages.  Invariant: below the walk's start directories (opened with
 * confine_open), every name is one component opened with O_NOFOLLOW on its parent's fd, so nothing the walk
 * reaches lies outside the root; the entry count and depth limits hold for any tree. */
#include "sbom-lang.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "fs-util.h"
#include "json-util.h"
#include "macro.h"
#include "path-confine.h"
#include "sbom-file.h"
#include "sbom-purl.h"
#include "string-util.h"

#define GO_BUILDINFO_MAGIC "\xff Go buildinf:"
#define GO_BUILDINFO_MAGIC_LEN 14U
#define GO_BUILDINFO_HEADER 32U
#define GO_SCAN_CHUNK (1024U * 1024U)
#define SBOM_WALK_STARTS_MAX 16U

typedef enum WalkKind {
        WALK_PACKAGES, /* Python and npm */
        WALK_EXECUTABLES,
} WalkKind;

typedef struct Walk {
        Sbom *s;
        size_t *skipped;
        unsigned entries, binaries;
        bool truncated;
        struct stat starts[SBOM_WALK_STARTS_MAX];
        size_t n_starts;
} Walk;

static bool is_fatal(int r) {
        return r == -ENOMEM || r == -E2BIG;
}

/* Counts one more directory entry: false once the scan's budget is spent. */
static bool walk_budget(Walk *w) {
        if (w->entries >= SBOM_WALK_ENTRIES_MAX) {
                if (!w->truncated)
                        (*w->skipped)++;
                w->truncated = true;
                return false;
        }
        w->entries++;
        return true;
}

static int entry_type(int dfd, const struct dirent *de) {
        struct stat st;

        if (de->d_type != DT_UNKNOWN)
                return de->d_type;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return DT_UNKNOWN;
        return S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
}

static int open_child(int dfd, const char *name, int flags) {
        int fd = openat(dfd, name, flags | O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

        return fd < 0 ? -errno : fd;
}

/* Reads dfd/name (one component, not followed if a symlink) up to SBOM_MANIFEST_FILE_MAX. */
static int read_child(int dfd, const char *name, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = open_child(dfd, name, 0);

        if (fd < 0)
                return fd;
        return sbom_read_fd(fd, SBOM_MANIFEST_FILE_MAX, ret, ret_size);
}

static int skip(Walk *w, int r) {
        if (is_fatal(r))
                return r;
        (*w->skipped)++;
        return 0;
}

/* --- Python --- */

/* The value of header "key" in the RFC 822 head of a METADATA file (before the first blank line). */
static char *metadata_header(char *data, const char *key) {
        size_t klen = strlen(key);

        for (char *line = data; line && *line && *line != '\n' && *line != '\r';) {
                char *nl = strchr(line, '\n');

                if (strncasecmp(line, key, klen) == 0 && line[klen] == ':') {
                        char *v = line + klen + 1, *e = nl ?: v + strlen(v);

                        while (*v == ' ' || *v == '\t')
                                v++;
                        while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
                                e--;
                        return strndup(v, (size_t) (e - v));
                }
                line = nl ? nl + 1 : NULL;
        }
        return NULL;
}

static int python_dist_info(Walk *w, int dfd, const char *rel) {
        _cleanup_free_ char *data = NULL, *name = NULL, *version = NULL, *purl = NULL, *path = NULL;
        size_t size;
        int r;

        r = read_child(dfd, "METADATA", &data, &size);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return skip(w, r);
        name = metadata_header(data, "Name");
        version = metadata_header(data, "Version");
        if (isempty(name) || isempty(version))
                return skip(w, -EBADMSG);
        path = path_join(rel, "METADATA");
        if (!path)
                return -ENOMEM;
        r = sbom_purl_pypi(name, version, &purl);
        if (r >= 0)
                r = sbom_add(w->s, name, version, "PyPI", NULL, path, purl);
        return r < 0 ? skip(w, r) : 0;
}

static int python_site(Walk *w, int fd, const char *rel) {
        _cleanup_(closedirp) DIR *d = NULL;
        int r;

        r = fdopendir_consume(fd, &d);
        if (r < 0)
                return skip(w, r);
        for (struct dirent *de; (de = readdir_no_dot(d)) && walk_budget(w);) {
                _cleanup_free_ char *crel = NULL;
                _cleanup_close_ int cfd = -EBADF;

                if (!endswith(de->d_name, ".dist-info") || entry_type(dirfd(d), de) != DT_DIR)
                        continue;
                cfd = open_child(dirfd(d), de->d_name, O_DIRECTORY);
                if (cfd < 0)
                        continue;
                crel = path_join(rel, de->d_name);
                if (!crel)
                        return -ENOMEM;
                r = python_dist_info(w, cfd, crel);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* --- npm --- */

static int npm_modules(Walk *w, int fd, const char *rel, unsigned depth);

static int npm_package(Walk *w, int fd, const char *rel, unsigned depth) {
        _cleanup_free_ char *data = NULL, *path = NULL, *purl = NULL;
        _cleanup_json_ json_t *j = NULL;
        const char *name = NULL, *version = NULL;
        size_t size;
        int nfd, r;

        r = read_child(fd, "package.json", &data, &size);
        if (r >= 0) {
                r = json_parse_buffer(data, size, &j, NULL);
                if (r >= 0 &&
                    (!json_is_object(j) || json_get_string(j, "name", &name) < 0 ||
                     json_get_string(j, "version", &version) < 0 || isempty(name) || isempty(version)))
                        r = -EBADMSG;
                path = path_join(rel, "package.json");
                if (!path)
                        return -ENOMEM;
                if (r >= 0)
                        r = sbom_purl_npm(name, version, &purl);
                if (r >= 0)
                        r = sbom_add(w->s, name, version, "npm", NULL, path, purl);
                if (r < 0 && skip(w, r) < 0)
                        return r;
        } else if (r != -ENOENT && skip(w, r) < 0)
                return r;

        if (depth >= SBOM_WALK_DEPTH_MAX)
                return 0;
        nfd = open_child(fd, "node_modules", O_DIRECTORY);
        if (nfd < 0)
                return 0;
        _cleanup_free_ char *nrel = path_join(rel, "node_modules");
        if (!nrel) {
                safe_close(nfd);
                return -ENOMEM;
        }
        return npm_modules(w, nfd, nrel, depth + 1);
}

/* A node_modules directory (fd is consumed): its packages, "@scope/name" ones included. */
static int npm_modules(Walk *w, int fd, const char *rel, unsigned depth) {
        _cleanup_(closedirp) DIR *d = NULL;
        int r;

        r = fdopendir_consume(fd, &d);
        if (r < 0)
                return skip(w, r);
        for (struct dirent *de; (de = readdir_no_dot(d)) && walk_budget(w);) {
                _cleanup_free_ char *crel = NULL;
                _cleanup_close_ int cfd = -EBADF;

                if (de->d_name[0] == '.' || entry_type(dirfd(d), de) != DT_DIR)
                        continue; /* .bin, .package-lock.json; symlinked packages are not followed */
                cfd = open_child(dirfd(d), de->d_name, O_DIRECTORY);
                if (cfd < 0)
                        continue;
                crel = path_join(rel, de->d_name);
                if (!crel)
                        return -ENOMEM;
                if (de->d_name[0] == '@') {
                        /* A scope: a directory of packages, one level deeper. */
                        if (depth + 1 < SBOM_WALK_DEPTH_MAX)
                                r = npm_modules(w, TAKE_FD(cfd), crel, depth + 1);
                        else
                                r = 0;
                } else
                        r = npm_package(w, cfd, crel, depth + 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* --- Go --- */

static bool uvarint(const unsigned char **p, const unsigned char *end, uint64_t *ret) {
        uint64_t v = 0;

        for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
                unsigned char b = *(*p)++;

                v |= (uint64_t) (b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        *ret = v;
                        return true;
                }
        }
        return false;
}

static int go_add(Sbom *s, const char *module, const char *version, const char *path) {
        _cleanup_free_ char *purl = NULL;
        int r;

        r = sbom_purl_golang(module, version, &purl);
        if (r < 0)
                return r;
        r = sbom_add(s, module, version, "Go", NULL, path, purl);
        return r == -EBADMSG ? 0 : r; /* one odd module line does not lose the binary's others */
}

int sbom_parse_go_buildinfo(Sbom *s, const unsigned char *data, size_t size, const char *path) {
        const unsigned char *p = data + GO_BUILDINFO_HEADER, *end = data + size;
        _cleanup_free_ char *mod = NULL, *dep = NULL, *dep_version = NULL;
        uint64_t vlen, mlen;
        const char *m;
        size_t n;
        int r;

        if (size < GO_BUILDINFO_HEADER || memcmp(data, GO_BUILDINFO_MAGIC, GO_BUILDINFO_MAGIC_LEN) != 0)
                return 0;
        if ((data[14] != 4 && data[14] != 8) || !(data[15] & 2))
                return 0; /* pre-1.18 layout: pointers into the data segment, not read */
        if (!uvarint(&p, end, &vlen) || vlen < 2 || vlen > 64 || vlen > (uint64_t) (end - p) ||
            memcmp(p, "go", 2) != 0)
                return 0;
        p += vlen;
        if (!uvarint(&p, end, &mlen) || mlen > (uint64_t) (end - p))
                return 0;
        m = (const char *) p;
        n = (size_t) mlen;
        /* The runtime wraps the text in 16-byte sentinels; the text itself ends with a newline. */
        if (n >= 33 && m[n - 17] == '\n') {
                m += 16;
                n -= 32;
        }
        mod = strndup(m, n);
        if (!mod)
                return -ENOMEM;
        for (char *line = mod, *nl; line; line = nl) {
                char *f[4] = {};
                size_t k = 0;

                nl = strchr(line, '\n');
                if (nl)
                        *nl++ = 0;
                for (char *t = line; t && k < 4; k++) {
                        f[k] = t;
                        t = strchr(t, '\t');
                        if (t)
                                *t++ = 0;
                }
                if (!f[0] || !f[1] || !f[2])
                        continue;
                if (streq(f[0], "=>") && dep) {
                        /* A replacement of the dependency before it: the module actually built in. */
                        free(dep);
                        free(dep_version);
                        dep = strdup(f[1]);
                        dep_version = strdup(f[2]);
                        if (!dep || !dep_version)
                                return -ENOMEM;
                        continue;
                }
                if (dep) {
                        r = go_add(s, dep, dep_version, path);
                        if (r < 0)
                                return r;
                        free(dep);
                        dep = NULL;
                        free(dep_version);
                        dep_version = NULL;
                }
                if (streq(f[0], "mod")) {
                        r = go_add(s, f[1], f[2], path);
                        if (r < 0)
                                return r;
                } else if (streq(f[0], "dep")) {
                        dep = strdup(f[1]);
                        dep_version = strdup(f[2]);
                        if (!dep || !dep_version)
                                return -ENOMEM;
                }
        }
        if (dep) {
                r = go_add(s, dep, dep_version, path);
                if (r < 0)
                        return r;
        }
        return 1;
}

/* Searches the executable for the build info header; each candidate is checked, since the magic text can
 * also appear as data (Go's own toolchain holds it as a constant). */
static int go_binary(Walk *w, int fd, off_t size, const char *rel) {
        _cleanup_free_ unsigned char *buf = malloc(GO_SCAN_CHUNK + GO_BUILDINFO_MAGIC_LEN);
        unsigned char elf[4];
        off_t off = 0;

        if (!buf)
                return -ENOMEM;
        if (pread(fd, elf, sizeof elf, 0) != (ssize_t) sizeof elf || memcmp(elf,
                                                                            "\x7f"
                                                                            "ELF",
                                                                            4) != 0)
                return 0;
        while (off < size) {
                ssize_t n = pread(fd, buf, GO_SCAN_CHUNK + GO_BUILDINFO_MAGIC_LEN - 1, off);

                if (n < 0)
                        return skip(w, -errno);
                if ((size_t) n < GO_BUILDINFO_MAGIC_LEN)
                        break;
                for (unsigned char *p = buf; (p = memmem(p, (size_t) n - (size_t) (p - buf),
                                                         GO_BUILDINFO_MAGIC, GO_BUILDINFO_MAGIC_LEN));
                     p++) {
                        off_t at = off + (p - buf);
                        size_t want = GO_BUILDINFO_HEADER + SBOM_GO_MODINFO_MAX;
                        _cleanup_free_ unsigned char *info = malloc(want);
                        ssize_t got;
                        int r;

                        if (!info)
                                return -ENOMEM;
                        got = pread(fd, info, want, at);
                        if (got < 0)
                                return skip(w, -errno);
                        r = sbom_parse_go_buildinfo(w->s, info, (size_t) got, rel);
                        if (r != 0)
                                return r < 0 ? r : 0;
                }
                off += GO_SCAN_CHUNK;
        }
        return 0;
}

static int go_candidate(Walk *w, int dfd, const char *name, const char *rel) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
            !(st.st_mode & 0111) || st.st_size < (off_t) GO_BUILDINFO_HEADER ||
            st.st_size > (off_t) SBOM_GO_BINARY_MAX)
                return 0;
        if (w->binaries >= SBOM_GO_BINARIES_MAX)
                return 0;
        w->binaries++;
        fd = open_child(dfd, name, 0);
        if (fd < 0)
                return skip(w, fd);
        return go_binary(w, fd, st.st_size, rel);
}

/* --- the walk --- */

/* Walks the directory fd (consumed) at rel. */
static int walk_dir(Walk *w, int fd, const char *rel, unsigned depth, WalkKind kind) {
        _cleanup_(closedirp) DIR *d = NULL;
        int r;

        r = fdopendir_consume(fd, &d);
        if (r < 0)
                return skip(w, r);
        for (struct dirent *de; (de = readdir_no_dot(d)) && walk_budget(w);) {
                _cleanup_free_ char *crel = path_join(rel, de->d_name);
                int type = entry_type(dirfd(d), de), cfd;

                if (!crel)
                        return -ENOMEM;
                if (kind == WALK_EXECUTABLES && type == DT_REG) {
                        r = go_candidate(w, dirfd(d), de->d_name, crel);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (type != DT_DIR || depth + 1 >= SBOM_WALK_DEPTH_MAX)
                        continue;
                cfd = open_child(dirfd(d), de->d_name, O_DIRECTORY);
                if (cfd < 0)
                        continue;
                if (kind == WALK_PACKAGES &&
                    (streq(de->d_name, "site-packages") || streq(de->d_name, "dist-packages")))
                        r = python_site(w, cfd, crel);
                else if (kind == WALK_PACKAGES && streq(de->d_name, "node_modules"))
                        r = npm_modules(w, cfd, crel, depth + 1);
                else
                        r = walk_dir(w, cfd, crel, depth + 1, kind);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Opens a walk's start inside the root (following symlinks there, as the image would) and walks it, once:
 * bin is often a symlink to usr/bin, and a directory reached twice is not walked again. */
static int walk_start(Walk *w, int root_fd, const char *start, WalkKind kind) {
        struct stat st;
        int fd;

        fd = confine_open(root_fd, start, O_RDONLY | O_DIRECTORY, 0);
        if (fd < 0)
                return 0;
        if (fstat(fd, &st) < 0) {
                safe_close(fd);
                return 0;
        }
        for (size_t i = 0; i < w->n_starts; i++)
                if (w->starts[i].st_dev == st.st_dev && w->starts[i].st_ino == st.st_ino) {
                        safe_close(fd);
                        return 0;
                }
        if (w->n_starts < SBOM_WALK_STARTS_MAX)
                w->starts[w->n_starts++] = st;
        return walk_dir(w, fd, start, 0, kind);
}

int sbom_scan_lang(int root_fd, Sbom *s, size_t *skipped) {
        static const char *const package_starts[] = {
                "usr/lib", "usr/local/lib", "opt", "app", "srv", "home"
        };
        static const char *const exec_starts[] = { "usr/bin", "usr/local/bin", "bin", "app", "opt" };
        Walk w = { .s = s, .skipped = skipped };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(package_starts); i++) {
                r = walk_start(&w, root_fd, package_starts[i], WALK_PACKAGES);
                if (r < 0)
                        return r;
        }
        /* The executable walk looks at app and opt again: its own set of starts. */
        w.n_starts = 0;
        for (size_t i = 0; i < ELEMENTSOF(exec_starts); i++) {
                r = walk_start(&w, root_fd, exec_starts[i], WALK_EXECUTABLES);
                if (r < 0)
                        return r;
        }
        return 0;
}
