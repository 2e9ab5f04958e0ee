/* GET /api/v1/images/{ref}/export: an oci-archive streamed as a chunked response.  A writer thread
 * runs oci_store_export_archive() into a socket pair; the handler copies it to the client.  Nothing is
 * buffered whole.  The image is pinned (a gc root while it streams) rather than locked, so gc never
 * waits for an export, however slow its client.  A client that takes nothing for EXPORT_STALL_TIMEOUT_SEC
 * ends the export: the writer's sends time out, and civetweb's own send timeout (request_timeout_ms)
 * closes the connection.  An export that fails after the first byte ends without the terminating chunk,
 * so the client sees a truncated stream, never a short archive that looks complete. */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/time.h>

#include "http-response.h"
#include "log.h"
#include "string-util.h"

/* How long an export waits for its client to take more bytes before it gives up. */
#define EXPORT_STALL_TIMEOUT_SEC 60

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

        job->result = oci_store_export_archive(job->store, job->digest, job->ref, job->fd, &job->err);
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
        /* Pinned, the image stays whole while it streams, even if its name is removed and gc runs. */
        r = image_catalog_pin(ctx->catalog, rec.digest);
        if (r < 0) {
                image_record_done(&rec);
                if (r == -ENOENT)
                        return http_reply_error(req->conn, 404, "The image is no longer in the store.",
                                                "See 'slipway image list'.");
                return api_reply_error(req, r, NULL, "Cannot start the export");
        }
        buf = malloc(HTTP_IO_BUFFER);
        if (!buf || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pipefd) < 0) {
                r = buf ? -errno : -ENOMEM;
                image_catalog_unpin(ctx->catalog, rec.digest);
                image_record_done(&rec);
                return api_reply_error(req, r, NULL, "Cannot start the export");
        }
        /* A send that makes no progress for this long fails (EAGAIN): the writer gives up, unpins, ends. */
        (void) setsockopt(pipefd[1], SOL_SOCKET, SO_SNDTIMEO,
                          &(struct timeval) { .tv_sec = EXPORT_STALL_TIMEOUT_SEC }, sizeof(struct timeval));
        (void) shutdown(pipefd[1], SHUT_RD);
        (void) shutdown(pipefd[0], SHUT_WR);
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
                image_catalog_unpin(ctx->catalog, rec.digest);
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
                image_catalog_unpin(ctx->catalog, rec.digest);
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
        image_catalog_unpin(ctx->catalog, rec.digest);
        if (r >= 0 && job.result >= 0)
                (void) http_stream_end(req->conn);
        else
                log_warning("Export of %s stopped: %s", rec.digest,
                            job.result < 0 ? (job.err.message[0] ? job.err.message : strerror(-job.result))
                                           : "the client went away");
        image_record_done(&rec);
        return 200;
}
