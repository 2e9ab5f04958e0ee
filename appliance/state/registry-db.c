/* Registries in slipway.db (migration "registries, push_to, scan_fail_on, pushed_ref"): one row each, the
 * password sealed by the vault; a project's push_to refers to one by name, and a registry in use is never
 * deleted (checked here and by the foreign key). */
#include "registry-db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite-util.h"

#define SELECT_REGISTRY                                                                      \
        "SELECT r.id, r.name, r.url, r.username, r.ca_pem, r.insecure,"                      \
        " coalesce(r.key_version, 0), r.created_at,"                                         \
        " (SELECT count(*) FROM projects p WHERE p.push_to = r.name), r.nonce, r.ciphertext" \
        " FROM registries r"

/* Columns 0..8 by the field table, the BLOBs (9, 10) by registry_complete(). */
static int registry_complete(sqlite3_stmt *s, void *row) {
        ModelRegistry *r = row;
        int k;

        k = sqlite_column_blob_dup(s, 9, &r->nonce, &r->nonce_size);
        if (k < 0)
                return k;
        return sqlite_column_blob_dup(s, 10, &r->ciphertext, &r->ciphertext_size);
}

static void registry_release(void *row) {
        ModelRegistry *r = row;

        free(r->nonce);
        free(r->ciphertext);
}

static const SqliteField registry_fields[] = {
        SQL_FIELD(ModelRegistry, id),          SQL_FIELD(ModelRegistry, name),
        SQL_FIELD(ModelRegistry, url),         SQL_FIELD(ModelRegistry, username),
        SQL_FIELD(ModelRegistry, ca_pem),      SQL_FIELD(ModelRegistry, insecure),
        SQL_FIELD(ModelRegistry, key_version), SQL_FIELD(ModelRegistry, created_at),
        SQL_FIELD(ModelRegistry, projects),
};
static const SqliteRowType registry_row = SQL_ROW_TYPE(
        ModelRegistry, registry_fields, .complete = registry_complete, .release = registry_release);
SQL_DEFINE_ROW_FUNCS(ModelRegistry, registry_row, model_registry_done, model_registries_free);

int model_registry_insert(sqlite3 *db, const ModelRegistry *r) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int k;

        k = sqlite_prepare_args(db,
                                "INSERT INTO registries(name, url, username, ca_pem, insecure, key_version,"
                                " nonce, ciphertext, created_at)"
                                " VALUES (?1, ?2, ?3, ?4, ?5, nullif(?6, 0), ?7, ?8, ?9)",
                                SQL_ARGS(SQL_TEXT(r->name), SQL_TEXT(r->url), SQL_TEXT(r->username),
                                         SQL_TEXT(r->ca_pem), SQL_INT(r->insecure),
                                         SQL_INT(r->ciphertext ? r->key_version : 0), SQL_INT(0), SQL_INT(0),
                                         SQL_INT(sqlite_now_sec())),
                                &s);
        if (k < 0)
                return k;
        k = sqlite_bind_blob(s, 7, r->ciphertext ? r->nonce : NULL, r->ciphertext ? r->nonce_size : 0);
        if (k >= 0)
                k = sqlite_bind_blob(s, 8, r->ciphertext, r->ciphertext_size);
        if (k >= 0)
                k = sqlite_step_done(s);
        return k;
}

int model_registry_get(sqlite3 *db, const char *name, ModelRegistry *ret) {
        return sqlite_get(db, &registry_row, SELECT_REGISTRY " WHERE r.name = ?1", SQL_ARGS(SQL_TEXT(name)),
                          ret);
}

int model_registry_list(sqlite3 *db, ModelRegistry **ret, size_t *ret_n) {
        return sqlite_list(db, &registry_row, SELECT_REGISTRY " ORDER BY r.name", SQL_NO_ARGS, ret, ret_n);
}

int model_registry_projects(sqlite3 *db, const char *name, char ***ret, size_t *ret_n) {
        return sqlite_list(db, &sqlite_text_row,
                           "SELECT name FROM projects WHERE push_to = ?1 ORDER BY name",
                           SQL_ARGS(SQL_TEXT(name)), ret, ret_n);
}

static int delete_locked(sqlite3 *db, const char *name) {
        unsigned users = 0;
        int r;

        r = sqlite_count(db, "SELECT count(*) FROM projects WHERE push_to = ?1", SQL_ARGS(SQL_TEXT(name)),
                         &users);
        if (r < 0)
                return r;
        if (users > 0)
                return -EBUSY;
        return sqlite_run_one(db, "DELETE FROM registries WHERE name = ?1", SQL_ARGS(SQL_TEXT(name)));
}

int model_registry_delete(sqlite3 *db, const char *name) {
        int r;

        r = sqlite_begin(db);
        if (r < 0)
                return r;
        return sqlite_end(db, delete_locked(db, name));
}

int model_registries_by_key_version(sqlite3 *db, int64_t key_version, ModelRegistry **ret, size_t *ret_n) {
        return sqlite_list(db, &registry_row,
                           SELECT_REGISTRY
                           " WHERE r.key_version = ?1 AND r.ciphertext IS NOT NULL ORDER BY r.id",
                           SQL_ARGS(SQL_INT(key_version)), ret, ret_n);
}

int model_registry_password_rewrap(sqlite3 *db, int64_t id, int64_t key_version, const uint8_t *nonce,
                                   size_t nonce_size, const uint8_t *ciphertext, size_t ciphertext_size) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare_args(
                db, "UPDATE registries SET key_version = ?2, nonce = ?3, ciphertext = ?4 WHERE id = ?1",
                SQL_ARGS(SQL_INT(id), SQL_INT(key_version), SQL_INT(0), SQL_INT(0)), &s);
        if (r < 0)
                return r;
        r = sqlite_bind_blob(s, 3, nonce, nonce_size);
        if (r >= 0)
                r = sqlite_bind_blob(s, 4, ciphertext, ciphertext_size);
        if (r >= 0)
                r = sqlite_step_done(s);
        if (r >= 0 && sqlite3_changes(db) == 0)
                r = -ENOENT;
        return r;
}
