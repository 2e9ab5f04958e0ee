/* build_secrets rows: versioned writes per (component, key), tombstones for unsets, ciphertext as BLOBs.
 * "Current" always means the newest version of a (component, key) when that version is not a tombstone. */
#include "build-secret-db.h"

#include <errno.h>
#include <stdlib.h>

#include "macro.h"
#include "sqlite-util.h"

/* Columns 0..8 are read by the field table, 9 and 10 (the BLOBs) by build_secret_complete(). */
#define SELECT_BUILD_SECRET                                                               \
        "SELECT b.id, b.project_id, b.component_id, b.key, b.version, b.deleted, b.size," \
        " ifnull(b.key_version, 0), b.set_at, b.nonce, b.ciphertext FROM build_secrets b"
#define COL_NONCE 9
#define COL_CIPHERTEXT 10

static int build_secret_complete(sqlite3_stmt *s, void *row) {
        ModelBuildSecret *b = row;
        int r;

        r = sqlite_column_blob_dup(s, COL_NONCE, &b->nonce, &b->nonce_size);
        if (r < 0)
                return r;
        return sqlite_column_blob_dup(s, COL_CIPHERTEXT, &b->ciphertext, &b->ciphertext_size);
}

static void build_secret_release(void *row) {
        ModelBuildSecret *b = row;

        free(b->nonce);
        free(b->ciphertext);
}

static const SqliteField build_secret_fields[] = {
        SQL_FIELD(ModelBuildSecret, id),           SQL_FIELD(ModelBuildSecret, project_id),
        SQL_FIELD(ModelBuildSecret, component_id), SQL_FIELD(ModelBuildSecret, key),
        SQL_FIELD(ModelBuildSecret, version),      SQL_FIELD(ModelBuildSecret, deleted),
        SQL_FIELD(ModelBuildSecret, size),         SQL_FIELD(ModelBuildSecret, key_version),
        SQL_FIELD(ModelBuildSecret, set_at),
};
static const SqliteRowType build_secret_row =
        SQL_ROW_TYPE(ModelBuildSecret, build_secret_fields, .complete = build_secret_complete,
                     .release = build_secret_release);
SQL_DEFINE_ROW_FUNCS(ModelBuildSecret, build_secret_row, model_build_secret_done, model_build_secrets_free);

int model_build_secret_list(sqlite3 *db, int64_t component_id, ModelBuildSecret **ret, size_t *ret_n) {
        return sqlite_list(db, &build_secret_row,
                           SELECT_BUILD_SECRET " WHERE b.component_id = ?1 AND b.deleted = 0 AND b.version ="
                                               "   (SELECT max(m.version) FROM build_secrets m"
                                               "    WHERE m.component_id = b.component_id AND m.key = b.key)"
                                               " ORDER BY b.key",
                           SQL_ARGS(SQL_INT(component_id)), ret, ret_n);
}

int model_build_secret_get(sqlite3 *db, int64_t component_id, const char *key, ModelBuildSecret *ret) {
        return sqlite_get(db, &build_secret_row,
                          SELECT_BUILD_SECRET " WHERE b.component_id = ?1 AND b.key = ?2"
                                              " ORDER BY b.version DESC LIMIT 1",
                          SQL_ARGS(SQL_INT(component_id), SQL_TEXT(key)), ret);
}

int model_build_secret_next_version(sqlite3 *db, int64_t component_id, const char *key, int64_t *ret) {
        return sqlite_get_int64(db,
                                "SELECT ifnull(max(version), 0) + 1 FROM build_secrets"
                                " WHERE component_id = ?1 AND key = ?2",
                                SQL_ARGS(SQL_INT(component_id), SQL_TEXT(key)), ret);
}

int model_build_secret_insert(sqlite3 *db, const ModelBuildSecret *b, int64_t *ret_id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare_args(
                db,
                "INSERT INTO build_secrets(project_id, component_id, key, version, deleted, size, key_version,"
                "                          set_at, nonce, ciphertext)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, nullif(?7, 0), ?8, ?9, ?10)",
                SQL_ARGS(SQL_INT(b->project_id), SQL_INT(b->component_id), SQL_TEXT(b->key),
                         SQL_INT(b->version), SQL_INT(b->deleted), SQL_INT((int64_t) b->size),
                         SQL_INT(b->key_version), SQL_INT(sqlite_now_sec())),
                &s);
        if (r < 0)
                return r;
        r = sqlite_bind_blob(s, 9, b->nonce, b->nonce_size);
        if (r >= 0)
                r = sqlite_bind_blob(s, 10, b->ciphertext, b->ciphertext_size);
        if (r >= 0)
                r = sqlite_step_done(s);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(db);
        return 0;
}

int model_build_secret_prune(sqlite3 *db, int64_t component_id, const char *key, int64_t version) {
        return sqlite_run(db,
                          "DELETE FROM build_secrets WHERE component_id = ?1 AND key = ?2 AND version < ?3",
                          SQL_ARGS(SQL_INT(component_id), SQL_TEXT(key), SQL_INT(version)));
}

int model_build_secrets_by_key_version(sqlite3 *db, int64_t key_version, ModelBuildSecret **ret,
                                       size_t *ret_n) {
        return sqlite_list(db, &build_secret_row,
                           SELECT_BUILD_SECRET " WHERE b.key_version = ?1 ORDER BY b.id",
                           SQL_ARGS(SQL_INT(key_version)), ret, ret_n);
}

int model_build_secret_rewrap(sqlite3 *db, const ModelBuildSecret *b) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare_args(db,
                                "UPDATE build_secrets SET key_version = ?2, nonce = ?3, ciphertext = ?4"
                                " WHERE id = ?1",
                                SQL_ARGS(SQL_INT(b->id), SQL_INT(b->key_version)), &s);
        if (r < 0)
                return r;
        r = sqlite_bind_blob(s, 3, b->nonce, b->nonce_size);
        if (r >= 0)
                r = sqlite_bind_blob(s, 4, b->ciphertext, b->ciphertext_size);
        if (r >= 0)
                r = sqlite_step_done(s);
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}
