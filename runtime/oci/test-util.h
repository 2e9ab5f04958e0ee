/* Helpers for the runtime/oci unit tests: checks, scratch directories and small tar archives
 * written with libarchive (so tests build their own images, no fixtures from elsewhere). */
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digest.h"
#include "fs-util.h"
#include "macro.h"

#include "tests.h"

#define CHECK_ERR(call, code, substr)                                                                  \
        do {                                                                                           \
                int _r = (call);                                                                       \
                if (_r != (code) || !strstr(err.message, (substr))) {                                  \
                        fprintf(stderr, "%s:%d: %s returned %d (%s), want %d with \"%s\"\n", __FILE__, \
                                __LINE__, #call, _r, err.message, (code), (substr));                   \
                        exit(1);                                                                       \
                }                                                                                      \
                if (getenv("OCI_TEST_VERBOSE"))                                                        \
                        fprintf(stderr, "%s\n  hint: %s\n", err.message, err.hint);                    \
        } while (0)

typedef struct TarEntry {
        const char *path;
        const void *data; /* NULL with symlink set → symlink */
        size_t size;
        const char *symlink;
} TarEntry;

/* Writes a tar (filter: "none", "gzip" or "zstd") of the entries to path. */
static inline void tar_write(const char *path, const char *filter, const TarEntry *entries, size_t n) {
        struct archive *a = archive_write_new();
        CHECK(a);
        CHECK(archive_write_set_format_pax_restricted(a) == ARCHIVE_OK);
        if (streq(filter, "gzip"))
                CHECK(archive_write_add_filter_gzip(a) == ARCHIVE_OK);
        else if (streq(filter, "zstd"))
                CHECK(archive_write_add_filter_zstd(a) == ARCHIVE_OK);
        CHECK(archive_write_open_filename(a, path) == ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                struct archive_entry *e = archive_entry_new();
                archive_entry_set_pathname(e, entries[i].path);
                if (entries[i].symlink) {
                        archive_entry_set_filetype(e, AE_IFLNK);
                        archive_entry_set_symlink(e, entries[i].symlink);
                        archive_entry_set_perm(e, 0777);
                } else {
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_perm(e, 0644);
                        archive_entry_set_size(e, (la_int64_t) entries[i].size);
                }
                CHECK(archive_write_header(a, e) == ARCHIVE_OK);
                if (!entries[i].symlink && entries[i].size > 0)
                        CHECK(archive_write_data(a, entries[i].data, entries[i].size) ==
                              (la_ssize_t) entries[i].size);
                archive_entry_free(e);
        }
        CHECK(archive_write_close(a) == ARCHIVE_OK);
        archive_write_free(a);
}

static inline char *tmpdir_new(const char *name) {
        char *p;
        CHECK(asprintf(&p, "/tmp/%s-XXXXXX", name) > 0);
        CHECK(mkdtemp(p));
        return p;
}

static inline char *path_of(const char *dir, const char *name) {
        char *p = path_join(dir, name);
        CHECK(p);
        return p;
}

static inline void file_read(const char *path, char **ret, size_t *ret_size) {
        CHECK(read_full_file(path, ret, ret_size) >= 0);
}

static inline void file_write(const char *path, const void *data, size_t size) {
        CHECK(write_file_atomic(path, data, size, 0644) >= 0);
}
