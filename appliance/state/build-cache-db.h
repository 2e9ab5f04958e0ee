/* Build cache rows in slipway.db (table build_cache, migration 2): the stage state (JSON text) after one
 * executed build step, by cache key.  Whether a row is still a hit (its blobs exist) is the builder's call. */
#pragma once

#include <sqlite3.h>
#include <stddef.h>

typedef struct BuildCacheRow {
        char *key;
        char *state; /* JSON text */
} BuildCacheRow;

void build_cache_rows_free(BuildCacheRow *v, size_t n);

/* The state text of key; -ENOENT when there is no row. */
int build_cache_db_get(sqlite3 *db, const char *key, char **ret_state);
/* Inserts or replaces the row of key; layer_digest may be NULL. */
int build_cache_db_put(sqlite3 *db, const char *key, const char *state, const char *layer_digest);
/* Removes the row of key (none is not an error). */
int build_cache_db_delete(sqlite3 *db, const char *key);
int build_cache_db_list(sqlite3 *db, BuildCacheRow **ret, size_t *ret_n);
int build_cache_db_count(sqlite3 *db, unsigned *ret);
