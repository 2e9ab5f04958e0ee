/* The blob store under DIR/blobs/sha256: a file exists under a name only once its content has been
 * hashed to that name, because every writer streams into a hidden temp file, hashes while writing,
 * and renames only after the digest matched; every read hashes the file again before handing it out. */
#include "blob-store.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs-util.h"
#include "layout.h"
#include "macro.h"
#include "string-util.h"
#include "temp-claim.h"

/* Prefix of the temp names in blobs/sha256 (open_tmpfile_at makes ".#incoming.<random>"). */
#define BLOB_TMP_TARGET "incoming"

static char *mfree_str(char *p) {
        free(p);
        return NULL;
}

int oci_store_open(const char *path, OciStore **ret) {
        _cleanup_(oci_store_freep) OciStore *s = NULL;
        _cleanup_free_ char *blobs = NULL;
        int r;

        if (isempty(path) || !ret)
                return -EINVAL;

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->dir_fd = s->blobs_fd = -EBADF;
        s->path = strdup(path);
        if (!s->path)
                return -ENOMEM;

        blobs = path_join(path, "blobs/sha256");
        if (!blobs)
                return -ENOMEM;
        r = mkdir_p(blobs, 0755);
        if (r < 0)
                return r;
        s->dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->dir_fd < 0)
                return -errno;
        s->blobs_fd = openat(s->dir_fd, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (s->blobs_fd < 0)
                return -errno;

        r = layout_init(s->dir_fd);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(s);
        return 0;
}

OciStore *oci_store_free(OciStore *s) {
        if (!s)
                return NULL;
        safe_close(s->dir_fd);
        safe_close(s->blobs_fd);
        free(s->path);
        free(s);
        return NULL;
}

const char *oci_store_path(OciStore *s) {
        return s->path;
}

int blob_store_stat(OciStore *s, const char *digest, uint64_t *ret_size) {
        struct stat st;

        if (!digest_is_valid(digest))
                return -EINVAL;
        if (fstatat(s->blobs_fd, digest_hex(digest), &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        if (ret_size)
                *ret_size = (uint64_t) st.st_size;
        return 0;
}

bool oci_store_has_blob(OciStore *s, const char *digest) {
        return blob_store_stat(s, digest, NULL) >= 0;
}

int blob_store_open_unverified(OciStore *s, const char *digest, int *ret_fd, uint64_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (!digest_is_valid(digest))
                return -EINVAL;
        fd = openat(s->blobs_fd, digest_hex(digest), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        if (ret_size)
                *ret_size = (uint64_t) st.st_size;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int oci_store_open_blob(OciStore *s, const char *digest, int *ret_fd, uint64_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        char actual[DIGEST_STRING_MAX];
        uint64_t size;
        int r;

        r = blob_store_open_unverified(s, digest, &fd, NULL);
        if (r < 0)
                return r;
        r = sha256_fd(fd, actual, &size);
        if (r < 0)
                return r;
        if (!streq(actual, digest))
                return -EBADMSG;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        if (ret_size)
                *ret_size = size;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int oci_store_read_blob(OciStore *s, const char *digest, size_t max, char **ret_data, size_t *ret_size) {
        _cleanup_free_ char *data = NULL;
        char actual[DIGEST_STRING_MAX];
        size_t size;
        int r;

        if (!digest_is_valid(digest))
                return -EINVAL;
        r = read_full_file_at(s->blobs_fd, digest_hex(digest), max, &data, &size);
        if (r < 0)
                return r;
        sha256_digest_string(data, size, actual);
        if (!streq(actual, digest))
                return -EBADMSG;
        *ret_data = TAKE_PTR(data);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int blob_writer_begin(OciStore *s, BlobWriter *w) {
        int fd, r;

        /* Claimed from its first moment: gc and the daemon's start remove only temps nobody claims (a
         * writer that was killed); a sweep that got in between makes us take another name. */
        for (unsigned attempt = 0;; attempt++) {
                fd = open_tmpfile_at(s->blobs_fd, BLOB_TMP_TARGET, &w->tmp_name);
                if (fd < 0)
                        return fd;
                r = temp_claim(fd);
                if (r >= 0)
                        break;
                safe_close(fd);
                if (r != -ESTALE)
                        (void) unlinkat(s->blobs_fd, w->tmp_name, 0);
                w->tmp_name = mfree_str(w->tmp_name);
                if ((r != -EBUSY && r != -ESTALE) || attempt >= 8)
                        return r;
        }
        /* Blobs are shared read-only content; readers outside root (skopeo as user) may read them. */
        if (fchmod(fd, 0644) < 0) {
                r = -errno;
                safe_close(fd);
                (void) unlinkat(s->blobs_fd, w->tmp_name, 0);
                w->tmp_name = mfree_str(w->tmp_name);
                return r;
        }
        w->store = s;
        w->fd = fd;
        w->size = 0;
        sha256_init(&w->hash);
        return 0;
}

int blob_writer_write(BlobWriter *w, const void *data, size_t size) {
        int r;

        r = loop_write(w->fd, data, size);
        if (r < 0)
                return r;
        sha256_update(&w->hash, data, size);
        w->size += size;
        return 0;
}

void blob_writer_abort(BlobWriter *w) {
        if (w->tmp_name && w->store)
                (void) unlinkat(w->store->blobs_fd, w->tmp_name, 0);
        w->tmp_name = mfree_str(w->tmp_name);
        w->fd = safe_close(w->fd);
}

int blob_writer_commit(BlobWriter *w, const char *expected, char ret_digest[static DIGEST_STRING_MAX],
                       uint64_t *ret_size) {
        char digest[DIGEST_STRING_MAX];
        int r;

        sha256_final(&w->hash, digest);
        if (expected && !streq(expected, digest)) {
                blob_writer_abort(w);
                return -EBADMSG;
        }

        if (oci_store_has_blob(w->store, digest))
                /* Same bytes already stored (and verified when they were written). */
                blob_writer_abort(w);
        else {
                r = link_tmpfile_atomic_at(w->fd, w->store->blobs_fd, w->tmp_name, digest_hex(digest));
                w->tmp_name = mfree_str(w->tmp_name); /* link_tmpfile_atomic_at unlinks it on failure */
                w->fd = safe_close(w->fd);
                if (r < 0)
                        return r;
        }

        memcpy(ret_digest, digest, DIGEST_STRING_MAX);
        if (ret_size)
                *ret_size = w->size;
        return 0;
}

int oci_store_adopt_blob(OciStore *s, int fd, int dir_fd, const char *name, const char *digest) {
        char got[DIGEST_STRING_MAX];
        int r;

        if (!digest_is_valid(digest))
                return -EINVAL;
        if (oci_store_has_blob(s, digest)) {
                (void) unlinkat(dir_fd, name, 0);
                return 0;
        }
        if (fsync(fd) < 0)
                return -errno;
        if (fchmod(fd, 0644) < 0)
                return -errno;
        if (renameat(dir_fd, name, s->blobs_fd, digest_hex(digest)) >= 0)
                return fsync_directory_of(s->blobs_fd, digest_hex(digest));
        if (errno != EXDEV)
                return -errno;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        r = oci_store_put_blob_fd(s, fd, digest, got, NULL);
        if (r >= 0)
                (void) unlinkat(dir_fd, name, 0);
        return r;
}

int oci_store_put_blob_fd(OciStore *s, int fd, const char *expected_digest,
                          char ret_digest[static DIGEST_STRING_MAX], uint64_t *ret_size) {
        _cleanup_(blob_writer_abort) BlobWriter w = BLOB_WRITER_INIT;
        _cleanup_free_ char *buf = NULL;
        int r;

        if (expected_digest && !digest_is_valid(expected_digest))
                return -EINVAL;

        buf = malloc(OCI_COPY_BUFFER_SIZE);
        if (!buf)
                return -ENOMEM;
        r = blob_writer_begin(s, &w);
        if (r < 0)
                return r;
        for (;;) {
                ssize_t n = read_retry(fd, buf, OCI_COPY_BUFFER_SIZE);
                if (n < 0)
                        return (int) n;
                if (n == 0)
                        break;
                r = blob_writer_write(&w, buf, (size_t) n);
                if (r < 0)
                        return r;
        }
        return blob_writer_commit(&w, expected_digest, ret_digest, ret_size);
}

int oci_store_put_blob_data(OciStore *s, const void *data, size_t size,
                            char ret_digest[static DIGEST_STRING_MAX]) {
        _cleanup_(blob_writer_abort) BlobWriter w = BLOB_WRITER_INIT;
        char digest[DIGEST_STRING_MAX];
        int r;

        /* Small metadata blobs (manifests, configs) are often re-put: skip the write when present. */
        sha256_digest_string(data, size, digest);
        if (oci_store_has_blob(s, digest)) {
                memcpy(ret_digest, digest, DIGEST_STRING_MAX);
                return 0;
        }
        r = blob_writer_begin(s, &w);
        if (r < 0)
                return r;
        r = blob_writer_write(&w, data, size);
        if (r < 0)
                return r;
        return blob_writer_commit(&w, digest, ret_digest, NULL);
}

int oci_store_remove_blob(OciStore *s, const char *digest) {
        if (!digest_is_valid(digest))
                return -EINVAL;
        if (unlinkat(s->blobs_fd, digest_hex(digest), 0) < 0)
                return -errno;
        return fsync_dir_fd(s->blobs_fd);
}

int oci_store_foreach_blob(OciStore *s, int (*fn)(const char *digest, uint64_t size, void *userdata),
                           void *userdata) {
        _cleanup_(closedirp) DIR *d = NULL;
        int r;

        r = opendir_at(s->blobs_fd, ".", &d);
        if (r < 0)
                return r;
        for (struct dirent *de; (errno = 0, de = readdir(d));) {
                char digest[DIGEST_STRING_MAX];
                struct stat st;

                if (strlen(de->d_name) != DIGEST_HEX_LEN)
                        continue; /* ".", "..", temp files */
                (void) snprintf(digest, sizeof digest, "sha256:%s", de->d_name);
                if (!digest_is_valid(digest))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                r = fn(digest, (uint64_t) st.st_size, userdata);
                if (r < 0)
                        return r;
        }
        if (errno > 0)
                return -errno;
        return 0;
}

int oci_store_sweep_temp(OciStore *s, bool dry_run, TempSweepStats *stats) {
        return temp_sweep_at(s->blobs_fd, ".#", dry_run ? TEMP_SWEEP_DRY_RUN : 0, NULL, NULL, stats);
}
