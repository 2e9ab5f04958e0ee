/* The vault: every config and secret value is sealed with XChaCha20-Poly1305 under a versioned data key,
 * each data key wrapped by the master key, and bound by its associated data to its slot and version.  A
 * Vault holds the unwrapped data keys (locked, wiped memory) and is thread-safe: every function that
 * touches keys and the rows they sealed runs under its lock, so a rotation never races a read or write. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "build-secret-db.h"
#include "config-value-db.h"
#include "macro.h"
#include "registry-db.h"

/* Limits on what `config set` stores. */
#define VAULT_VALUE_MAX (64U * 1024U)       /* bytes of one value */
#define VAULT_ENV_TOTAL_MAX (1024U * 1024U) /* bytes of the current values of one (project, environment) */

typedef struct Vault Vault;

typedef struct VaultValue {
        int64_t id, component_id; /* component_id 0: project-wide */
        char *key;
        int64_t version;
        bool secret, is_file;
        char *file_path; /* NULL for env */
        uint8_t *data;   /* size bytes and a NUL after them; wiped on free */
        size_t size;
} VaultValue;

void vault_value_done(VaultValue *v);
void vault_values_free(VaultValue *v, size_t n); /* wipes data */

/* Opens the vault of db with the master key ($CREDENTIALS_DIRECTORY/slipway-master-key when that file
 * exists, else STATE_DIR/master.key).  A vault without keys gets version 1 and the master key's check value;
 * a rotation a kill left unfinished is finished.  A key file that is missing, unreadable, readable by
 * others, malformed, or that does not open this vault: -errno and *ret_error, one sentence naming the file
 * and what to do, and nothing written. */
int vault_open(sqlite3 *db, const char *state_dir, Vault **ret, char **ret_error);
Vault *vault_free(Vault *v);
DEFINE_TRIVIAL_CLEANUP_FUNC(Vault *, vault_free);

/* Issue 12: per-component secrets (component_secrets), e.g. VAULT_SECRET_WEBHOOK, sealed under the newest
 * data key with (component id, name) as associated data, and re-sealed by vault_rotate() like values.
 * set: replaces; -EINVAL for an empty secret or one over VAULT_VALUE_MAX.  get: *ret (NUL-terminated, wipe
 * and free with vault_secret_free()), -ENOENT when none. */
#define VAULT_SECRET_WEBHOOK "webhook"
#define VAULT_SECRET_GIT_TOKEN "git-token"
#define VAULT_SECRET_SSH_KEY "ssh-key"
int vault_component_secret_set(Vault *v, sqlite3 *db, int64_t component_id, const char *name,
                               const void *data, size_t size);
int vault_component_secret_get(Vault *v, sqlite3 *db, int64_t component_id, const char *name, uint8_t **ret,
                               size_t *ret_size);
int vault_component_secret_unset(Vault *v, sqlite3 *db, int64_t component_id, const char *name);
void vault_secret_free(uint8_t *data, size_t size);

/* Issue 13: a registry's password, sealed under the newest data key with ("registry", name) as associated
 * data and re-sealed by vault_rotate().  add: inserts row (password NULL: none) in one transaction, -EEXIST
 * when the name is taken, -EINVAL for an empty password or one over VAULT_REGISTRY_PASSWORD_MAX bytes.  password: *ret
 * (NUL-terminated; wipe and free with vault_secret_free()), -ENOENT when the registry has none. */
#define VAULT_REGISTRY_PASSWORD_MAX 4096U
int vault_registry_add(Vault *v, sqlite3 *db, const ModelRegistry *row, const void *password, size_t size);
int vault_registry_password(Vault *v, const ModelRegistry *row, uint8_t **ret, size_t *ret_size);

/* Issue 15: a component's build secrets (build_secrets), what RUN --mount=type=secret,id=KEY gets in its
 * pipeline builds, sealed under the newest data key with ("build", project, component, key, version) as
 * associated data and re-sealed by vault_rotate().  Versioned like values (an unset is a tombstone), but
 * only a key's newest row is kept: nothing pins an older one.
 * set: in one transaction refuses an empty value or one over VAULT_VALUE_MAX (-EFBIG), a new key past
 * VAULT_BUILD_SECRETS_MAX (-E2BIG), filling *ret_error, and else writes the key's next version (ret_id,
 * ret_version may be NULL).  unset: -ENOENT when the key has no current value.  open: every current one,
 * opened into *ret (key, version, data, size; wipe with vault_values_free()), sorted by key; -EBADMSG and
 * *ret_error naming the key when one does not open. */
#define VAULT_BUILD_SECRETS_MAX 64U /* current build secrets of one component (BUILD_SECRETS_MAX) */
int vault_build_secret_set(Vault *v, sqlite3 *db, int64_t project_id, int64_t component_id, const char *key,
                           const void *data, size_t size, int64_t *ret_id, int64_t *ret_version,
                           char **ret_error);
int vault_build_secret_unset(Vault *v, sqlite3 *db, int64_t project_id, int64_t component_id,
                             const char *key, int64_t *ret_version);
int vault_build_secrets_open(Vault *v, sqlite3 *db, int64_t component_id, VaultValue **ret, size_t *ret_n,
                             char **ret_error);

/* The newest data key version (what new values are sealed with). */
int64_t vault_key_version(Vault *v);

/* A value to write to a slot. */
typedef struct VaultWrite {
        int64_t project_id, environment_id, component_id; /* component_id 0: project-wide */
        const char *key;                                  /* checked by the caller (config_key_check) */
        bool secret, is_file;
        const char *file_path; /* is_file: checked by the caller (config_file_path_check) */
        const void *data;
        size_t size;
} VaultWrite;

/* In one transaction: refuses a value over VAULT_VALUE_MAX (-EFBIG), an environment over
 * VAULT_ENV_TOTAL_MAX (-EFBIG), a file path another key of the slot already uses (-EEXIST); else seals and
 * writes the slot's next version.  Refusals fill *ret_error and write nothing.  ret_id, ret_version may be
 * NULL. */
int vault_value_set(Vault *v, sqlite3 *db, const VaultWrite *w, int64_t *ret_id, int64_t *ret_version,
                    char **ret_error);
/* Writes a tombstone as the slot's next version of key; -ENOENT when the slot has no current value of it. */
int vault_value_unset(Vault *v, sqlite3 *db, int64_t project_id, int64_t environment_id,
                      int64_t component_id, const char *key, int64_t *ret_version);

/* One slot's current values (model_config_slot_list) into *ret_rows; with open_values the non-secret ones
 * are also opened into *ret_values (parallel to the rows; a secret's entry has data NULL).  -EBADMSG and
 * *ret_error naming the key when one fails to open. */
int vault_slot_list(Vault *v, sqlite3 *db, int64_t environment_id, int64_t component_id, bool open_values,
                    ModelConfigValue **ret_rows, VaultValue **ret_values, size_t *ret_n, char **ret_error);

/* The same for what a component of the environment gets (model_config_effective: its own values, and the
 * project-wide ones it does not override, which have component_id 0). */
int vault_effective_list(Vault *v, sqlite3 *db, int64_t environment_id, int64_t component_id,
                         bool open_values, ModelConfigValue **ret_rows, VaultValue **ret_values,
                         size_t *ret_n, char **ret_error);

/* Opens one row (not a tombstone) into *ret; -EBADMSG when it does not open where it is. */
int vault_value_open(Vault *v, const ModelConfigValue *row, VaultValue *ret);

/* The value rows a release pinned (release_values), decrypted; -EBADMSG + *ret_error naming the key that
 * fails to open ("The value of KEY in ENV cannot be decrypted: …"). */
int vault_release_values(Vault *v, sqlite3 *db, int64_t release_id, VaultValue **ret, size_t *ret_n,
                         char **ret_error);

/* What a rotation did. */
typedef struct VaultRotation {
        int64_t new_version;
        int64_t retired_versions[8]; /* the versions it retired (usually one) */
        size_t n_retired;
        uint64_t rewrapped; /* values re-sealed */
        uint64_t
                unopenable; /* rows that opened nowhere before either (moved or damaged): left as they were */
        uint64_t usec;      /* how long it took */
        bool checkpointed;  /* the WAL was truncated afterwards */
} VaultRotation;

/* A new data key version; every value re-sealed under it and every older version retired (its wrapped key
 * erased), all in one transaction, then the WAL truncated.  A kill at any moment leaves either the old or
 * the new state, both of which open. */
int vault_rotate(Vault *v, sqlite3 *db, VaultRotation *ret);
