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
};

const size_t state_migrations_n = ELEMENTSOF(state_migrations);
