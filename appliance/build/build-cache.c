/* Build cache rows in slipway.db (table build_cache, migration 2).  Invariant: a row is only a hit when
 * the blobs its state references exist; stale rows are dropped on sight and by builder_cache_prune(). */
#include "build-cache.h"

#include <string.h>
#include <time.h>

#include "json-util.h"
#include "sqlite-util.h"

void build_cache_key(const char *parent, const char *instruction, char *const *args, const char *extra,
                     char ret[static DIGEST_STRING_MAX]) {
        Sha256 h;

        sha256_init(&h);
        sha256_update(&h, "slipway-build-cache-v1\n", strlen("slipway-build-cache-v1\n"));
        sha256_update(&h, parent, strlen(parent) + 1);
        sha256_update(&h, instruction, strlen(instruction) + 1);
        for (size_t i = 0; args && args[i]; i++)
                sha256_update(&h, args[i], strlen(args[i]) + 1);
        sha256_update(&h, "\n", 1);
        if (extra)
                sha256_update(&h, extra, strlen(extra) + 1);
        sha256_final(&h, ret);
}

static void delete_key_locked(sqlite3 *db, const char *key) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;

        if (sqlite_prepare(db, "DELETE FROM build_cache WHERE key = ?", &st) < 0)
                return;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
        (void) sqlite3_step(st);
}

static bool state_blobs_present(OciStore *store, json_t *state) {
        json_t *l;
        size_t i;

        json_array_foreach(json_object_get(state, "layers"), i, l) {
                const char *d = json_string_value(json_object_get(l, "digest"));
                if (!d || !oci_store_has_blob(store, d))
                        return false;
        }
        return true;
}

int build_cache_get(Builder *b, const char *key, json_t **ret_state) {
        ImageCatalog *c = b->catalog;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_json_ json_t *state = NULL;
        int r, rc;

        pthread_mutex_lock(&c->db_lock);
        r = sqlite_prepare(c->db, "SELECT state FROM build_cache WHERE key = ?", &st);
        if (r < 0)
                goto out;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
                r = -ENOENT;
                goto out;
        }
        if (rc != SQLITE_ROW) {
                r = sqlite_to_errno(rc);
                goto out;
        }
        r = json_parse_buffer((const char *) sqlite3_column_text(st, 0), (size_t) sqlite3_column_bytes(st, 0),
                              &state, NULL);
        if (r < 0 || !state_blobs_present(c->store, state)) {
                sqlite3_finalize(TAKE_PTR(st));
                delete_key_locked(c->db, key);
                r = -ENOENT;
                goto out;
        }
        *ret_state = TAKE_PTR(state);
        r = 0;
out:
        pthread_mutex_unlock(&c->db_lock);
        return r;
}

int build_cache_put(Builder *b, const char *key, json_t *state, const char *layer_digest) {
        ImageCatalog *c = b->catalog;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *data = json_dump_canonical(state);
        int r;

        if (!data)
                return -ENOMEM;
        pthread_mutex_lock(&c->db_lock);
        r = sqlite_prepare(c->db, "INSERT OR REPLACE INTO build_cache(key, state, layer_digest, created) "
                                  "VALUES (?, ?, ?, ?)", &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 2, data, -1, SQLITE_TRANSIENT);
                if (layer_digest)
                        sqlite3_bind_text(st, 3, layer_digest, -1, SQLITE_TRANSIENT);
                else
                        sqlite3_bind_null(st, 3);
                sqlite3_bind_int64(st, 4, (sqlite3_int64) time(NULL));
                r = sqlite_to_errno(sqlite3_step(st));
        }
        pthread_mutex_unlock(&c->db_lock);
        return r;
}


int builder_cache_prune(Builder *b) {
        ImageCatalog *c = b->catalog;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        char **stale = NULL;
        size_t n = 0;
        int r, rc, removed = 0;

        pthread_mutex_lock(&c->db_lock);
        r = sqlite_prepare(c->db, "SELECT key, state FROM build_cache", &st);
        if (r < 0)
                goto out;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                _cleanup_json_ json_t *state = NULL;
                char **nv;

                if (json_parse_buffer((const char *) sqlite3_column_text(st, 1),
                                      (size_t) sqlite3_column_bytes(st, 1), &state, NULL) >= 0 &&
                    state_blobs_present(c->store, state))
                        continue;
                nv = realloc(stale, (n + 1) * sizeof(char *));
                if (!nv) {
                        r = -ENOMEM;
                        goto out;
                }
                stale = nv;
                stale[n] = strdup((const char *) sqlite3_column_text(st, 0));
                if (!stale[n]) {
                        r = -ENOMEM;
                        goto out;
                }
                n++;
        }
        sqlite3_finalize(TAKE_PTR(st));
        for (size_t i = 0; i < n; i++) {
                delete_key_locked(c->db, stale[i]);
                removed++;
        }
        r = removed;
out:
        pthread_mutex_unlock(&c->db_lock);
        for (size_t i = 0; i < n; i++)
                free(stale[i]);
        free(stale);
        return r;
}
