/* Images and tags in slipway.db.  Each function is one statement (or a read of a few); callers
 * that need several to commit together wrap them in sqlite_begin()/sqlite_commit(). */
#include "image-db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite-util.h"
#include "strv.h"

/* An image's tag names, sorted; the part of an ImageRecord no column of images holds. */
static int image_refs_read(sqlite3_stmt *s, void *row) {
        ImageRecord *rec = row;

        return sqlite_list(sqlite3_db_handle(s), &sqlite_text_row,
                           "SELECT name FROM tags WHERE digest = ?1 ORDER BY name",
                           SQL_ARGS(SQL_TEXT(rec->digest)), &rec->refs, &rec->n_refs);
}

static void image_refs_free(void *row) {
        ImageRecord *rec = row;

        strv_free_n(rec->refs, rec->n_refs);
}

#define SELECT_IMAGE \
        "SELECT digest, media_type, size, manifest_size, config_digest, layers, created, imported_at FROM images"

static const SqliteField image_fields[] = {
        SQL_FIELD(ImageRecord, digest),        SQL_FIELD(ImageRecord, media_type),
        SQL_FIELD(ImageRecord, size),          SQL_FIELD(ImageRecord, manifest_size),
        SQL_FIELD(ImageRecord, config_digest), SQL_FIELD(ImageRecord, layers),
        SQL_FIELD(ImageRecord, created),       SQL_FIELD(ImageRecord, imported_at),
};
static const SqliteRowType image_row =
        SQL_ROW_TYPE(ImageRecord, image_fields, .complete = image_refs_read, .release = image_refs_free);
SQL_DEFINE_ROW_FUNCS(ImageRecord, image_row, image_record_done, image_records_free);

static const SqliteField tag_fields[] = {
        SQL_FIELD(TagEntry, name),
        SQL_FIELD(TagEntry, digest),
        SQL_FIELD(TagEntry, media_type),
        SQL_FIELD(TagEntry, manifest_size),
};
static const SqliteRowType tag_row = SQL_ROW_TYPE(TagEntry, tag_fields);
SQL_DEFINE_ARRAY_FREE_FUNC(TagEntry, tag_row, tag_entries_free);

int image_record_put(sqlite3 *db, const ImageRecord *rec) {
        int r = sqlite_run(
                db,
                "INSERT INTO images(digest, media_type, size, manifest_size, config_digest, layers,"
                "                   created, imported_at)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                " ON CONFLICT(digest) DO UPDATE SET media_type=?2, size=?3, manifest_size=?4,"
                "   config_digest=?5, layers=?6, created=?7",
                SQL_ARGS(SQL_TEXT(rec->digest), SQL_TEXT(rec->media_type), SQL_INT(rec->size),
                         SQL_INT(rec->manifest_size), SQL_TEXT(rec->config_digest), SQL_INT(rec->layers),
                         SQL_TEXT(rec->created), SQL_INT(rec->imported_at)));
        return r < 0 ? r : 0;
}

int image_by_digest(sqlite3 *db, const char *digest, ImageRecord *ret) {
        return sqlite_get(db, &image_row, SELECT_IMAGE " WHERE digest = ?1", SQL_ARGS(SQL_TEXT(digest)),
                          ret);
}

int image_by_ref(sqlite3 *db, const char *ref, ImageRecord *ret) {
        if (digest_is_valid(ref))
                return image_by_digest(db, ref, ret);
        return sqlite_get(db, &image_row,
                          SELECT_IMAGE " WHERE digest = (SELECT digest FROM tags WHERE name = ?1)",
                          SQL_ARGS(SQL_TEXT(ref)), ret);
}

int images_list(sqlite3 *db, ImageRecord **ret, size_t *ret_n) {
        return sqlite_list(db, &image_row, SELECT_IMAGE " ORDER BY imported_at DESC, digest", SQL_NO_ARGS,
                           ret, ret_n);
}

int images_count(sqlite3 *db, uint64_t *ret) {
        return sqlite_get_int64(db, "SELECT COUNT(*) FROM images", SQL_NO_ARGS, (int64_t *) ret);
}

int image_prune_untagged(sqlite3 *db) {
        return sqlite_run(db, "DELETE FROM images WHERE digest NOT IN (SELECT digest FROM tags)",
                          SQL_NO_ARGS);
}

int tag_set(sqlite3 *db, const char *name, const char *digest) {
        int r = sqlite_run(
                db,
                "INSERT INTO tags(name, digest) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET digest=?2",
                SQL_ARGS(SQL_TEXT(name), SQL_TEXT(digest)));
        return r < 0 ? r : 0;
}

int tag_remove(sqlite3 *db, const char *name, char ret_digest[static DIGEST_STRING_MAX]) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        const char *d;
        char digest[DIGEST_STRING_MAX];
        int r;

        r = sqlite_prepare_args(db, "DELETE FROM tags WHERE name = ?1 RETURNING digest",
                                SQL_ARGS(SQL_TEXT(name)), &s);
        if (r < 0)
                return r;
        r = sqlite_step_row(s);
        if (r < 0)
                return r;
        d = (const char *) sqlite3_column_text(s, 0);
        if (!d || strlen(d) >= sizeof digest)
                return -EBADMSG;
        strcpy(digest, d);
        r = sqlite_step_done(s);
        if (r < 0)
                return r;
        strcpy(ret_digest, digest);
        return 0;
}

int tags_remove_digest(sqlite3 *db, const char *digest) {
        return sqlite_run(db, "DELETE FROM tags WHERE digest = ?1", SQL_ARGS(SQL_TEXT(digest)));
}

int tags_list(sqlite3 *db, TagEntry **ret, size_t *ret_n) {
        return sqlite_list(db, &tag_row,
                           "SELECT t.name, t.digest, i.media_type, i.manifest_size"
                           " FROM tags t JOIN images i ON i.digest = t.digest ORDER BY t.name",
                           SQL_NO_ARGS, ret, ret_n);
}

int release_image_digests(sqlite3 *db, char ***ret, size_t *ret_n) {
        return sqlite_list(db, &sqlite_text_row,
                           "SELECT image_digest FROM releases UNION"
                           " SELECT image_digest FROM approvals WHERE status = 'pending' ORDER BY 1",
                           SQL_NO_ARGS, ret, ret_n);
}
