/* The offline vulnerability database:
 *   POST /api/v1/vulndb/import[?source=NAME]   body: an OSV archive (zip, or a tar of *.json), streamed to
 *                                              DIR/tmp and imported in one transaction
 *   GET  /api/v1/vulndb                         how many advisories, and the imports with their times */
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
#include "sqlite-util.h"
#include "vuln-db.h"
#include "vulndb.h"

#define VULNDB_UPLOAD_MAX \
        (4ULL * 1024ULL * 1024ULL * 1024ULL) /* OSV's all.zip of every ecosystem is ~1 GiB */

int api_vulndb_import(HttpRequest *req) {
        _cleanup_(api_upload_unlinkp) char *tmp = NULL;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *error = NULL;
        _cleanup_json_ json_t *j = NULL;
        VulndbImportResult res = {};
        char source[256] = "upload";
        uint64_t size = 0;
        int r;

        (void) http_request_query(req, "source", source, sizeof source);
        static const ApiUpload upload = {
                .prefix = "vulndb",
                .max = VULNDB_UPLOAD_MAX,
                .too_large = "The upload is larger than the 4 GiB limit.",
                .too_large_hint = "Import the ecosystems' archives one by one.",
                .retry_hint = "Retry the import.",
                .empty_hint = "Send an OSV archive (all.zip of an ecosystem, or a tar of *.json).",
        };
        if (api_upload_to_temp(req, &upload, &tmp, &fd, &size) < 0)
                return req->status;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return api_reply_error(req, -errno, NULL, "Cannot read the upload");
        r = api_model_open(req, &db);
        if (r < 0)
                return req->status;
        r = vulndb_import(db, fd, source, &res, &error);
        if (r == -EBADMSG)
                return http_reply_error(
                        req->conn, 400, error ?: "The upload is not an OSV archive.",
                        "Give OSV's all.zip of an ecosystem, or a directory of OSV *.json files; "
                        "nothing was imported.");
        if (r == -E2BIG)
                return http_reply_error(req->conn, 413,
                                        "The archive holds more advisories than Slipway keeps.",
                                        "Import fewer ecosystems; nothing was imported.");
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot import the advisories");
        j = json_pack("{s:s,s:I,s:I}", "source", source, "imported", (json_int_t) res.entries, "skipped",
                      (json_int_t) res.skipped);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the import");
        return http_reply_json(req->conn, 200, j);
}

int api_vulndb_status(HttpRequest *req) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_json_ json_t *j = NULL, *arr = json_array();
        ModelVulnImport *v = NULL;
        size_t n = 0;
        int64_t count = 0;
        int r;

        if (api_model_open(req, &db) < 0)
                return req->status;
        r = model_vuln_count(db, &count);
        if (r >= 0)
                r = model_vuln_imports_list(db, &v, &n);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the vulnerability database");
        for (size_t i = 0; arr && i < n; i++)
                json_array_append_new(arr, json_pack("{s:s,s:I,s:I,s:I}", "source", v[i].source, "imported",
                                                     (json_int_t) v[i].entries, "skipped",
                                                     (json_int_t) v[i].skipped, "imported_at",
                                                     (json_int_t) v[i].imported_at));
        j = json_pack("{s:I,s:O,s:o}", "advisories", (json_int_t) count, "imports", arr, "last_import_at",
                      n > 0 ? json_integer(v[0].imported_at) : json_null());
        model_vuln_imports_free(v, n);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the vulnerability database");
        return http_reply_json(req->conn, 200, j);
}
