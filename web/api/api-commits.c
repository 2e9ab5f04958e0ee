/* GET projects/P/components/C/commits[?branch=B][&limit=N][&fetch=1]: the newest commits of the
 * component's branch as its git mirror holds them, for the console's Build Area (latest commit, pick
 * another).  Read as the last fetch left the mirror unless fetch=1, so a page load costs no remote round
 * trip; a mirror without the branch yet is fetched once. */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "git-mirror.h"
#include "http-response.h"
#include "json-util.h"
#include "string-util.h"

#define API_COMMITS_DEFAULT 20U

int api_component_commits(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_(pipeline_source_done) PipelineSource src = {};
        _cleanup_free_ char *error = NULL, *hint = NULL;
        _cleanup_json_ json_t *arr = json_array(), *j = NULL;
        char branch[SOURCE_BRANCH_MAX + 1] = "", limit[16] = "";
        SourceCommit *c = NULL;
        size_t n = 0;
        unsigned long max = API_COMMITS_DEFAULT;
        int r;

        r = http_request_query(req, "limit", limit, sizeof limit);
        if (r >= 0 || r == -E2BIG) {
                char *end = NULL;
                max = r >= 0 ? strtoul(limit, &end, 10) : 0;
                if (r < 0 || !limit[0] || *end || max < 1 || max > SOURCE_LOG_MAX) {
                        char msg[96];
                        snprintf(msg, sizeof msg, "?limit must be a number of commits from 1 to %u.",
                                 SOURCE_LOG_MAX);
                        return http_reply_error(req->conn, 400, msg, "Leave it out for the newest 20.");
                }
        }
        r = http_request_query(req, "branch", branch, sizeof branch);
        if (r == -E2BIG || (r >= 0 && isempty(branch)))
                return http_reply_error(req->conn, 400, "?branch must be a branch name.",
                                        "Leave it out for the component's branch.");

        if ((r = api_scope_component(req, NULL, &s)) < 0)
                return req->status;
        if (!s.component.source) {
                char msg[256];
                snprintf(msg, sizeof msg, "%s/%s is not built from git: it deploys the image %s.",
                         s.project.name, s.component.name, s.component.image_ref ?: "it is given");
                return http_reply_error(
                        req->conn, 400, msg,
                        "Give it a repository with 'slipway component update P/C --git URL'.");
        }
        if (pipeline_source_parse(s.component.source, &src) < 0)
                return http_reply_error(req->conn, 500, "The component's git source cannot be read.",
                                        "Set it again with 'slipway component update P/C --git URL'.");
        if (!ctx->pipeline)
                return http_reply_error(req->conn, 503, "This slipwayd runs no build pipeline.",
                                        "Start slipwayd with a builder (see its log for why it has none).");

        r = pipeline_history(ctx->pipeline, s.component.id, &src, branch[0] ? branch : NULL,
                             api_query_flag(req, "fetch"), max, &c, &n, &error, &hint);
        if (r == -ENOMEM)
                return api_reply_error(req, r, NULL, "Cannot read the commits");
        if (r < 0) {
                int status = r == -ENOENT ? 404 : r == -EPERM ? 403 : r == -EINVAL ? 400 : 502;
                return http_reply_error(req->conn, status, error ?: "The repository cannot be read.",
                                        hint ?: "Check the component's --git URL and --branch.");
        }
        for (size_t i = 0; arr && i < n; i++)
                json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "id", c[i].id, "short_id",
                                                     c[i].short_id, "subject", c[i].subject, "author_name",
                                                     c[i].author_name, "author_email", c[i].author_email,
                                                     "time", (json_int_t) c[i].author_time));
        source_commits_free(c, n);
        j = json_pack("{s:s,s:s,s:s,s:O}", "project", s.project.name, "component", s.component.name,
                      "branch", branch[0] ? branch : src.branch, "commits", arr);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot list the commits");
        return http_reply_json(req->conn, 200, j);
}
