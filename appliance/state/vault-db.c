/* vault_keys and vault_meta rows.  A retired key keeps its row (config_values.key_version references it)
 * with its wrapped bytes erased, so nothing can open what it sealed any more. */
#include "vault-db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "sqlite-util.h"

/* Columns 0..2 by the field table, 3 and 4 (the BLOBs) by vault_key_complete(). */
static int vault_key_complete(sqlite3_stmt *s, void *row) {
        ModelVaultKey *k = row;
        int r;

        r = sqlite_column_blob_dup(s, 3, &k->wrapped_key, &k->wrapped_key_size);
        if (r < 0)
                return r;
        return sqlite_column_blob_dup(s, 4, &k->nonce, &k->nonce_size);
}

static void vault_key_release(void *row) {
        ModelVaultKey *k = row;

        if (k->wrapped_key)
                explicit_bzero(k->wrapped_key, k->wrapped_key_size);
        free(k->wrapped_key);
        free(k->nonce);
}

static const SqliteField vault_key_fields[] = {
        SQL_FIELD(ModelVaultKey, version),
        SQL_FIELD(ModelVaultKey, created_at),
        SQL_FIELD(ModelVaultKey, retired_at),
};
static const SqliteRowType vault_key_row = SQL_ROW_TYPE(
        ModelVaultKey, vault_key_fields, .complete = vault_key_complete, .release = vault_key_release);
SQL_DEFINE_ROW_FUNCS(ModelVaultKey, vault_key_row, model_vault_key_done, model_vault_keys_free);

int model_vault_keys_list(sqlite3 *db, ModelVaultKey **ret, size_t *ret_n) {
        return sqlite_list(
                db, &vault_key_row,
                "SELECT version, created_at, ifnull(retired_at, 0), wrapped_key, nonce FROM vault_keys"
                " ORDER BY version",
                SQL_NO_ARGS, ret, ret_n);
}

int model_vault_keys_count(sqlite3 *db, unsigned *ret) {
        unsigned tables;
        int r;

        r = sqlite_count(db,
                         "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'vault_keys'",
                         SQL_NO_ARGS, &tables);
        if (r < 0)
                return r;
        if (tables == 0) {
                *ret = 0;
                return 0;
        }
        return sqlite_count(db, "SELECT count(*) FROM vault_keys", SQL_NO_ARGS, ret);
}

int model_vault_key_insert(sqlite3 *db, int64_t version, const uint8_t *wrapped_key, size_t wrapped_key_size,
                           const uint8_t *nonce, size_t nonce_size) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare_args(
                db,
                "INSERT INTO vault_keys(version, wrapped_key, nonce, created_at)"
                " VALUES (?1, ?2, ?3, ?4)",
                SQL_ARGS(SQL_INT(version), SQL_INT(0), SQL_INT(0), SQL_INT(sqlite_now_sec())), &s);
        if (r < 0)
                return r;
        r = sqlite_bind_blob(s, 2, wrapped_key, wrapped_key_size);
        if (r >= 0)
                r = sqlite_bind_blob(s, 3, nonce, nonce_size);
        if (r >= 0)
                r = sqlite_step_done(s);
        return r;
}

int model_vault_key_retire(sqlite3 *db, int64_t version) {
        return sqlite_run_one(db,
                              "UPDATE vault_keys SET wrapped_key = NULL, nonce = NULL,"
                              " retired_at = coalesce(retired_at, ?2) WHERE version = ?1",
                              SQL_ARGS(SQL_INT(version), SQL_INT(sqlite_now_sec())));
}

int model_vault_meta_get(sqlite3 *db, const char *name, uint8_t **ret, size_t *ret_size) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare_args(db, "SELECT value FROM vault_meta WHERE name = ?1", SQL_ARGS(SQL_TEXT(name)),
                                &s);
        if (r < 0)
                return r;
        r = sqlite_step_row(s);
        if (r < 0)
                return r;
        return sqlite_column_blob_dup(s, 0, ret, ret_size);
}

int model_vault_meta_set(sqlite3 *db, const char *name, const uint8_t *value, size_t size) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare_args(db, "INSERT OR REPLACE INTO vault_meta(name, value) VALUES (?1, ?2)",
                                SQL_ARGS(SQL_TEXT(name), SQL_INT(0)), &s);
        if (r < 0)
                return r;
        r = sqlite_bind_blob(s, 2, value, size);
        if (r >= 0)
                r = sqlite_step_done(s);
        return r;
}

int model_vault_key_max_version(sqlite3 *db, int64_t *ret) {
        return sqlite_get_int64(db, "SELECT ifnull(max(version), 0) FROM vault_keys", SQL_NO_ARGS, ret);
}

/* component_secrets: columns 0..3 by the field table, the BLOBs (4, 5) by component_secret_complete(). */
static int component_secret_complete(sqlite3_stmt *s, void *row) {
        ModelComponentSecret *c = row;
        int r;

        r = sqlite_column_blob_dup(s, 4, &c->nonce, &c->nonce_size);
        if (r < 0)
                return r;
        return sqlite_column_blob_dup(s, 5, &c->ciphertext, &c->ciphertext_size);
}

static void component_secret_release(void *row) {
        ModelComponentSecret *c = row;

        free(c->nonce);
        free(c->ciphertext);
}

static const SqliteField component_secret_fields[] = {
        SQL_FIELD(ModelComponentSecret, component_id),
        SQL_FIELD(ModelComponentSecret, name),
        SQL_FIELD(ModelComponentSecret, key_version),
        SQL_FIELD(ModelComponentSecret, set_at),
};
static const SqliteRowType component_secret_row =
        SQL_ROW_TYPE(ModelComponentSecret, component_secret_fields, .complete = component_secret_complete,
                     .release = component_secret_release);
SQL_DEFINE_ROW_FUNCS(ModelComponentSecret, component_secret_row, model_component_secret_done,
                     model_component_secrets_free);

#define SELECT_COMPONENT_SECRET \
        "SELECT component_id, name, key_version, set_at, nonce, ciphertext FROM component_secrets"

int model_component_secret_put(sqlite3 *db, const ModelComponentSecret *c) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare_args(db,
                                "INSERT OR REPLACE INTO component_secrets"
                                "(component_id, name, key_version, nonce, ciphertext, set_at)"
                                " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                SQL_ARGS(SQL_INT(c->component_id), SQL_TEXT(c->name),
                                         SQL_INT(c->key_version), SQL_INT(0), SQL_INT(0),
                                         SQL_INT(sqlite_now_sec())),
                                &s);
        if (r < 0)
                return r;
        r = sqlite_bind_blob(s, 4, c->nonce, c->nonce_size);
        if (r >= 0)
                r = sqlite_bind_blob(s, 5, c->ciphertext, c->ciphertext_size);
        if (r >= 0)
                r = sqlite_step_done(s);
        return r;
}

int model_component_secret_get(sqlite3 *db, int64_t component_id, const char *name,
                               ModelComponentSecret *ret) {
        return sqlite_get(db, &component_secret_row,
                          SELECT_COMPONENT_SECRET " WHERE component_id = ?1 AND name = ?2",
                          SQL_ARGS(SQL_INT(component_id), SQL_TEXT(name)), ret);
}

int model_component_secret_delete(sqlite3 *db, int64_t component_id, const char *name) {
        return sqlite_run_one(db, "DELETE FROM component_secrets WHERE component_id = ?1 AND name = ?2",
                              SQL_ARGS(SQL_INT(component_id), SQL_TEXT(name)));
}

int model_component_secrets_by_key_version(sqlite3 *db, int64_t key_version, ModelComponentSecret **ret,
                                           size_t *ret_n) {
        return sqlite_list(db, &component_secret_row,
                           SELECT_COMPONENT_SECRET " WHERE key_version = ?1 ORDER BY component_id, name",
                           SQL_ARGS(SQL_INT(key_version)), ret, ret_n);
}
