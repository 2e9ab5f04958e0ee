/* Unit tests for appliance/vault: seal/open round trip, associated data binding (a ciphertext moved to
 * another slot or version fails with -EBADMSG), master key file checks, a wrong master key refused with
 * nothing written, limits, effective values, and a rotation killed (SIGKILL) at many points. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config-value-db.h"
#include "fs-util.h"
#include "sqlite-util.h"
#include "state.h"
#include "vault-db.h"
#include "vault-internal.h"
#include "vault-key.h"
#include "vault.h"

#include "tests.h"

static char tmpdir[] = "/tmp/test-vault-XXXXXX";

static char *mfree(char *p) {
        free(p);
        return NULL;
}

static void cleanup_tmpdir(void) {
        (void) rm_rf(tmpdir);
}

static char *tmp_path(const char *name) {
        char *p = path_join(tmpdir, name);
        CHECK(p);
        return p;
}

/* A state dir with a master key of byte `fill` (as hex when hex) and a fresh database with one project
 * (id 1), environments 1 (development) and 2 (production), and components 1 and 2. */
static char *make_state(const char *name, uint8_t fill, bool hex, sqlite3 **ret_db) {
        char *dir = tmp_path(name);
        _cleanup_free_ char *key = NULL, *db = NULL;
        uint8_t raw[32];
        char text[66];

        (void) rm_rf(dir);
        CHECK(mkdir(dir, 0700) == 0);
        key = path_join(dir, "master.key");
        db = path_join(dir, "slipway.db");
        CHECK(key && db);
        memset(raw, fill, sizeof raw);
        if (hex) {
                for (size_t i = 0; i < 32; i++)
                        snprintf(text + 2 * i, 3, "%02x", raw[i]);
                text[64] = '\n';
                CHECK_OK(write_file_atomic(key, text, 65, 0600));
        } else
                CHECK_OK(write_file_atomic(key, raw, sizeof raw, 0600));
        CHECK_OK(state_open(db, ret_db));
        CHECK_OK(sqlite_exec(
                *ret_db,
                "INSERT INTO projects(id, name, created_at) VALUES (1, 'shop', 100);"
                "INSERT INTO environments(id, project_id, name, position, subnet, bridge, ingress_port, domain,"
                " egress, created_at) VALUES"
                " (1, 1, 'development', 0, '10.213.1.0/24', 'swbaaaaaa111111', 21000, NULL, 0, 100),"
                " (2, 1, 'production', 1, '10.213.2.0/24', 'swbaaaaaa222222', 21001, NULL, 0, 100);"
                "INSERT INTO components(id, project_id, name, image_ref, spec, created_at)"
                " VALUES (1, 1, 'web', NULL, '{}', 100),"
                " (2, 1, 'api', NULL, '{}', 100);"));
        return dir;
}

static void set_value(Vault *v, sqlite3 *db, int64_t env, int64_t comp, const char *key, const char *value,
                      bool secret, int64_t *ret_id) {
        _cleanup_free_ char *err = NULL;
        int r = vault_value_set(v, db,
                                &(VaultWrite) { .project_id = 1,
                                                .environment_id = env,
                                                .component_id = comp,
                                                .key = key,
                                                .secret = secret,
                                                .data = value,
                                                .size = strlen(value) },
                                ret_id, NULL, &err);
        if (r < 0)
                TEST_FAIL("vault_value_set(%s): %s (%s)", key, strerror(-r), err ?: "");
}

static void check_opens(Vault *v, sqlite3 *db, int64_t id, const char *expected) {
        _cleanup_(model_config_value_done) ModelConfigValue row = {};
        _cleanup_(vault_value_done) VaultValue val = {};

        CHECK_OK(model_config_value_get(db, id, &row));
        CHECK_OK(vault_value_open(v, &row, &val));
        CHECK(val.size == strlen(expected));
        CHECK(memcmp(val.data, expected, val.size) == 0 && val.data[val.size] == 0);
}

static void test_round_trip(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_free_ char *dir = make_state("round", 0x11, false, &db), *err = NULL;
        _cleanup_(vault_freep) Vault *v = NULL;
        ModelConfigValue *rows = NULL;
        size_t n = 0;
        int64_t a, b, c;

        CHECK_OK(vault_open(db, dir, &v, &err));
        CHECK(vault_key_version(v) == 1);
        set_value(v, db, 1, 0, "DATABASE_URL", "postgres://shared", false, &a);
        set_value(v, db, 1, 1, "DATABASE_URL", "postgres://web-only", true, &b);
        set_value(v, db, 1, 0, "DATABASE_URL", "postgres://shared-2", false, &c);
        check_opens(v, db, a, "postgres://shared");
        check_opens(v, db, b, "postgres://web-only");
        check_opens(v, db, c, "postgres://shared-2");

        /* The plaintext is nowhere in the row. */
        {
                _cleanup_(model_config_value_done) ModelConfigValue row = {};
                CHECK_OK(model_config_value_get(db, b, &row));
                CHECK(row.version == 1 && row.secret && row.key_version == 1 && row.nonce_size == 24);
                CHECK(row.ciphertext_size == strlen("postgres://web-only") + 16);
                CHECK(!memmem(row.ciphertext, row.ciphertext_size, "postgres", 8));
        }
        {
                _cleanup_(model_config_value_done) ModelConfigValue row = {};
                CHECK_OK(model_config_value_get(db, c, &row));
                CHECK(row.version == 2);
        }

        /* The component's own value wins; its unset lets the project-wide one through again. */
        CHECK_OK(model_config_effective(db, 1, 1, &rows, &n));
        CHECK(n == 1 && rows[0].id == b);
        model_config_values_free(rows, n);
        CHECK_OK(model_config_effective(db, 1, 2, &rows, &n));
        CHECK(n == 1 && rows[0].id == c);
        model_config_values_free(rows, n);
        CHECK_OK(vault_value_unset(v, db, 1, 1, 1, "DATABASE_URL", NULL));
        CHECK(vault_value_unset(v, db, 1, 1, 1, "DATABASE_URL", NULL) == -ENOENT);
        CHECK_OK(model_config_effective(db, 1, 1, &rows, &n));
        CHECK(n == 1 && rows[0].id == c);
        model_config_values_free(rows, n);
        CHECK_OK(model_config_slot_list(db, 1, 1, &rows, &n));
        CHECK(n == 0);
        CHECK_OK(model_config_effective(db, 2, 1, &rows, &n));
        CHECK(n == 0);
}

/* Copies row `from`'s nonce and ciphertext onto row `to` (an attacker with the database file). */
static void copy_ciphertext(sqlite3 *db, int64_t from, int64_t to) {
        _cleanup_free_ char *sql = NULL;

        CHECK(asprintf(&sql,
                       "UPDATE config_values SET (nonce, ciphertext, size, key_version) = (SELECT nonce, "
                       "ciphertext, size, key_version FROM config_values WHERE id = %lld) WHERE id = %lld",
                       (long long) from, (long long) to) > 0);
        CHECK_OK(sqlite_exec(db, sql));
}

static void check_refuses(Vault *v, sqlite3 *db, int64_t id) {
        _cleanup_(model_config_value_done) ModelConfigValue row = {};
        _cleanup_(vault_value_done) VaultValue val = {};

        CHECK_OK(model_config_value_get(db, id, &row));
        CHECK(vault_value_open(v, &row, &val) == -EBADMSG);
        CHECK(!val.data);
}

static void test_associated_data(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_free_ char *dir = make_state("ad", 0x22, true, &db), *err = NULL;
        _cleanup_(vault_freep) Vault *v = NULL;
        int64_t dev, prod, comp, other_key, v2, secret;

        CHECK_OK(vault_open(db, dir, &v, &err));
        set_value(v, db, 1, 0, "TOKEN", "dev-token", false, &dev);
        set_value(v, db, 2, 0, "TOKEN", "prod-token", false, &prod);
        set_value(v, db, 1, 1, "TOKEN", "comp-token", false, &comp);
        set_value(v, db, 1, 0, "OTHER", "other-value", false, &other_key);
        set_value(v, db, 1, 0, "TOKEN", "dev-token-2", false, &v2);
        set_value(v, db, 1, 0, "HIDDEN", "hidden", true, &secret);

        /* Another environment, component, key, version: none opens. */
        copy_ciphertext(db, dev, prod);
        check_refuses(v, db, prod);
        copy_ciphertext(db, dev, comp);
        check_refuses(v, db, comp);
        copy_ciphertext(db, dev, other_key);
        check_refuses(v, db, other_key);
        copy_ciphertext(db, dev, v2);
        check_refuses(v, db, v2);
        check_opens(v, db, dev, "dev-token");

        /* Flipping a secret to non-secret in the database does not make it readable. */
        CHECK_OK(sqlite_exec(db, "UPDATE config_values SET secret = 0 WHERE key = 'HIDDEN'"));
        check_refuses(v, db, secret);

        /* vault_slot_list names the key that does not open. */
        {
                ModelConfigValue *rows = NULL;
                VaultValue *vals = NULL;
                size_t n = 0;
                _cleanup_free_ char *e = NULL;

                CHECK(vault_slot_list(v, db, 2, 0, true, &rows, &vals, &n, &e) == -EBADMSG);
                CHECK(e && strstr(e, "TOKEN") && strstr(e, "production"));
        }
}

static void test_master_key_file(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_free_ char *dir = make_state("keyfile", 0x33, false, &db), *err = NULL, *key = NULL;
        _cleanup_(vault_freep) Vault *v = NULL;
        int64_t id;

        key = path_join(dir, "master.key");
        CHECK(key);
        CHECK_OK(vault_open(db, dir, &v, &err));
        set_value(v, db, 1, 0, "A", "alpha", false, &id);
        v = vault_free(v);

        /* Readable by others: refused, naming chmod. */
        CHECK(chmod(key, 0644) == 0);
        CHECK(vault_open(db, dir, &v, &err) == -EPERM);
        CHECK(err && strstr(err, "chmod 600") && strstr(err, key));
        err = mfree(err);
        CHECK(chmod(key, 0600) == 0);

        /* Not a key. */
        CHECK_OK(write_file_atomic(key, "short\n", 6, 0600));
        CHECK(vault_open(db, dir, &v, &err) == -EBADMSG);
        CHECK(err && strstr(err, key));
        err = mfree(err);

        /* Missing. */
        CHECK(unlink(key) == 0);
        CHECK(vault_open(db, dir, &v, &err) == -ENOENT);
        CHECK(err && strstr(err, key) && strstr(err, "missing"));
        err = mfree(err);

        /* A systemd credential wins over DIR/master.key. */
        {
                _cleanup_free_ char *creds = tmp_path("creds"), *cred = NULL;
                uint8_t raw[32];

                CHECK(mkdir(creds, 0700) == 0);
                cred = path_join(creds, "slipway-master-key");
                memset(raw, 0x33, sizeof raw);
                CHECK_OK(write_file_atomic(cred, raw, sizeof raw, 0400));
                CHECK(setenv("CREDENTIALS_DIRECTORY", creds, 1) == 0);
                CHECK_OK(vault_open(db, dir, &v, &err));
                check_opens(v, db, id, "alpha");
                v = vault_free(v);
                CHECK(unsetenv("CREDENTIALS_DIRECTORY") == 0);
        }
}

static void test_wrong_master_key(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_free_ char *dir = make_state("wrong", 0x44, false, &db), *err = NULL, *key = NULL;
        _cleanup_(vault_freep) Vault *v = NULL;
        uint8_t raw[32];
        int64_t id;
        int changes;

        CHECK_OK(vault_open(db, dir, &v, &err));
        set_value(v, db, 1, 0, "A", "alpha", false, &id);
        v = vault_free(v);

        key = path_join(dir, "master.key");
        memset(raw, 0x45, sizeof raw);
        CHECK_OK(write_file_atomic(key, raw, sizeof raw, 0600));
        changes = sqlite3_total_changes(db);
        CHECK(vault_open(db, dir, &v, &err) == -EKEYREJECTED);
        CHECK(err && strstr(err, key) && strstr(err, "does not open"));
        CHECK(sqlite3_total_changes(db) == changes);
        err = mfree(err);

        /* Without the check value the wrapped key still refuses it. */
        CHECK_OK(sqlite_exec(db, "DELETE FROM vault_meta"));
        changes = sqlite3_total_changes(db);
        CHECK(vault_open(db, dir, &v, &err) == -EKEYREJECTED);
        CHECK(sqlite3_total_changes(db) == changes);
}

static void test_limits(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_free_ char *dir = make_state("limits", 0x55, false, &db), *err = NULL, *big = NULL;
        _cleanup_(vault_freep) Vault *v = NULL;
        unsigned before, after;
        char name[32];

        CHECK_OK(vault_open(db, dir, &v, &err));
        big = malloc(VAULT_VALUE_MAX + 1);
        CHECK(big);
        memset(big, 'x', VAULT_VALUE_MAX + 1);

        CHECK(vault_value_set(v, db,
                              &(VaultWrite) { .project_id = 1,
                                              .environment_id = 1,
                                              .key = "BIG",
                                              .data = big,
                                              .size = VAULT_VALUE_MAX + 1 },
                              NULL, NULL, &err) == -EFBIG);
        CHECK(err && strstr(err, "64 KiB"));
        err = mfree(err);

        /* 16 values of 64 KiB fill the environment (project-wide and a component together). */
        for (unsigned i = 0; i < VAULT_ENV_TOTAL_MAX / VAULT_VALUE_MAX; i++) {
                snprintf(name, sizeof name, "V%u", i);
                CHECK_OK(vault_value_set(v, db,
                                         &(VaultWrite) { .project_id = 1,
                                                         .environment_id = 1,
                                                         .component_id = i % 2,
                                                         .key = name,
                                                         .data = big,
                                                         .size = VAULT_VALUE_MAX },
                                         NULL, NULL, &err));
        }
        CHECK_OK(sqlite_count(db, "SELECT count(*) FROM config_values", SQL_NO_ARGS, &before));
        CHECK(vault_value_set(v, db,
                              &(VaultWrite) { .project_id = 1,
                                              .environment_id = 1,
                                              .component_id = 1,
                                              .key = "ONE_MORE",
                                              .data = "x",
                                              .size = 1 },
                              NULL, NULL, &err) == -EFBIG);
        CHECK(err && strstr(err, "1 MiB"));
        err = mfree(err);
        /* Replacing a value by one of the same size fits; another environment is its own. */
        CHECK_OK(vault_value_set(v, db,
                                 &(VaultWrite) { .project_id = 1,
                                                 .environment_id = 1,
                                                 .key = "V0",
                                                 .data = big,
                                                 .size = VAULT_VALUE_MAX },
                                 NULL, NULL, &err));
        CHECK_OK(vault_value_set(
                v, db,
                &(VaultWrite) {
                        .project_id = 1, .environment_id = 2, .key = "ONE_MORE", .data = "x", .size = 1 },
                NULL, NULL, &err));
        CHECK_OK(sqlite_count(db, "SELECT count(*) FROM config_values", SQL_NO_ARGS, &after));
        CHECK(after == before + 2);

        /* Two keys of one slot at one file path: refused. */
        CHECK_OK(vault_value_set(v, db,
                                 &(VaultWrite) { .project_id = 1,
                                                 .environment_id = 2,
                                                 .key = "CERT",
                                                 .is_file = true,
                                                 .file_path = "/etc/app/cert.pem",
                                                 .data = "c",
                                                 .size = 1 },
                                 NULL, NULL, &err));
        CHECK(vault_value_set(v, db,
                              &(VaultWrite) { .project_id = 1,
                                              .environment_id = 2,
                                              .key = "CERT2",
                                              .is_file = true,
                                              .file_path = "/etc/app/cert.pem",
                                              .data = "c",
                                              .size = 1 },
                              NULL, NULL, &err) == -EEXIST);
        CHECK(err && strstr(err, "CERT") && strstr(err, "/etc/app/cert.pem"));
}

/* A second unretired version (what a rotation that stopped between its steps would leave, were they not
 * one transaction): vault_open() finishes it, and every value opens under the newest version. */
static void test_unfinished_rotation_finished_at_open(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_free_ char *dir = make_state("unfinished", 0x77, false, &db), *err = NULL;
        _cleanup_free_ uint8_t *wrapped = NULL;
        _cleanup_(vault_freep) Vault *v = NULL;
        uint8_t nonce[VAULT_NONCE_SIZE], *key = NULL;
        unsigned active, old;
        size_t wrapped_size;
        int64_t a, b;

        CHECK_OK(vault_open(db, dir, &v, &err));
        set_value(v, db, 1, 0, "A", "alpha", false, &a);
        set_value(v, db, 2, 1, "B", "beta", true, &b);
        CHECK_OK(vault_data_key_new(v, 2, &key, &wrapped, &wrapped_size, nonce));
        sodium_free(key);
        CHECK_OK(model_vault_key_insert(db, 2, wrapped, wrapped_size, nonce, sizeof nonce));
        v = vault_free(v);

        CHECK_OK(vault_open(db, dir, &v, &err));
        CHECK(vault_key_version(v) == 2);
        check_opens(v, db, a, "alpha");
        check_opens(v, db, b, "beta");
        CHECK_OK(sqlite_count(db, "SELECT count(*) FROM vault_keys WHERE wrapped_key IS NOT NULL",
                              SQL_NO_ARGS, &active));
        CHECK_OK(sqlite_count(db, "SELECT count(*) FROM config_values WHERE key_version = 1", SQL_NO_ARGS,
                              &old));
        CHECK(active == 1 && old == 0);
}

static int kill_after_steps(void *userdata) {
        unsigned *left = userdata;
        if (--*left == 0)
                raise(SIGKILL);
        return 0;
}

/* Rotates in a child that SIGKILLs itself after `steps` progress callbacks: whether it was killed. */
static bool rotate_killed_after(const char *dir, unsigned steps) {
        int status;
        pid_t pid;

        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                _cleanup_free_ char *p = path_join(dir, "slipway.db");
                sqlite3 *db = NULL;
                Vault *v = NULL;
                unsigned left = steps;

                if (!p || state_open(p, &db) < 0 || vault_open(db, dir, &v, NULL) < 0)
                        _exit(2);
                sqlite3_progress_handler(db, 20, kill_after_steps, &left);
                _exit(vault_rotate(v, db, NULL) < 0 ? 3 : 0);
        }
        CHECK(waitpid(pid, &status, 0) == pid);
        if (WIFEXITED(status)) {
                CHECK(WEXITSTATUS(status) == 0);
                return false;
        }
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        return true;
}

#define ROTATE_VALUES 200U

static void check_all_open(const char *dir) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_free_ char *p = path_join(dir, "slipway.db"), *err = NULL;
        _cleanup_(vault_freep) Vault *v = NULL;
        unsigned active;
        char value[64];

        CHECK_OK(state_open(p, &db));
        CHECK_OK(vault_open(db, dir, &v, &err));
        for (unsigned i = 0; i < ROTATE_VALUES; i++) {
                snprintf(value, sizeof value, "value-%u", i);
                check_opens(v, db, i + 1, value);
        }
        /* After open exactly one version is in use. */
        CHECK_OK(sqlite_count(db, "SELECT count(*) FROM vault_keys WHERE wrapped_key IS NOT NULL",
                              SQL_NO_ARGS, &active));
        CHECK(active == 1);
}

static void test_killed_rotation(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_free_ char *dir = make_state("rotate", 0x66, false, &db), *err = NULL;
        _cleanup_(vault_freep) Vault *v = NULL;
        unsigned killed = 0, retired;
        VaultRotation rot = {};
        char name[32], value[64];

        CHECK_OK(vault_open(db, dir, &v, &err));
        for (unsigned i = 0; i < ROTATE_VALUES; i++) {
                int64_t id;
                snprintf(name, sizeof name, "K%u", i % 50);
                snprintf(value, sizeof value, "value-%u", i);
                set_value(v, db, 1 + i % 2, i % 3 == 0 ? 0 : 1 + i % 2, name, value, i % 4 == 0, &id);
                CHECK(id == (int64_t) i + 1);
        }
        CHECK_OK(vault_rotate(v, db, &rot));
        CHECK(rot.new_version == 2 && rot.rewrapped == ROTATE_VALUES && rot.n_retired == 1 &&
              rot.retired_versions[0] == 1 && rot.unopenable == 0);
        CHECK_OK(sqlite_count(db,
                              "SELECT count(*) FROM vault_keys WHERE version = 1 AND wrapped_key IS NULL"
                              " AND retired_at IS NOT NULL",
                              SQL_NO_ARGS, &retired));
        CHECK(retired == 1);
        v = vault_free(v);
        sqlite3_close_v2(TAKE_PTR(db));
        check_all_open(dir);

        /* kill -9 at many points of a rotation: every value opens afterwards. */
        for (unsigned steps = 1; steps < 200000; steps = steps * 3 / 2 + 1) {
                if (!rotate_killed_after(dir, steps))
                        break;
                killed++;
                check_all_open(dir);
        }
        CHECK(killed >= 10);
        check_all_open(dir);
}

static void check_secret(Vault *v, sqlite3 *db, int64_t comp, const char *name, const char *want) {
        uint8_t *data = NULL;
        size_t size = 0;

        CHECK_OK(vault_component_secret_get(v, db, comp, name, &data, &size));
        CHECK(size == strlen(want) && memcmp(data, want, size) == 0 && data[size] == 0);
        vault_secret_free(data, size);
}

/* Component secrets: round trip, replace, unset, empty refused, AD binding, rotation keeps them. */
static void test_component_secrets(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_free_ char *dir = make_state("csecret", 0x55, false, &db), *err = NULL;
        _cleanup_(vault_freep) Vault *v = NULL;
        _cleanup_free_ uint8_t *big = NULL;
        VaultRotation rot = {};
        uint8_t *data = NULL;
        size_t size = 0;
        unsigned plain;

        CHECK_OK(vault_open(db, dir, &v, &err));
        CHECK(vault_component_secret_get(v, db, 1, VAULT_SECRET_WEBHOOK, &data, &size) == -ENOENT);
        CHECK_OK(vault_component_secret_set(v, db, 1, VAULT_SECRET_WEBHOOK, "hook-secret-1", 13));
        CHECK_OK(vault_component_secret_set(v, db, 2, VAULT_SECRET_WEBHOOK, "other-secret", 12));
        check_secret(v, db, 1, VAULT_SECRET_WEBHOOK, "hook-secret-1");
        check_secret(v, db, 2, VAULT_SECRET_WEBHOOK, "other-secret");
        /* Not stored in the clear. */
        CHECK_OK(sqlite_count(
                db, "SELECT count(*) FROM component_secrets WHERE instr(ciphertext, 'hook-secret')",
                SQL_NO_ARGS, &plain));
        CHECK(plain == 0);
        /* Replace. */
        CHECK_OK(vault_component_secret_set(v, db, 1, VAULT_SECRET_WEBHOOK, "hook-secret-2", 13));
        check_secret(v, db, 1, VAULT_SECRET_WEBHOOK, "hook-secret-2");

        /* Empty and oversized secrets are refused, and change nothing. */
        CHECK(vault_component_secret_set(v, db, 1, VAULT_SECRET_WEBHOOK, "", 0) == -EINVAL);
        big = malloc(VAULT_VALUE_MAX + 1);
        CHECK(big);
        memset(big, 'x', VAULT_VALUE_MAX + 1);
        CHECK(vault_component_secret_set(v, db, 1, VAULT_SECRET_WEBHOOK, big, VAULT_VALUE_MAX + 1) ==
              -EINVAL);
        check_secret(v, db, 1, VAULT_SECRET_WEBHOOK, "hook-secret-2");

        /* A row copied to another component, or to another name, does not open. */
        CHECK_OK(sqlite_exec(db,
                             "INSERT INTO components(id, project_id, name, image_ref, spec, created_at)"
                             " VALUES (3, 1, 'worker', NULL, '{}', 100);"
                             "INSERT INTO component_secrets SELECT 3, name, key_version, nonce, ciphertext,"
                             " set_at FROM component_secrets WHERE component_id = 1;"
                             "INSERT INTO component_secrets SELECT 1, 'git-token', key_version, nonce,"
                             " ciphertext, set_at FROM component_secrets WHERE component_id = 1;"));
        CHECK(vault_component_secret_get(v, db, 3, VAULT_SECRET_WEBHOOK, &data, &size) == -EBADMSG);
        CHECK(vault_component_secret_get(v, db, 1, VAULT_SECRET_GIT_TOKEN, &data, &size) == -EBADMSG);

        /* Rotation re-seals them under the new key: they still open, also after reopening. */
        CHECK_OK(vault_rotate(v, db, &rot));
        CHECK(rot.new_version == 2 && rot.n_retired == 1);
        CHECK(rot.unopenable == 2); /* the two copies */
        check_secret(v, db, 1, VAULT_SECRET_WEBHOOK, "hook-secret-2");
        check_secret(v, db, 2, VAULT_SECRET_WEBHOOK, "other-secret");
        CHECK_OK(sqlite_count(db,
                              "SELECT count(*) FROM component_secrets WHERE key_version = 2"
                              " AND component_id IN (1, 2) AND name = 'webhook'",
                              SQL_NO_ARGS, &plain));
        CHECK(plain == 2);
        v = vault_free(v);
        CHECK_OK(vault_open(db, dir, &v, &err));
        check_secret(v, db, 1, VAULT_SECRET_WEBHOOK, "hook-secret-2");

        /* Unset. */
        CHECK_OK(vault_component_secret_unset(v, db, 2, VAULT_SECRET_WEBHOOK));
        CHECK(vault_component_secret_unset(v, db, 2, VAULT_SECRET_WEBHOOK) == -ENOENT);
        CHECK(vault_component_secret_get(v, db, 2, VAULT_SECRET_WEBHOOK, &data, &size) == -ENOENT);
}

/* A rotation killed after adding the new key: vault_open() finishes it, component secrets included. */
static void test_component_secret_unfinished_rotation(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_free_ char *dir = make_state("csecret-unfinished", 0x44, false, &db), *err = NULL;
        _cleanup_free_ uint8_t *wrapped = NULL;
        _cleanup_(vault_freep) Vault *v = NULL;
        uint8_t nonce[VAULT_NONCE_SIZE], *key = NULL;
        size_t wrapped_size;
        unsigned old;

        CHECK_OK(vault_open(db, dir, &v, &err));
        CHECK_OK(vault_component_secret_set(v, db, 1, VAULT_SECRET_WEBHOOK, "s3cret", 6));
        CHECK_OK(vault_data_key_new(v, 2, &key, &wrapped, &wrapped_size, nonce));
        sodium_free(key);
        CHECK_OK(model_vault_key_insert(db, 2, wrapped, wrapped_size, nonce, sizeof nonce));
        v = vault_free(v);
        CHECK_OK(vault_open(db, dir, &v, &err));
        CHECK(vault_key_version(v) == 2);
        check_secret(v, db, 1, VAULT_SECRET_WEBHOOK, "s3cret");
        CHECK_OK(sqlite_count(db, "SELECT count(*) FROM component_secrets WHERE key_version = 1",
                              SQL_NO_ARGS, &old));
        CHECK(old == 0);
}

static void check_registry_password(Vault *v, sqlite3 *db, const char *name, int want_r, const char *want) {
        _cleanup_(model_registry_done) ModelRegistry row = {};
        uint8_t *data = NULL;
        size_t size = 0;

        CHECK_OK(model_registry_get(db, name, &row));
        CHECK(vault_registry_password(v, &row, &data, &size) == want_r);
        if (want_r < 0)
                return;
        CHECK(size == strlen(want) && memcmp(data, want, size) == 0 && data[size] == 0);
        vault_secret_free(data, size);
}

/* Registry passwords (issue 13): sealed (not in the clear), bound to the registry's name, none for an
 * anonymous registry, re-sealed by a rotation. */
static void test_registry_passwords(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_free_ char *dir = make_state("registry", 0x66, false, &db), *err = NULL;
        _cleanup_(vault_freep) Vault *v = NULL;
        VaultRotation rot = {};
        unsigned plain;

        CHECK_OK(vault_open(db, dir, &v, &err));
        ModelRegistry corp = { .name = (char *) "corp",
                               .url = (char *) "https://r.example",
                               .username = (char *) "ci" };
        ModelRegistry open = { .name = (char *) "open", .url = (char *) "https://o.example" };
        CHECK_OK(vault_registry_add(v, db, &corp, "pa55word-corp", 13));
        CHECK_OK(vault_registry_add(v, db, &open, NULL, 0));
        CHECK(vault_registry_add(v, db, &corp, "again", 5) == -EEXIST);
        CHECK(vault_registry_add(v, db, &open, "", 0) == -EINVAL);
        check_registry_password(v, db, "corp", 0, "pa55word-corp");
        check_registry_password(v, db, "open", -ENOENT, NULL);
        CHECK_OK(sqlite_count(db, "SELECT count(*) FROM registries WHERE instr(ciphertext, 'pa55word')",
                              SQL_NO_ARGS, &plain));
        CHECK(plain == 0);

        /* A ciphertext moved to another registry does not open there. */
        CHECK_OK(sqlite_exec(db,
                             "INSERT INTO registries(name, url, key_version, nonce, ciphertext, created_at)"
                             " SELECT 'stolen', url, key_version, nonce, ciphertext, 1 FROM registries"
                             " WHERE name = 'corp';"));
        check_registry_password(v, db, "stolen", -EBADMSG, NULL);

        CHECK_OK(vault_rotate(v, db, &rot));
        CHECK(rot.unopenable == 1); /* the moved copy */
        check_registry_password(v, db, "corp", 0, "pa55word-corp");
        CHECK_OK(sqlite_count(db, "SELECT count(*) FROM registries WHERE name = 'corp' AND key_version = ?1",
                              SQL_ARGS(SQL_INT(rot.new_version)), &plain));
        CHECK(plain == 1);
        v = vault_free(v);
        CHECK_OK(vault_open(db, dir, &v, &err));
        check_registry_password(v, db, "corp", 0, "pa55word-corp");
}

/* The build secrets of comp as "KEY=VALUE;…" (sorted by key), opened. */
static char *build_secrets_text(Vault *v, sqlite3 *db, int64_t comp, int want_r) {
        _cleanup_free_ char *err = NULL;
        VaultValue *vals = NULL;
        size_t n = 0, len = 0;
        char *text = NULL;
        FILE *f;

        CHECK(vault_build_secrets_open(v, db, comp, &vals, &n, &err) == want_r);
        if (want_r < 0) {
                CHECK(err && strstr(err, "build secret"));
                return NULL;
        }
        f = open_memstream(&text, &len);
        CHECK(f);
        for (size_t i = 0; i < n; i++) {
                CHECK(vals[i].data[vals[i].size] == 0);
                fprintf(f, "%s=%s;", vals[i].key, (const char *) vals[i].data);
        }
        CHECK(fclose(f) == 0);
        vault_values_free(vals, n);
        return text;
}

#define CHECK_BUILD_SECRETS(v, db, comp, want)                                         \
        do {                                                                           \
                _cleanup_free_ char *_t = build_secrets_text(v, db, comp, 0);          \
                if (!streq(_t, want)) {                                                \
                        fprintf(stderr, "build secrets: '%s', want '%s'\n", _t, want); \
                        CHECK(false);                                                  \
                }                                                                      \
        } while (0)

/* Build secrets (issue 15): versioned per (component, key), not in the clear, bound by their associated data
 * to project, component, key and version, unset as a tombstone, limits, and re-sealed by a rotation. */
static void test_build_secrets(void) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_free_ char *dir = make_state("build-secret", 0x77, false, &db), *err = NULL;
        _cleanup_(vault_freep) Vault *v = NULL;
        _cleanup_free_ uint8_t *big = NULL;
        VaultRotation rot = {};
        int64_t id, version;
        unsigned count;

        CHECK_OK(vault_open(db, dir, &v, &err));
        CHECK_BUILD_SECRETS(v, db, 1, "");
        CHECK_OK(vault_build_secret_set(v, db, 1, 1, "TOKEN", "tok-value-1", 11, &id, &version, &err));
        CHECK(version == 1 && id > 0);
        CHECK_OK(vault_build_secret_set(v, db, 1, 1, "NPMRC", "npm-value", 9, NULL, NULL, &err));
        CHECK_OK(vault_build_secret_set(v, db, 1, 2, "TOKEN", "api-token", 9, NULL, NULL, &err));
        CHECK_BUILD_SECRETS(v, db, 1, "NPMRC=npm-value;TOKEN=tok-value-1;");
        CHECK_BUILD_SECRETS(v, db, 2, "TOKEN=api-token;");
        CHECK_OK(sqlite_count(db,
                              "SELECT count(*) FROM build_secrets WHERE instr(ciphertext, 'value')"
                              " OR instr(ciphertext, 'token')",
                              SQL_NO_ARGS, &count));
        CHECK(count == 0);

        /* A new version replaces, and the old one's ciphertext is gone (nothing pins it). */
        CHECK_OK(vault_build_secret_set(v, db, 1, 1, "TOKEN", "tok-value-2", 11, NULL, &version, &err));
        CHECK(version == 2);
        CHECK_BUILD_SECRETS(v, db, 1, "NPMRC=npm-value;TOKEN=tok-value-2;");
        CHECK_OK(sqlite_count(db,
                              "SELECT count(*) FROM build_secrets WHERE component_id = 1 AND key = 'TOKEN'",
                              SQL_NO_ARGS, &count));
        CHECK(count == 1);

        /* Empty and oversized ones are refused with a sentence, and change nothing. */
        err = mfree(err);
        CHECK(vault_build_secret_set(v, db, 1, 1, "TOKEN", "", 0, NULL, NULL, &err) == -EFBIG);
        CHECK(err && strstr(err, "TOKEN"));
        err = mfree(err);
        big = malloc(VAULT_VALUE_MAX + 1);
        CHECK(big);
        memset(big, 'x', VAULT_VALUE_MAX + 1);
        CHECK(vault_build_secret_set(v, db, 1, 1, "TOKEN", big, VAULT_VALUE_MAX + 1, NULL, NULL, &err) ==
              -EFBIG);
        CHECK(err && strstr(err, "64 KiB"));
        err = mfree(err);
        CHECK_OK(vault_build_secret_set(v, db, 1, 1, "BIG", big, VAULT_VALUE_MAX, NULL, NULL, &err));
        CHECK_OK(vault_build_secret_unset(v, db, 1, 1, "BIG", NULL));
        CHECK_BUILD_SECRETS(v, db, 1, "NPMRC=npm-value;TOKEN=tok-value-2;");

        /* At most VAULT_BUILD_SECRETS_MAX current keys; replacing one of them still works. */
        for (unsigned i = 0; i < VAULT_BUILD_SECRETS_MAX - 1; i++) { /* and TOKEN */
                char key[16];
                snprintf(key, sizeof key, "K%u", i);
                CHECK_OK(vault_build_secret_set(v, db, 1, 2, key, "filler", 6, NULL, NULL, &err));
        }
        CHECK(vault_build_secret_set(v, db, 1, 2, "ONE_MORE", "x", 1, NULL, NULL, &err) == -E2BIG);
        CHECK(err && strstr(err, "ONE_MORE"));
        err = mfree(err);
        CHECK_OK(vault_build_secret_set(v, db, 1, 2, "TOKEN", "api-token-2", 11, NULL, NULL, &err));
        CHECK_OK(vault_build_secret_unset(v, db, 1, 2, "K0", NULL));
        CHECK_OK(vault_build_secret_set(v, db, 1, 2, "ONE_MORE", "x", 1, NULL, NULL, &err));

        /* Unset: a tombstone, the value's row gone; again: -ENOENT. */
        CHECK_OK(vault_build_secret_unset(v, db, 1, 1, "NPMRC", &version));
        CHECK(version == 2);
        CHECK_OK(sqlite_count(db,
                              "SELECT count(*) FROM build_secrets WHERE key = 'NPMRC' AND (deleted = 0"
                              " OR ciphertext IS NOT NULL)",
                              SQL_NO_ARGS, &count));
        CHECK(count == 0);
        CHECK(vault_build_secret_unset(v, db, 1, 1, "NPMRC", NULL) == -ENOENT);
        CHECK(vault_build_secret_unset(v, db, 1, 1, "NEVER", NULL) == -ENOENT);
        CHECK_BUILD_SECRETS(v, db, 1, "TOKEN=tok-value-2;");

        /* Rotation re-seals them: they open under the new key, also after reopening. */
        CHECK_OK(vault_rotate(v, db, &rot));
        CHECK(rot.unopenable == 0);
        CHECK_OK(sqlite_count(db,
                              "SELECT count(*) FROM build_secrets WHERE deleted = 0 AND key_version != ?1",
                              SQL_ARGS(SQL_INT(rot.new_version)), &count));
        CHECK(count == 0);
        v = vault_free(v);
        CHECK_OK(vault_open(db, dir, &v, &err));
        CHECK_BUILD_SECRETS(v, db, 1, "TOKEN=tok-value-2;");

        /* A ciphertext moved to another component, key or version does not open there. */
        CHECK_OK(sqlite_exec(db, "UPDATE build_secrets SET (key_version, nonce, ciphertext) ="
                                 " (SELECT key_version, nonce, ciphertext FROM build_secrets"
                                 "  WHERE component_id = 1 AND key = 'TOKEN' AND version = 2)"
                                 " WHERE component_id = 2 AND key = 'TOKEN' AND version = 2;"));
        _cleanup_free_ char *t = build_secrets_text(v, db, 2, -EBADMSG);
        CHECK_OK(sqlite_exec(
                db, "INSERT INTO build_secrets(project_id, component_id, key, version, deleted, size,"
                    " key_version, nonce, ciphertext, set_at)"
                    " SELECT project_id, component_id, 'OTHER', version, 0, size, key_version, nonce,"
                    " ciphertext, set_at FROM build_secrets WHERE component_id = 1 AND key = 'TOKEN'"
                    " AND version = 2;"));
        t = build_secrets_text(v, db, 1, -EBADMSG);
        CHECK_OK(sqlite_exec(db, "DELETE FROM build_secrets WHERE key = 'OTHER';"
                                 "UPDATE build_secrets SET version = version + 1"
                                 " WHERE component_id = 1 AND key = 'TOKEN';"));
        t = build_secrets_text(v, db, 1, -EBADMSG);
}

int main(void) {
        CHECK(mkdtemp(tmpdir));
        atexit(cleanup_tmpdir);

        test_round_trip();
        test_associated_data();
        test_master_key_file();
        test_wrong_master_key();
        test_limits();
        test_unfinished_rotation_finished_at_open();
        test_killed_rotation();
        test_component_secrets();
        test_component_secret_unfinished_rotation();
        test_registry_passwords();
        test_build_secrets();
        return 0;
}
