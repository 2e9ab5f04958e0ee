/* api-upload: a request body streamed into a claimed temporary file under DIR/tmp (image import, vulndb
 * import), with the same refusals for every upload. */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "fs-util.h"
#include "http-response.h"
#include "temp-claim.h"

void api_upload_unlinkp(char **p) {
        if (*p) {
                (void) unlink(*p);
                free(*p);
        }
}

int api_upload_to_temp(HttpRequest *req, const ApiUpload *u, char **ret_path, int *ret_fd,
                       uint64_t *ret_size) {
        ApiContext *ctx = req->userdata;
        _cleanup_(api_upload_unlinkp) char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint64_t size = 0;
        int r;

        if (api_disk_writable(req) < 0)
                return -ENOSPC;
        if (asprintf(&tmp, "%s/%s-XXXXXX", ctx->tmp_dir, u->prefix) < 0)
                return api_replied(req, api_reply_error(req, -ENOMEM, NULL, "Cannot accept the upload"),
                                   -ENOMEM);
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                free(TAKE_PTR(tmp));
                return api_replied(
                        req, api_reply_error(req, r, NULL, "Cannot create a temporary file for the upload"),
                        r);
        }
        /* Claimed while the handler uses it (fd stays open): gc and the start-up sweep remove only the
         * uploads of a killed daemon, never this one. */
        r = temp_claim(fd);
        if (r < 0)
                return api_replied(
                        req, api_reply_error(req, r, NULL, "Cannot claim the temporary file for the upload"),
                        r);
        r = http_read_body_to_fd(req->conn, fd, u->max, &size);
        if (r == -EFBIG)
                return api_replied(req, http_reply_error(req->conn, 413, u->too_large, u->too_large_hint),
                                   r);
        if (r == -EPIPE)
                return api_replied(req,
                                   http_reply_error(req->conn, 400,
                                                    "The upload ended before the announced end of the body.",
                                                    u->retry_hint),
                                   r);
        if (r < 0)
                return api_replied(req, api_reply_error(req, r, NULL, "Cannot store the upload"), r);
        if (size == 0)
                return api_replied(req,
                                   http_reply_error(req->conn, 400, "The upload is empty.", u->empty_hint),
                                   -ENODATA);
        *ret_path = TAKE_PTR(tmp);
        *ret_fd = TAKE_FD(fd);
        *ret_size = size;
        return 0;
}
