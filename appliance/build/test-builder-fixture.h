/* The builder tests' fixture (test-builder-fixture.c): the state dir, store, catalog and Builder the tests
 * build with, and helpers for contexts, builds and the images they make. A helper that fails a CHECK ends
 * the test. */
#pragma once

#include <archive.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "builder.h"

extern char top[];
extern ImageCatalog *catalog;
extern OciStore *store;
extern Builder *builder;
extern sqlite3 *db;
/* The job builds run with (NULL: none); test_cancel() sets it. */
extern BuildJob *cancel_job;

/* Creates the state dir, store, catalog and Builder and imports busybox:test; skips the test (exit 77)
 * without root, systemd-nspawn or /bin/busybox. */
void builder_fixture_setup(void);
void builder_fixture_teardown(void);

/* top/name. */
char *at(const char *name);
void write_file(const char *dir, const char *name, const char *content);
/* A fresh context dir top/name holding only this Dockerfile. */
char *make_context(const char *name, const char *dockerfile);
/* Adds an entry to the tar being written (data: size bytes of a regular file; link: a symlink's target). */
void tar_add(struct archive *a, const char *name, mode_t type, mode_t perm, const char *data, size_t size,
             const char *link);
/* A tar at path of (name, type, data-or-link-target) triples; NULL name ends them. */
void write_tar(const char *path, const char *const *e);

typedef struct Built {
        int r;
        BuildResult res;
        BuildError err;
        char *log;
} Built;

Built build_ex(const char *ctx, char **args, const char *tag, bool no_cache, BuildJob **job_out);
Built build(const char *ctx, char **args, const char *tag);
/* Builds a context (named name below top) holding only a Dockerfile. */
Built build_dockerfile(const char *name, const char *dockerfile);
void built_done(Built *b);

json_t *read_json_blob(const char *digest);
json_t *image_config(const char *manifest_digest);
/* Entry names of the image's last layer, '\n'-joined. */
char *last_layer_entries(const char *manifest_digest);
/* The image unpacked at top/name. */
char *unpack(const char *digest, const char *name);
/* stat() of dir/name, which must exist. */
struct stat stat_in(const char *dir, const char *name);
bool file_is(const char *dir, const char *name, const char *content);
/* Nothing of ours is mounted, and builds/ holds only the shim. */
void check_clean(void);
