/* Typed queries over the images and tags tables.
 * Invariant kept by callers through image_prune_untagged(): every image row has at least one tag
 * once a transaction commits; a tag always points at an existing image (foreign key). */
#pragma once

#include <sqlite3.h>
#include <stdint.h>

#include "digest.h"

typedef struct ImageRecord {
        char digest[DIGEST_STRING_MAX];
        char *media_type;
        uint64_t size;
        uint64_t manifest_size;
        char config_digest[DIGEST_STRING_MAX];
        uint64_t layers;
        char *created; /* NULL when the config has none */
        int64_t imported_at;
        char **refs; /* sorted tag names; filled by the query functions */
        size_t n_refs;
} ImageRecord;

void image_record_done(ImageRecord *r);
void image_records_free(ImageRecord *r, size_t n);

typedef struct TagEntry {
        char *name;
        char digest[DIGEST_STRING_MAX];
        char *media_type;
        uint64_t manifest_size;
} TagEntry;

void tag_entries_free(TagEntry *t, size_t n);

/* Inserts or updates (by digest) an image row.  refs are ignored. */
int image_record_put(sqlite3 *db, const ImageRecord *rec);
/* Looks up by digest ("sha256:…") or by tag name ("name:tag").  -ENOENT when unknown. */
int image_by_digest(sqlite3 *db, const char *digest, ImageRecord *ret);
int image_by_ref(sqlite3 *db, const char *ref, ImageRecord *ret);
/* All images ordered by import time (newest first), with their refs. */
int images_list(sqlite3 *db, ImageRecord **ret, size_t *ret_n);
int images_count(sqlite3 *db, uint64_t *ret);
/* Deletes image rows that no tag names any more; returns how many. */
int image_prune_untagged(sqlite3 *db);

/* Points name at digest (creating or moving the tag). */
int tag_set(sqlite3 *db, const char *name, const char *digest);
/* Removes a tag; returns -ENOENT when absent, and the digest it named in ret_digest. */
int tag_remove(sqlite3 *db, const char *name, char ret_digest[static DIGEST_STRING_MAX]);
/* Removes every tag of an image; returns how many. */
int tags_remove_digest(sqlite3 *db, const char *digest);
/* All tags ordered by name, with what index.json needs. */
int tags_list(sqlite3 *db, TagEntry **ret, size_t *ret_n);

/* Every distinct image digest a release row (issue 5) or a pending promotion approval (issue 14, so the
 * image an admin would approve stays) references: gc roots besides the tagged images. */
int release_image_digests(sqlite3 *db, char ***ret, size_t *ret_n);
