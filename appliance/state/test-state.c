/* Unit tests for appliance/state: pragmas, migrations (fresh, upgrade, failure rollback, downgrade
 * refusal, ids never reused, a migration killed half-way), foreign keys, and the image/tag queries. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build-db.h"
#include "component-db.h"
#include "fs-util.h"
#include "image-db.h"
#include "migrate.h"
#include "schema.h"
#include "sqlite-util.h"
#include "state.h"

#include "tests.h"

static char tmpdir[] = "/tmp/test-state-XXXXXX";

static char *db_path(const char *name) {
        char *p = path_join(tmpdir, name);
        CHECK(p);
        return p;
}

static bool table_exists(sqlite3 *db, const char *name) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        CHECK(sqlite_prepare(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1", &s) == 0);
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        return sqlite3_step(s) == SQLITE_ROW;
}

static int query_int(sqlite3 *db, const char *sql) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        CHECK(sqlite_prepare(db, sql, &s) == 0);
        CHECK(sqlite3_step(s) == SQLITE_ROW);
        return sqlite3_column_int(s, 0);
}

static void test_fresh(void) {
        _cleanup_free_ char *p = db_path("fresh.db");
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        int v;

        CHECK(state_open(p, &db) == 0);
        CHECK(migrate_get_version(db, &v) == 0);
        CHECK(v == state_latest_version());
        CHECK(v >= 1);
        CHECK(table_exists(db, "images"));
        CHECK(table_exists(db, "tags"));
        CHECK(query_int(db, "PRAGMA foreign_keys") == 1);
        CHECK(query_int(db, "PRAGMA synchronous") == 2); /* FULL */
        sqlite3_close_v2(TAKE_PTR(db));

        /* Reopening an up-to-date file changes nothing. */
        CHECK(state_open(p, &db) == 0);
        CHECK(migrate_get_version(db, &v) == 0 && v == state_latest_version());
}

static const Migration test_migrations[] = {
        { "t1", "CREATE TABLE t1(a INTEGER);" },
        { "t1 gets b", "ALTER TABLE t1 ADD COLUMN b TEXT DEFAULT 'x'; CREATE TABLE t2(c INTEGER);" },
        { "broken", "CREATE TABLE t3(d INTEGER); INSERT INTO no_such_table VALUES (1);" },
};

static void test_upgrade_from_old_file(void) {
        _cleanup_free_ char *p = db_path("old.db");
        sqlite3 *db = NULL;
        int v;

        /* A file as an older slipwayd left it: only the first migration, with data. */
        CHECK(sqlite_open(p, &db) == 0);
        CHECK(migrate_apply(db, test_migrations, 1, NULL) == 0);
        CHECK(sqlite_exec(db, "INSERT INTO t1(a) VALUES (42);") == 0);
        CHECK(migrate_get_version(db, &v) == 0 && v == 1);
        sqlite3_close_v2(db);

        CHECK(sqlite_open(p, &db) == 0);
        CHECK(migrate_apply(db, test_migrations, 2, NULL) == 0);
        CHECK(migrate_get_version(db, &v) == 0 && v == 2);
        CHECK(query_int(db, "SELECT a FROM t1") == 42);
        CHECK(query_int(db, "SELECT COUNT(*) FROM t1 WHERE b = 'x'") == 1);
        CHECK(table_exists(db, "t2"));
        sqlite3_close_v2(db);
}

static void test_failed_migration_rolls_back(void) {
        _cleanup_free_ char *p = db_path("broken.db");
        sqlite3 *db = NULL;
        const char *failed = NULL;
        int v;

        CHECK(sqlite_open(p, &db) == 0);
        CHECK(migrate_apply(db, test_migrations, 3, &failed) < 0);
        CHECK(failed && streq(failed, "broken"));
        CHECK(migrate_get_version(db, &v) == 0 && v == 2);
        CHECK(!table_exists(db, "t3")); /* the first half of the broken step is gone */
        CHECK(table_exists(db, "t2"));
        sqlite3_close_v2(db);

        /* After the fix ships, the same file migrates on. */
        static const Migration fixed[] = {
                { "t1", "" },
                { "t1 gets b", "" },
                { "fixed", "CREATE TABLE t3(d INTEGER);" },
        };
        CHECK(sqlite_open(p, &db) == 0);
        CHECK(migrate_apply(db, fixed, 3, NULL) == 0);
        CHECK(migrate_get_version(db, &v) == 0 && v == 3);
        CHECK(table_exists(db, "t3"));
        sqlite3_close_v2(db);
}

static void test_newer_file_refused(void) {
        _cleanup_free_ char *p = db_path("newer.db");
        sqlite3 *db = NULL;

        CHECK(sqlite_open(p, &db) == 0);
        CHECK(sqlite_exec(db, "PRAGMA user_version=999;") == 0);
        sqlite3_close_v2(db);
        db = NULL;
        CHECK(state_open(p, &db) == -EPROTONOSUPPORT);
        CHECK(!db);
}

/* The last schema without AUTOINCREMENT (migrations 1-3, what slipwayd of session 16 left), with rows
 * in every table that has an id and in the tables that refer to them. */
#define OLD_SCHEMA_VERSION 3

static void make_old_db(const char *p) {
        sqlite3 *db = NULL;

        (void) unlink(p);
        CHECK(sqlite_open(p, &db) == 0);
        CHECK(migrate_apply(db, state_migrations, OLD_SCHEMA_VERSION, NULL) == 0);
        CHECK_OK(sqlite_exec(
                db,
                "INSERT INTO projects(id, name, created_at) VALUES (1, 'shop', 100), (2, 'blog', 101);"
                "INSERT INTO environments VALUES"
                " (1, 1, 'development', 0, '10.213.1.0/24', 'swbaaaaaa111111', 21000, NULL, 0, 100),"
                " (2, 2, 'development', 0, '10.213.2.0/24', 'swbaaaaaa222222', 21001, 'b.example', 1, 101);"
                "INSERT INTO components VALUES (1, 1, 'web', 'web:1', '{}', 100), (2, 2, 'web', NULL, '{}', 101);"
                "INSERT INTO service_addresses VALUES (1, 1, '10.213.1.10'), (2, 2, '10.213.2.10');"
                "INSERT INTO releases VALUES (1, 1, 1, 'sha256:aa', '{}', 'live', NULL, 100, 110),"
                " (2, 2, 2, 'sha256:bb', '{}', 'failed', 'no', 101, 111);"
                "INSERT INTO instances VALUES (1, 1, '10.213.1.100', 'slipway-1', '/s/instances/1', 'ready', 2, 100),"
                " (2, 2, '10.213.2.100', 'slipway-2', '/s/instances/2', 'failed', 0, 101);"
                "INSERT INTO deploy_log VALUES (1, 5, 'one'), (2, 6, 'two');"));
        sqlite3_close_v2(db);
}

static bool schema_has(sqlite3 *db, const char *table, const char *text) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        CHECK(sqlite_prepare(db, "SELECT sql FROM sqlite_master WHERE name = ?1", &s) == 0);
        sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
        CHECK(sqlite3_step(s) == SQLITE_ROW);
        return strstr((const char *) sqlite3_column_text(s, 0), text);
}

static void test_ids_never_reused(void) {
        _cleanup_free_ char *p = db_path("ids.db");
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        static const char *const tables[] = { "projects", "environments", "components", "releases",
                                              "instances" };
        int v;

        make_old_db(p);
        CHECK(state_open(p, &db) == 0);
        CHECK(migrate_get_version(db, &v) == 0 && v == state_latest_version());
        CHECK(query_int(db, "PRAGMA foreign_keys") == 1);
        for (size_t i = 0; i < ELEMENTSOF(tables); i++)
                CHECK(schema_has(db, tables[i], "AUTOINCREMENT"));
        CHECK(schema_has(db, "releases_by_target", "component_id, environment_id, id"));
        CHECK(schema_has(db, "deploy_log_by_release", "release_id"));
        CHECK(!table_exists(db, "projects_new") && !table_exists(db, "instances_new"));

        /* Every row is kept, with every column. */
        CHECK(query_int(db, "SELECT count(*) FROM projects WHERE (id, name, created_at) IN"
                            " (VALUES (1, 'shop', 100), (2, 'blog', 101))") == 2);
        CHECK(query_int(
                      db,
                      "SELECT count(*) FROM environments WHERE id = 2 AND project_id = 2 AND position = 0"
                      " AND subnet = '10.213.2.0/24' AND bridge = 'swbaaaaaa222222' AND ingress_port = 21001"
                      " AND domain = 'b.example' AND egress = 1 AND created_at = 101") == 1);
        CHECK(query_int(db, "SELECT count(*) FROM components WHERE id = 1 AND image_ref = 'web:1'") == 1);
        CHECK(query_int(db,
                        "SELECT count(*) FROM releases WHERE id = 2 AND status = 'failed' AND reason = 'no'"
                        " AND finished_at = 111") == 1);
        CHECK(query_int(
                      db,
                      "SELECT count(*) FROM instances WHERE id = 1 AND netns = 'slipway-1' AND restarts = 2"
                      " AND dir = '/s/instances/1' AND state = 'ready'") == 1);
        CHECK(query_int(db, "SELECT count(*) FROM deploy_log") == 2);
        CHECK(query_int(db, "SELECT count(*) FROM service_addresses") == 2);
        CHECK(query_int(db, "SELECT count(*) FROM environments") == 2);

        /* The foreign keys still hold and cascade. */
        CHECK(sqlite_exec(db, "INSERT INTO instances(release_id, address, netns, dir, state, created_at)"
                              " VALUES (99, 'x', 'x', 'x', 'ready', 1);") == -ENOENT);
        CHECK(sqlite_exec(db, "INSERT INTO environments(project_id, name, position, subnet, bridge,"
                              " ingress_port, created_at) VALUES (1, 'development', 1, 's', 'b', 1, 1);") ==
              -EEXIST);
        CHECK_OK(sqlite_exec(db, "DELETE FROM projects WHERE id = 2;"));
        CHECK(query_int(db, "SELECT count(*) FROM environments") == 1);
        CHECK(query_int(db, "SELECT count(*) FROM releases") == 1);
        CHECK(query_int(db, "SELECT count(*) FROM instances") == 1);
        CHECK(query_int(db, "SELECT count(*) FROM deploy_log") == 1);
        CHECK(query_int(db, "SELECT count(*) FROM service_addresses") == 1);

        /* The ids of the deleted project's rows (the highest) are not handed out again. */
        CHECK_OK(sqlite_exec(db, "INSERT INTO projects(name, created_at) VALUES ('next', 200);"));
        CHECK(query_int(db, "SELECT id FROM projects WHERE name = 'next'") == 3);
        CHECK_OK(sqlite_exec(
                db,
                "INSERT INTO environments(project_id, name, position, subnet, bridge, ingress_port, created_at)"
                " VALUES (3, 'development', 0, '10.213.3.0/24', 'swbaaaaaa333333', 21002, 200);"
                "INSERT INTO components(project_id, name, spec, created_at) VALUES (3, 'web', '{}', 200);"
                "INSERT INTO releases(component_id, environment_id, image_digest, spec, status, created_at)"
                " VALUES (3, 3, 'sha256:cc', '{}', 'pending', 200);"
                "INSERT INTO instances(release_id, address, netns, dir, state, created_at)"
                " VALUES (3, '10.213.3.100', '', '', 'starting', 200);"));
        for (size_t i = 1; i < ELEMENTSOF(tables); i++) {
                _cleanup_free_ char *q = NULL;
                CHECK(asprintf(&q, "SELECT max(id) FROM %s", tables[i]) > 0);
                CHECK(query_int(db, q) == 3);
        }
        /* And after a reopen (the sequence is in the file, not the connection). */
        CHECK_OK(sqlite_exec(db, "DELETE FROM instances WHERE id = 3;"));
        sqlite3_close_v2(TAKE_PTR(db));
        CHECK(state_open(p, &db) == 0);
        CHECK_OK(sqlite_exec(db, "INSERT INTO instances(release_id, address, netns, dir, state, created_at)"
                                 " VALUES (1, '10.213.1.101', '', '', 'starting', 300);"));
        CHECK(query_int(db, "SELECT max(id) FROM instances") == 4);
}

static int kill_after_steps(void *userdata) {
        unsigned *left = userdata;
        if (--*left == 0)
                raise(SIGKILL);
        return 0;
}

/* Runs the migrations in a child that SIGKILLs itself after `steps` progress callbacks: whether it was
 * killed (else it finished). */
static bool migrate_killed_after(const char *p, unsigned steps) {
        int status;
        pid_t pid;

        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
                sqlite3 *db = NULL;
                unsigned left = steps;

                if (sqlite_open(p, &db) < 0)
                        _exit(2);
                sqlite3_progress_handler(db, 50, kill_after_steps, &left);
                /* Only the rebuild (migration 4): later ones would leave version 4 behind a kill. */
                _exit(migrate_apply(db, state_migrations, OLD_SCHEMA_VERSION + 1, NULL) < 0 ? 3 : 0);
        }
        CHECK(waitpid(pid, &status, 0) == pid);
        if (WIFEXITED(status)) {
                CHECK(WEXITSTATUS(status) == 0);
                return false;
        }
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        return true;
}

static void test_killed_migration_leaves_old_schema(void) {
        _cleanup_free_ char *p = db_path("killed.db");
        unsigned killed = 0;

        /* kill -9 at many points of the rebuild: each time the old schema and all its rows are there,
         * and the next start migrates it. */
        for (unsigned steps = 1; steps < 4000; steps = steps * 3 / 2 + 1) {
                _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
                int v;

                make_old_db(p);
                if (!migrate_killed_after(p, steps))
                        break;
                killed++;
                CHECK(sqlite_open(p, &db) == 0);
                CHECK(migrate_get_version(db, &v) == 0 && v == OLD_SCHEMA_VERSION);
                CHECK(!schema_has(db, "projects", "AUTOINCREMENT"));
                CHECK(!schema_has(db, "instances", "AUTOINCREMENT"));
                CHECK(!table_exists(db, "projects_new") && !table_exists(db, "releases_new"));
                CHECK(query_int(db, "SELECT count(*) FROM projects") == 2);
                CHECK(query_int(db, "SELECT count(*) FROM instances") == 2);
                CHECK(query_int(db, "SELECT count(*) FROM deploy_log") == 2);
                sqlite3_close_v2(TAKE_PTR(db));

                CHECK(state_open(p, &db) == 0);
                CHECK(migrate_get_version(db, &v) == 0 && v == state_latest_version());
                CHECK(query_int(db, "SELECT count(*) FROM instances") == 2);
        }
        CHECK(killed >= 5);
}

static void test_rebuild_refused_inside_transaction(void) {
        _cleanup_free_ char *p = db_path("rebuild-tx.db");
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        static const Migration m[] = {
                { "parent", "CREATE TABLE p(id INTEGER PRIMARY KEY);"
                            "CREATE TABLE c(p INTEGER REFERENCES p(id) ON DELETE CASCADE);"
                            "INSERT INTO p VALUES (1); INSERT INTO c VALUES (1);" },
                { "rebuild p",
                  "CREATE TABLE p_new(id INTEGER PRIMARY KEY AUTOINCREMENT);"
                  "INSERT INTO p_new SELECT id FROM p; DROP TABLE p;"
                  "ALTER TABLE p_new RENAME TO p;",
                  true },
                { "dangling", "DELETE FROM p;", true },
        };
        int v;

        CHECK(sqlite_open(p, &db) == 0);
        CHECK(migrate_apply(db, m, 1, NULL) == 0);
        /* With foreign keys on, DROP TABLE p would delete c's rows: the step must not run then. */
        CHECK_OK(sqlite_exec(db, "SAVEPOINT outer;"));
        CHECK(migrate_apply(db, m, 2, NULL) < 0);
        CHECK_OK(sqlite_exec(db, "RELEASE outer;"));
        CHECK(query_int(db, "SELECT count(*) FROM c") == 1);
        CHECK(migrate_apply(db, m, 2, NULL) == 0);
        CHECK(query_int(db, "SELECT count(*) FROM c") == 1);
        CHECK(query_int(db, "PRAGMA foreign_keys") == 1);
        /* A step that leaves a child without its parent is rolled back. */
        CHECK(migrate_apply(db, m, 3, NULL) == -EBADMSG);
        CHECK(migrate_get_version(db, &v) == 0 && v == 2);
        CHECK(query_int(db, "SELECT count(*) FROM p") == 1);
        CHECK(query_int(db, "PRAGMA foreign_keys") == 1);
}

static void fill_record(ImageRecord *rec, char c) {
        *rec = (ImageRecord) {};
        snprintf(rec->digest, sizeof rec->digest, "sha256:%064d", 0);
        memset(rec->digest + 7, c, 64);
        snprintf(rec->config_digest, sizeof rec->config_digest, "sha256:%064d", 1);
        rec->media_type = (char *) "application/vnd.oci.image.manifest.v1+json";
        rec->size = 1000;
        rec->manifest_size = 400;
        rec->layers = 2;
        rec->created = (char *) "2024-01-02T03:04:05Z";
        rec->imported_at = c;
}

static void test_images_and_tags(void) {
        _cleanup_free_ char *p = db_path("images.db");
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        ImageRecord a, b, got = {};
        ImageRecord *list = NULL;
        TagEntry *tags = NULL;
        char digest[DIGEST_STRING_MAX];
        uint64_t count;
        size_t n;

        CHECK(state_open(p, &db) == 0);
        fill_record(&a, 'a');
        fill_record(&b, 'b');
        CHECK(digest_is_valid(a.digest) && digest_is_valid(b.digest));

        /* Foreign key: no tag for an image that is not there, and nothing half-written. */
        CHECK(tag_set(db, "busybox:latest", a.digest) == -ENOENT);
        CHECK(tags_list(db, &tags, &n) == 0 && n == 0);
        tag_entries_free(tags, n);

        CHECK(image_record_put(db, &a) == 0);
        CHECK(image_record_put(db, &a) == 0); /* idempotent */
        CHECK(image_record_put(db, &b) == 0);
        CHECK(tag_set(db, "busybox:latest", a.digest) == 0);
        CHECK(tag_set(db, "busybox:1", a.digest) == 0);
        CHECK(tag_set(db, "other:latest", b.digest) == 0);

        /* A tagged image cannot be deleted behind its tags' back. */
        CHECK(sqlite_exec(db, "DELETE FROM images") < 0);

        CHECK(image_by_ref(db, "busybox:latest", &got) == 0);
        CHECK(streq(got.digest, a.digest));
        CHECK(got.n_refs == 2 && streq(got.refs[0], "busybox:1") && streq(got.refs[1], "busybox:latest"));
        CHECK(got.layers == 2 && got.size == 1000 && streq(got.created, "2024-01-02T03:04:05Z"));
        image_record_done(&got);
        CHECK(image_by_ref(db, b.digest, &got) == 0 && got.n_refs == 1);
        image_record_done(&got);
        CHECK(image_by_ref(db, "nope:latest", &got) == -ENOENT);

        CHECK(images_list(db, &list, &n) == 0 && n == 2);
        CHECK(streq(list[0].digest, b.digest)); /* newest first */
        image_records_free(list, n);

        /* Moving a tag and pruning: b loses its only name and goes. */
        CHECK(tag_set(db, "other:latest", a.digest) == 0);
        CHECK(image_prune_untagged(db) == 1);
        CHECK(images_count(db, &count) == 0 && count == 1);

        CHECK(tags_list(db, &tags, &n) == 0 && n == 3);
        CHECK(streq(tags[0].name, "busybox:1") && tags[0].manifest_size == 400);
        tag_entries_free(tags, n);

        CHECK(tag_remove(db, "busybox:1", digest) == 0 && streq(digest, a.digest));
        CHECK(tag_remove(db, "busybox:1", digest) == -ENOENT);
        CHECK(image_prune_untagged(db) == 0);
        CHECK(tags_remove_digest(db, a.digest) == 2);
        CHECK(image_prune_untagged(db) == 1);
        CHECK(images_count(db, &count) == 0 && count == 0);
}

static void test_transaction_rollback(void) {
        _cleanup_free_ char *p = db_path("tx.db");
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        ImageRecord a;
        uint64_t count;

        CHECK(state_open(p, &db) == 0);
        fill_record(&a, 'c');
        CHECK(sqlite_begin(db) == 0);
        CHECK(image_record_put(db, &a) == 0);
        CHECK(tag_set(db, "x:1", a.digest) == 0);
        sqlite_rollback(db);
        CHECK(images_count(db, &count) == 0 && count == 0);
}

/* The row helpers every typed query uses: bound arguments, field tables, one row, all rows, counts. */
typedef struct TestRow {
        int64_t id;
        char *name; /* NULL stays NULL */
        unsigned small;
        bool flag;
        uint64_t big;
        char code[8];
} TestRow;

static const SqliteField test_fields[] = {
        SQL_FIELD(TestRow, id),   SQL_FIELD(TestRow, name), SQL_FIELD(TestRow, small),
        SQL_FIELD(TestRow, flag), SQL_FIELD(TestRow, big),  SQL_FIELD(TestRow, code),
};
static const SqliteRowType test_row = SQL_ROW_TYPE(TestRow, test_fields);

static int parse_even(const char *text, void *ret) {
        long v = strtol(text, NULL, 10);
        if (v % 2 != 0)
                return -EINVAL;
        *(long *) ret = v;
        return 0;
}

static void test_row_helpers(void) {
        _cleanup_free_ char *p = db_path("rows.db");
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        TestRow row = { .id = -1 }, *rows = NULL;
        long *even = NULL;
        size_t n = 7;
        unsigned count;
        int64_t v;

        CHECK(sqlite_open(p, &db) == 0);
        CHECK(sqlite_exec(db,
                          "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, small INTEGER, flag INTEGER,"
                          " big INTEGER, code TEXT);") == 0);
        CHECK(sqlite_run(db, "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                         SQL_ARGS(SQL_INT(1), SQL_TEXT("one"), SQL_INT(7), SQL_INT(1), SQL_INT(INT64_MAX),
                                  SQL_TEXT("abc"))) == 1);
        /* NULL text binds NULL; SQL_TEXT_N binds only the first bytes. */
        CHECK(sqlite_run(db, "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                         SQL_ARGS(SQL_INT(2), SQL_TEXT(NULL), SQL_INT(0), SQL_INT(0), SQL_INT(0),
                                  SQL_TEXT_N("defghij", 3))) == 1);

        CHECK(sqlite_get(db, &test_row, "SELECT * FROM t WHERE id = ?1", SQL_ARGS(SQL_INT(1)), &row) == 0);
        CHECK(row.id == 1 && streq(row.name, "one") && row.small == 7 && row.flag);
        CHECK(row.big == INT64_MAX && streq(row.code, "abc"));
        sqlite_row_done(&test_row, &row);
        CHECK(row.id == 0 && !row.name);
        CHECK(sqlite_get(db, &test_row, "SELECT * FROM t WHERE name IS NULL", SQL_NO_ARGS, &row) == 0);
        CHECK(row.id == 2 && !row.name && !row.flag && streq(row.code, "def"));
        sqlite_row_done(&test_row, &row);

        /* No row, or a text too long for its char array: -ENOENT / -EBADMSG, and row is left alone. */
        row.id = 42;
        CHECK(sqlite_get(db, &test_row, "SELECT * FROM t WHERE id = 3", SQL_NO_ARGS, &row) == -ENOENT);
        CHECK(sqlite_run(db, "UPDATE t SET code = 'toolongcode' WHERE id = 2", SQL_NO_ARGS) == 1);
        CHECK(sqlite_get(db, &test_row, "SELECT * FROM t WHERE id = 2", SQL_NO_ARGS, &row) == -EBADMSG);
        CHECK(row.id == 42);
        CHECK(sqlite_list(db, &test_row, "SELECT * FROM t ORDER BY id", SQL_NO_ARGS, &rows, &n) == -EBADMSG);
        CHECK(n == 7 && !rows);

        CHECK(sqlite_run_one(db, "UPDATE t SET code = ?2 WHERE id = ?1",
                             SQL_ARGS(SQL_INT(2), SQL_TEXT("x"))) == 0);
        CHECK(sqlite_run_one(db, "DELETE FROM t WHERE id = ?1", SQL_ARGS(SQL_INT(9))) == -ENOENT);
        CHECK(sqlite_list(db, &test_row, "SELECT * FROM t ORDER BY id DESC", SQL_NO_ARGS, &rows, &n) == 0);
        CHECK(n == 2 && rows[0].id == 2 && streq(rows[1].name, "one"));
        sqlite_rows_free(&test_row, rows, n);
        CHECK(sqlite_list(db, &test_row, "SELECT * FROM t WHERE id > 5", SQL_NO_ARGS, &rows, &n) == 0);
        CHECK(n == 0 && !rows);

        CHECK(sqlite_count(db, "SELECT count(*) FROM t WHERE small > ?1", SQL_ARGS(SQL_INT(1)), &count) ==
              0);
        CHECK(count == 1);
        CHECK(sqlite_get_int64(db, "SELECT id FROM t WHERE id = 5", SQL_NO_ARGS, &v) == -EIO);

        /* Column 0 parsed, what does not parse skipped: ids 1 and 2 of which 2 is even. */
        CHECK(sqlite_list_parsed(db, "SELECT id FROM t UNION ALL SELECT NULL ORDER BY 1", SQL_NO_ARGS,
                                 parse_even, sizeof *even, &even, &n) == 0);
        CHECK(n == 1 && even[0] == 2);
        free(even);

        /* sqlite_end(): commits on success, rolls back on failure and returns the failure. */
        CHECK(sqlite_begin(db) == 0);
        CHECK(sqlite_end(db, sqlite_run(db, "DELETE FROM t WHERE id = 1", SQL_NO_ARGS)) == 1);
        CHECK(sqlite_begin(db) == 0);
        CHECK(sqlite_run(db, "DELETE FROM t", SQL_NO_ARGS) == 1);
        CHECK(sqlite_end(db, -EIO) == -EIO);
        CHECK(sqlite_count(db, "SELECT count(*) FROM t", SQL_NO_ARGS, &count) == 0 && count == 1);
}

/* Builds: asking again for a queued commit returns it, one running build per component, prune keeps the
 * newest and never a queued or running one. */
static void test_builds(void) {
        _cleanup_free_ char *p = db_path("builds.db");
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_component_done) ModelComponent c = {};
        _cleanup_(model_build_done) ModelBuild a = {}, b = {}, d = {}, claimed = {};
        ModelBuildStep *steps = NULL;
        int64_t *ids = NULL;
        size_t n = 0;
        bool existing = true;
        const char *const names[] = { "fetch", "image", NULL };
        ModelBuildNew nb = {
                .commit_sha = "aaaa1111",
                .settings = "{}",
                .settings_hash = "h",
                .trigger = "manual",
                .steps = names,
        };

        CHECK(state_open(p, &db) == 0);
        CHECK(sqlite_exec(db, "INSERT INTO projects(name, created_at) VALUES ('p', 0)") == 0);
        CHECK(sqlite_exec(db, "INSERT INTO components(project_id, name, spec, created_at)"
                              " SELECT id, 'c', '{}', 0 FROM projects WHERE name = 'p'") == 0);
        CHECK(sqlite_get_int64(db, "SELECT id FROM components", SQL_NO_ARGS, &nb.component_id) == 0);

        CHECK(model_build_create(db, &nb, &a, &existing) == 0 && !existing);
        CHECK(streq(a.status, MODEL_BUILD_QUEUED) && streq(a.project_name, "p"));
        CHECK(model_build_create(db, &nb, &b, &existing) == 0 && existing && b.id == a.id);
        CHECK(model_build_steps_list(db, a.id, &steps, &n) == 0 && n == 2);
        CHECK(streq(steps[1].name, "image") && streq(steps[1].status, MODEL_STEP_PENDING));
        model_build_steps_free(steps, n);

        nb.commit_sha = "bbbb2222";
        CHECK(model_build_create(db, &nb, &d, &existing) == 0 && !existing && d.id != a.id);
        model_build_done(&b);
        CHECK(model_build_find(db, nb.component_id, "bbbb", "h", &b) == 0 && b.id == d.id);
        model_build_done(&b);

        /* One running build per component: the second waits. */
        CHECK(model_build_claim_next(db, &claimed) == 0 && claimed.id == a.id);
        CHECK(streq(claimed.status, MODEL_BUILD_RUNNING) && claimed.started_at > 0);
        model_build_done(&claimed);
        CHECK(model_build_claim_next(db, &claimed) == -ENOENT);
        CHECK(model_build_set_status(db, a.id, MODEL_BUILD_SUCCEEDED, NULL) == 0);
        CHECK(model_build_claim_next(db, &claimed) == 0 && claimed.id == d.id);
        CHECK(model_build_set_status(db, d.id, MODEL_BUILD_FAILED, "x") == 0);

        /* Prune to 1: the older one goes. */
        CHECK(model_build_prune(db, nb.component_id, 1, &ids, &n) == 0);
        CHECK(n == 1 && ids[0] == a.id);
        free(ids);
        CHECK(model_build_get(db, a.id, &b) == -ENOENT);
        model_build_done(&claimed);
}

/* Webhook deliveries: a delivery creates its build once; the same delivery again creates nothing and names
 * the build it made; another delivery of the same commit gets the existing build. */
static void test_webhook_deliveries(void) {
        _cleanup_free_ char *p = db_path("deliveries.db"), *hook = NULL;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_build_done) ModelBuild a = {}, b = {};
        int64_t build_id = -1, component_id = 0;
        bool existing = true;
        unsigned count;
        ModelBuildNew nb = {
                .commit_sha = "cccc3333",
                .settings = "{}",
                .settings_hash = "h",
                .trigger = MODEL_BUILD_TRIGGER_WEBHOOK,
        };

        CHECK(state_open(p, &db) == 0);
        CHECK(sqlite_exec(db, "INSERT INTO projects(name, created_at) VALUES ('p', 0)") == 0);
        CHECK(sqlite_exec(db, "INSERT INTO components(project_id, name, spec, created_at)"
                              " SELECT id, 'c', '{}', 0 FROM projects WHERE name = 'p'") == 0);
        CHECK(sqlite_get_int64(db, "SELECT id FROM components", SQL_NO_ARGS, &nb.component_id) == 0);

        CHECK(model_webhook_set(db, nb.component_id, "hook1") >= 0);
        CHECK(model_webhook_get(db, nb.component_id, &hook) == 0 && streq(hook, "hook1"));
        CHECK(model_webhook_lookup(db, "hook1", &component_id) == 0 && component_id == nb.component_id);
        CHECK(model_webhook_lookup(db, "hook2", &component_id) == -ENOENT);

        CHECK(model_webhook_delivery_build(db, "d1", &nb, &a, &existing, &build_id) == 1);
        CHECK(!existing && build_id == a.id && a.id > 0);
        CHECK(model_webhook_delivery_build(db, "d1", &nb, &b, &existing, &build_id) == 0);
        CHECK(build_id == a.id && b.id == 0);
        CHECK(sqlite_count(db, "SELECT count(*) FROM builds", SQL_NO_ARGS, &count) == 0 && count == 1);
        CHECK(model_webhook_delivery_build(db, "d2", &nb, &b, &existing, &build_id) == 1);
        CHECK(existing && b.id == a.id && build_id == a.id);
        CHECK(model_webhook_delivery_record(db, nb.component_id, "d2", 0) == 0);
        CHECK(model_webhook_delivery_record(db, nb.component_id, "d3", 0) == 1);
}

int main(void) {
        CHECK(mkdtemp(tmpdir));
        test_fresh();
        test_upgrade_from_old_file();
        test_failed_migration_rolls_back();
        test_newer_file_refused();
        test_ids_never_reused();
        test_killed_migration_leaves_old_schema();
        test_rebuild_refused_inside_transaction();
        test_images_and_tags();
        test_transaction_rollback();
        test_row_helpers();
        test_builds();
        test_webhook_deliveries();
        CHECK(rm_rf(tmpdir) == 0);
        printf("test-state: OK\n");
        return 0;
}
