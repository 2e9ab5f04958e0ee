/* Build cache rows in slipway.db (table build_cache, migration 2).  Invariant: a row is only a hit when
 * the blobs its state references exist; stale rows are dropped on sight and by builder_cache_prune(). */
#include "build-cache.h"

#include <string.h>
#include <time.h>

#include "build-cache-db.h"
#include "json-util.h"

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
        _cleanup_json_ json_t *state = NULL;
        _cleanup_free_ char *text = NULL;
        int r;

        pthread_mutex_lock(&c->db_lock);
        r = build_cache_db_get(c->db, key, &text);
        if (r < 0)
                goto out;
        r = json_parse_buffer(text, strlen(text), &state, NULL);
        if (r < 0 || !state_blobs_present(c->store, state)) {
                (void) build_cache_db_delete(c->db, key);
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
        _cleanup_free_ char *data = json_dump_canonical(state);
        int r;

        if (!data)
                return -ENOMEM;
        pthread_mutex_lock(&c->db_lock);
        r = build_cache_db_put(c->db, key, data, layer_digest);
        pthread_mutex_unlock(&c->db_lock);
        return r;
}

int builder_cache_prune(Builder *b) {
        ImageCatalog *c = b->catalog;
        BuildCacheRow *rows = NULL;
        size_t n = 0;
        int r, removed = 0;

        pthread_mutex_lock(&c->db_lock);
        r = build_cache_db_list(c->db, &rows, &n);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < n; i++) {
                _cleanup_json_ json_t *state = NULL;

                if (rows[i].state &&
                    json_parse_buffer(rows[i].state, strlen(rows[i].state), &state, NULL) >= 0 &&
                    state_blobs_present(c->store, state))
                        continue;
                r = build_cache_db_delete(c->db, rows[i].key);
                if (r < 0)
                        goto out;
                removed++;
        }
        r = removed;
out:
        pthread_mutex_unlock(&c->db_lock);
        build_cache_rows_free(rows, n);
        return r;
}
