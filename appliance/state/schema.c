/* The migrations of slipway.db.  Version N of the schema is state_migrations[0..N-1]. */
#include "schema.h"

#include "macro.h"

const Migration state_migrations[] = {
        {
                .name = "images and tags",
                .sql = "CREATE TABLE images ("
                       "  digest TEXT PRIMARY KEY NOT NULL,"
                       "  media_type TEXT NOT NULL,"
                       "  size INTEGER NOT NULL,"          /* manifest + config + compressed layers */
                       "  manifest_size INTEGER NOT NULL," /* for the index.json descriptor */
                       "  config_digest TEXT NOT NULL,"
                       "  layers INTEGER NOT NULL,"
                       "  created TEXT,"                   /* the config's 'created', if any */
                       "  imported_at INTEGER NOT NULL"    /* seconds since the epoch */
                       ");"
                       "CREATE TABLE tags ("
                       "  name TEXT PRIMARY KEY NOT NULL,"
                       "  digest TEXT NOT NULL REFERENCES images(digest) ON DELETE RESTRICT"
                       ");"
                       "CREATE INDEX tags_by_digest ON tags(digest);",
        },
        {
                /* One row per executed build step: key = sha256 over the parent key, the expanded
                 * instruction, the build args in effect and the sources' checksum (builder-cache.c).
                 * state is the stage's JSON state after the step; layer_digest the blob the step
                 * added (NULL for config-only steps).  Blobs are not gc roots: a row whose blob is gone
                 * is a miss and is pruned. */
                .name = "build cache",
                .sql = "CREATE TABLE build_cache ("
                       "  key TEXT PRIMARY KEY NOT NULL,"
                       "  state TEXT NOT NULL,"
                       "  layer_digest TEXT,"
                       "  created INTEGER NOT NULL"
                       ");",
        },
};

const size_t state_migrations_n = ELEMENTSOF(state_migrations);
