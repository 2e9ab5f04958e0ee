/* GET /api/v1/images/REF/scan: an on-demand scan of any stored image (imported or built) by the same code as
 * the pipeline's scan step (scan-report.h), at the default threshold and with no ignore list: a report that
 * says what a build of it would be told, and changes nothing. */
#include "api.h"

#include <errno.h>

#include "http-response.h"
#include "json-util.h"
#include "scan-report.h"
#include "sqlite-util.h"
#include "vuln-db.h"

int api_image_scan(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(scan_report_done) ScanReport rep = {};
        _cleanup_free_ char *ref = NULL;
        ModelVulnImport *imports = NULL;
        ImageRecord rec = {};
        OciError err = {};
        size_t n = 0;
        int r;

        r = image_catalog_lookup(ctx->catalog, req->segments[1], &rec, &err);
        if (r < 0)
                return api_reply_error(req, r, &err, "Cannot look up the image");
        if (image_catalog_normalize_ref(req->segments[1], &ref, &err) < 0)
                ref = NULL;
        if (api_model_open(req, &db) < 0) {
                image_record_done(&rec);
                return req->status;
        }
        r = scan_report_make(ctx->catalog, db, rec.digest, ref ?: rec.digest, ctx->tmp_dir ?: ctx->state_dir,
                             NULL, SCAN_FAIL_ON_CRITICAL, &rep, &err);
        image_record_done(&rec);
        if (r < 0)
                return api_reply_error(req, r, &err, "Cannot scan the image");
        /* How fresh the advisories it was matched against are (vulndb status warns when they are old). */
        if (model_vuln_imports_list(db, &imports, &n) >= 0 && n > 0)
                (void) json_object_set_new(rep.doc, "vulndb_imported_at",
                                           json_integer((json_int_t) imports[0].imported_at));
        model_vuln_imports_free(imports, n);
        return http_reply_json(req->conn, 200, json_incref(rep.doc));
}
