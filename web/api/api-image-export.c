/* GET /api/v1/images/{ref}/export: an oci-archive streamed as a chunked response.  A writer thread
 * runs oci_store_export_archive() into a pipe (holding the store shared, so gc waits); the handler
 * copies the pipe to the client.  Nothing is buffered whole.  An export that fails after the first
 * byte ends without the terminating chunk, so the client sees a truncated stream, never a short
 * archive that looks complete. */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http-response.h"
#include "log.h"
#include "string-util.h"

typedef struct ExportJob {
        ImageCatalog *catalog;
        OciStore *store;
        const char *digest;
        const char *ref;
        int fd;
        int result;
        OciError err;
} ExportJob;

static void *export_thread(void *userdata) {
        ExportJob *job = userdata;

        image_catalog_read_lock(job->catalog);
        job->result = oci_store_export_archive(job->store, job->digest, job->ref, job->fd, &job->err);
        image_catalog_read_unlock(job->catalog);
        job->fd = safe_close(job->fd);
        return NULL;
}

int api_image_export(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_free_ char *norm = NULL, *buf = NULL;
        _cleanup_close_ int rfd = -EBADF;
        ImageRecord rec = {};
        ExportJob job = {};
        OciError err = {};
        pthread_t thread;
        char headers[512];
        int pipefd[2], r, status;
        ssize_t n;

        r = image_catalog_normalize_ref(req->segments[1], &norm, &err);
        if (r < 0)
                return api_reply_error(req, r, &err, "Bad reference");
        r = image_catalog_lookup(ctx->catalog, req->segments[1], &rec, &err);
        if (r < 0)
                return api_reply_error(req, r, &err, "Cannot look up the image");
        buf = malloc(HTTP_IO_BUFFER);
        if (!buf || pipe2(pipefd, O_CLOEXEC) < 0) {
                image_record_done(&rec);
                return api_reply_error(req, buf ? -errno : -ENOMEM, NULL, "Cannot start the export");
        }
        rfd = pipefd[0];
        job = (ExportJob) {
                .catalog = ctx->catalog,
                .store = ctx->store,
                .digest = rec.digest,
                /* A digest names no repository: record the image's first name, if it has one. */
                .ref = startswith(norm, "sha256:") ? (rec.n_refs > 0 ? rec.refs[0] : NULL) : norm,
                .fd = pipefd[1],
        };
        r = pthread_create(&thread, NULL, export_thread, &job);
        if (r != 0) {
                safe_close(pipefd[1]);
                image_record_done(&rec);
                return api_reply_error(req, -r, NULL, "Cannot start the export");
        }

        /* Wait for the first bytes before committing to 200, so early failures get a JSON error. */
        n = read(rfd, buf, HTTP_IO_BUFFER);
        if (n <= 0) {
                rfd = safe_close(rfd);
                pthread_join(thread, NULL);
                r = n < 0 ? -errno : job.result;
                if (r >= 0)
                        r = -EIO; /* an archive is never empty */
                status = api_reply_error(req, r, &job.err, "The export failed");
                image_record_done(&rec);
                return status;
        }

        snprintf(headers, sizeof headers, "X-Slipway-Digest: %s\r\nX-Slipway-Ref: %s\r\n", rec.digest,
                 strempty(job.ref));
        r = http_stream_begin(req->conn, 200, "application/x-tar", headers);
        while (r >= 0) {
                r = http_stream_write(req->conn, buf, (size_t) n);
                if (r < 0)
                        break;
                do
                        n = read(rfd, buf, HTTP_IO_BUFFER);
                while (n < 0 && errno == EINTR);
                if (n < 0)
                        r = -errno;
                if (n <= 0)
                        break;
        }
        /* Closing the read end makes a still-writing exporter fail with EPIPE instead of blocking. */
        rfd = safe_close(rfd);
        pthread_join(thread, NULL);
        if (r >= 0 && job.result >= 0)
                (void) http_stream_end(req->conn);
        else
                log_warning("Export of %s stopped: %s", rec.digest,
                            job.result < 0 ? (job.err.message[0] ? job.err.message : strerror(-job.result))
                                           : "the client went away");
        image_record_done(&rec);
        return 200;
}
