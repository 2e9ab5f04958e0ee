/* POST /api/v1/images/import?format=…&name=…: the body (Content-Length or chunked) is streamed
 * into DIR/tmp with a bounded buffer, then imported and named by the catalog.  The temp file is
 * claimed (temp-claim.h) while it is in use and removed on every path out. */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs-util.h"
#include "http-response.h"
#include "json-util.h"
#include "log.h"
#include "string-util.h"

int api_image_import(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(api_upload_unlinkp) char *tmp = NULL;
        _cleanup_json_ json_t *arr = json_array(), *j = NULL;
        _cleanup_close_ int fd = -EBADF;
        char format_s[32] = "auto", name[HTTP_QUERY_VALUE_MAX];
        bool have_name;
        CatalogImported *imported = NULL;
        size_t n = 0;
        OciImportFormat format;
        OciError err = {};
        uint64_t size;
        int r;

        r = http_request_query(req, "format", format_s, sizeof format_s);
        if (r == -E2BIG)
                return http_reply_error(req->conn, 400, "Unknown import format.",
                                        "Use format=auto, oci-archive, docker-archive or rootfs.");
        format = oci_import_format_from_string(format_s);
        if (format < 0 || format == OCI_IMPORT_OCI_LAYOUT)
                return http_reply_error(req->conn, 400, "Unknown import format.",
                                        "Use format=auto, oci-archive, docker-archive or rootfs.");
        r = http_request_query(req, "name", name, sizeof name);
        if (r == -E2BIG)
                return http_reply_error(req->conn, 400, "The image name is too long.",
                                        "Use a reference of at most 255 characters.");
        have_name = r >= 0;

        /* Refuse a bad name before the upload lands on disk (civetweb drains the unread body). */
        if (have_name) {
                _cleanup_free_ char *norm = NULL;
                r = image_catalog_normalize_name(name, &norm, &err);
                if (r < 0)
                        return api_reply_error(req, r, &err, "Bad image name");
        } else if (format == OCI_IMPORT_ROOTFS)
                return http_reply_error(req->conn, 400, "A rootfs tar carries no image name.",
                                        "Name it with --name, e.g. --name myrootfs:1.0.");

        static const ApiUpload upload = {
                .prefix = "upload",
                .max = HTTP_UPLOAD_MAX,
                .too_large = "The upload is larger than the 64 GiB limit.",
                .too_large_hint = "Split the image or import it from a smaller archive.",
                .retry_hint = "Retry the import.",
                .empty_hint = "Send an oci-archive, docker-archive or rootfs tar as the request body.",
        };
        if (api_upload_to_temp(req, &upload, &tmp, &fd, &size) < 0)
                return req->status;

        r = image_catalog_import(ctx->catalog, tmp, format, have_name ? name : NULL, &imported, &n, &err);
        if (r < 0) {
                /* The temp file's name means nothing to the client: call it what it is. */
                char orig[sizeof err.message], *at;
                memcpy(orig, err.message, sizeof orig);
                at = strstr(orig, tmp);
                if (at) {
                        *at = 0;
                        (void) !snprintf(err.message, sizeof err.message, "%s%s%s", orig,
                                         at == orig ? "The upload" : "the upload", at + strlen(tmp));
                }
                log_info("Import rejected: %s", err.message[0] ? err.message : strerror(-r));
                /* Whatever the store could not find was missing from the upload, not from our API. */
                return api_reply_error(req, r == -ENOENT ? -EBADMSG : r, &err, "The import failed");
        }

        for (size_t i = 0; arr && i < n; i++) {
                json_t *o = json_pack("{s:s,s:[s],s:I}", "digest", imported[i].digest, "refs",
                                      imported[i].ref, "size", (json_int_t) imported[i].size);
                if (!o || json_array_append_new(arr, o) < 0)
                        r = -ENOMEM;
                else
                        log_info("Imported %s (%s).", imported[i].ref, imported[i].digest);
        }
        catalog_imported_free(imported, n);
        if (!arr || r < 0)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the import");
        j = json_pack("{s:O}", "images", arr);
        return http_reply_json(req->conn, 200, j);
}
