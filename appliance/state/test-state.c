/* Unit tests for appliance/state: pragmas, migrations (fresh, upgrade, failure rollback, downgrade
 * refusal), foreign keys, and the image/tag queries. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs-util.h"
#include "image-db.h"
#include "migrate.h"
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

int main(void) {
        CHECK(mkdtemp(tmpdir));
        test_fresh();
        test_upgrade_from_old_file();
        test_failed_migration_rolls_back();
        test_newer_file_refused();
        test_images_and_tags();
        test_transaction_rollback();
        test_row_helpers();
        CHECK(rm_rf(tmpdir) == 0);
        printf("test-state: OK\n");
        return 0;
}
