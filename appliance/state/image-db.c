/* Images and tags in slipway.db.  Each function is one statement (or a read of a few); callers
 * that need several to commit together wrap them in sqlite_begin()/sqlite_commit(). */
#include "image-db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite-util.h"

void image_record_done(ImageRecord *r) {
        if (!r)
                return;
        free(r->media_type);
        free(r->created);
        for (size_t i = 0; i < r->n_refs; i++)
                free(r->refs[i]);
        free(r->refs);
        memset(r, 0, sizeof *r);
}

void image_records_free(ImageRecord *r, size_t n) {
        for (size_t i = 0; i < n; i++)
                image_record_done(&r[i]);
        free(r);
}

void tag_entries_free(TagEntry *t, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(t[i].name);
                free(t[i].media_type);
        }
        free(t);
}

static int copy_digest(sqlite3_stmt *s, int col, char out[static DIGEST_STRING_MAX]) {
        const char *d = (const char *) sqlite3_column_text(s, col);
        if (!d || strlen(d) >= DIGEST_STRING_MAX)
                return -EBADMSG;
        strcpy(out, d);
        return 0;
}

int image_record_put(sqlite3 *db, const ImageRecord *rec) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare(db,
                           "INSERT INTO images(digest, media_type, size, manifest_size, config_digest, layers,"
                           "                   created, imported_at)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                           " ON CONFLICT(digest) DO UPDATE SET media_type=?2, size=?3, manifest_size=?4,"
                           "   config_digest=?5, layers=?6, created=?7",
                           &s);
        if (r < 0)
                return r;
        sqlite3_bind_text(s, 1, rec->digest, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, rec->media_type, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, (sqlite3_int64) rec->size);
        sqlite3_bind_int64(s, 4, (sqlite3_int64) rec->manifest_size);
        sqlite3_bind_text(s, 5, rec->config_digest, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 6, (sqlite3_int64) rec->layers);
        if (rec->created)
                sqlite3_bind_text(s, 7, rec->created, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(s, 7);
        sqlite3_bind_int64(s, 8, rec->imported_at);
        return sqlite_step_done(s);
}

static int refs_of(sqlite3 *db, const char *digest, char ***ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare(db, "SELECT name FROM tags WHERE digest = ?1 ORDER BY name", &s);
        if (r < 0)
                return r;
        sqlite3_bind_text(s, 1, digest, -1, SQLITE_STATIC);
        return sqlite_query_strings(s, ret, ret_n);
}

#define IMAGE_COLUMNS "digest, media_type, size, manifest_size, config_digest, layers, created, imported_at"

static int read_image_row(sqlite3_stmt *s, void *userdata, void *ret) {
        sqlite3 *db = userdata;
        ImageRecord rec = {};
        int r;

        r = copy_digest(s, 0, rec.digest);
        if (r < 0)
                return r;
        r = sqlite_column_strdup(s, 1, &rec.media_type);
        if (r < 0)
                goto fail;
        rec.size = (uint64_t) sqlite3_column_int64(s, 2);
        rec.manifest_size = (uint64_t) sqlite3_column_int64(s, 3);
        r = copy_digest(s, 4, rec.config_digest);
        if (r < 0)
                goto fail;
        rec.layers = (uint64_t) sqlite3_column_int64(s, 5);
        r = sqlite_column_strdup(s, 6, &rec.created);
        if (r < 0)
                goto fail;
        rec.imported_at = sqlite3_column_int64(s, 7);
        r = refs_of(db, rec.digest, &rec.refs, &rec.n_refs);
        if (r < 0)
                goto fail;
        *(ImageRecord *) ret = rec;
        return 0;
fail:
        image_record_done(&rec);
        return r;
}

int image_by_digest(sqlite3 *db, const char *digest, ImageRecord *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare(db, "SELECT " IMAGE_COLUMNS " FROM images WHERE digest = ?1", &s);
        if (r < 0)
                return r;
        sqlite3_bind_text(s, 1, digest, -1, SQLITE_STATIC);
        return sqlite_query_one(s, read_image_row, db, ret);
}

int image_by_ref(sqlite3 *db, const char *ref, ImageRecord *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        if (digest_is_valid(ref))
                return image_by_digest(db, ref, ret);

        r = sqlite_prepare(db,
                           "SELECT " IMAGE_COLUMNS " FROM images"
                           " WHERE digest = (SELECT digest FROM tags WHERE name = ?1)",
                           &s);
        if (r < 0)
                return r;
        sqlite3_bind_text(s, 1, ref, -1, SQLITE_STATIC);
        return sqlite_query_one(s, read_image_row, db, ret);
}

static void done_image_row(void *p) {
        image_record_done(p);
}

int images_list(sqlite3 *db, ImageRecord **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare(db, "SELECT " IMAGE_COLUMNS " FROM images ORDER BY imported_at DESC, digest", &s);
        if (r < 0)
                return r;
        return sqlite_query_all(s, read_image_row, done_image_row, db, sizeof(ImageRecord), (void **) ret,
                                ret_n);
}

int images_count(sqlite3 *db, uint64_t *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int64_t n;
        int r;

        r = sqlite_prepare(db, "SELECT COUNT(*) FROM images", &s);
        if (r < 0)
                return r;
        r = sqlite_query_int64(s, &n);
        if (r < 0)
                return r == -ENOENT ? -EIO : r;
        *ret = (uint64_t) n;
        return 0;
}

int image_prune_untagged(sqlite3 *db) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare(db, "DELETE FROM images WHERE digest NOT IN (SELECT digest FROM tags)", &s);
        if (r < 0)
                return r;
        r = sqlite_step_done(s);
        if (r < 0)
                return r;
        return sqlite3_changes(db);
}

int tag_set(sqlite3 *db, const char *name, const char *digest) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare(db,
                           "INSERT INTO tags(name, digest) VALUES (?1, ?2)"
                           " ON CONFLICT(name) DO UPDATE SET digest=?2",
                           &s);
        if (r < 0)
                return r;
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, digest, -1, SQLITE_STATIC);
        return sqlite_step_done(s);
}

int tag_remove(sqlite3 *db, const char *name, char ret_digest[static DIGEST_STRING_MAX]) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        char digest[DIGEST_STRING_MAX];
        int r, rc;

        r = sqlite_prepare(db, "DELETE FROM tags WHERE name = ?1 RETURNING digest", &s);
        if (r < 0)
                return r;
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sqlite_to_errno(rc) ?: -EIO;
        r = copy_digest(s, 0, digest);
        if (r < 0)
                return r;
        r = sqlite_step_done(s);
        if (r < 0)
                return r;
        strcpy(ret_digest, digest);
        return 0;
}

int tags_remove_digest(sqlite3 *db, const char *digest) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare(db, "DELETE FROM tags WHERE digest = ?1", &s);
        if (r < 0)
                return r;
        sqlite3_bind_text(s, 1, digest, -1, SQLITE_STATIC);
        r = sqlite_step_done(s);
        if (r < 0)
                return r;
        return sqlite3_changes(db);
}

static int read_tag_row(sqlite3_stmt *s, void *userdata, void *ret) {
        TagEntry t = {.manifest_size = (uint64_t) sqlite3_column_int64(s, 3)};
        int r;

        (void) userdata;
        if ((r = sqlite_column_strdup(s, 0, &t.name)) < 0 || (r = copy_digest(s, 1, t.digest)) < 0 ||
            (r = sqlite_column_strdup(s, 2, &t.media_type)) < 0) {
                free(t.name);
                free(t.media_type);
                return r;
        }
        *(TagEntry *) ret = t;
        return 0;
}

static void done_tag_row(void *p) {
        TagEntry *t = p;
        free(t->name);
        free(t->media_type);
}

int tags_list(sqlite3 *db, TagEntry **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare(db,
                           "SELECT t.name, t.digest, i.media_type, i.manifest_size"
                           " FROM tags t JOIN images i ON i.digest = t.digest ORDER BY t.name",
                           &s);
        if (r < 0)
                return r;
        return sqlite_query_all(s, read_tag_row, done_tag_row, NULL, sizeof(TagEntry), (void **) ret, ret_n);
}

int release_image_digests(sqlite3 *db, char ***ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare(db, "SELECT DISTINCT image_digest FROM releases ORDER BY image_digest", &s);
        if (r < 0)
                return r;
        return sqlite_query_strings(s, ret, ret_n);
}
