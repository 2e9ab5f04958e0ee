/* A git component's source (components.source): parsed, checked before it is saved, formatted, and the
 * settings that make a build's identity with its commit; the paths of a build's logs and schemas. */
#include "pipeline.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "digest.h"
#include "git-mirror.h"
#include "json-util.h"
#include "path-util.h"
#include "source-url.h"
#include "string-util.h"

const char *const pipeline_steps[] = {
        PIPELINE_STEP_FETCH,      PIPELINE_STEP_CHECKOUT,
        PIPELINE_STEP_DESCRIPTOR, PIPELINE_STEP_IMAGE,
        PIPELINE_STEP_SCAN,       PIPELINE_STEP_STORE,
        PIPELINE_STEP_PUSH,       PIPELINE_STEP_UPDATE,
        PIPELINE_STEP_DEPLOY,     NULL,
};

void pipeline_source_done(PipelineSource *s) {
        if (!s)
                return;
        free(s->url);
        free(s->branch);
        free(s->dir);
        free(s->dockerfile);
        *s = (PipelineSource) {};
}

int pipeline_source_parse(const char *json, PipelineSource *ret) {
        _cleanup_json_ json_t *j = json ? json_loads(json, 0, NULL) : NULL;
        const char *url = NULL, *branch = NULL, *dir = NULL, *dockerfile = NULL;
        int64_t poll = 0;

        if (!json_is_object(j) || json_get_string(j, "url", &url) < 0 || isempty(url) ||
            json_get_string_opt(j, "branch", &branch) < 0 || json_get_string_opt(j, "dir", &dir) < 0 ||
            json_get_string_opt(j, "dockerfile", &dockerfile) < 0)
                return -EINVAL;
        if (json_object_get(j, "poll_sec") && (json_get_int(j, "poll_sec", &poll) < 0 || poll < 0))
                return -EINVAL;
        *ret = (PipelineSource) {
                .url = strdup(url),
                .branch = strdup(isempty(branch) ? "main" : branch),
                .dir = strdup(dir ?: ""),
                .dockerfile = strdup(isempty(dockerfile) ? "Dockerfile" : dockerfile),
                .poll_sec = (uint64_t) poll,
        };
        if (!ret->url || !ret->branch || !ret->dir || !ret->dockerfile) {
                pipeline_source_done(ret);
                return -ENOMEM;
        }
        return 0;
}

static bool relative_path_ok(const char *p, size_t max) {
        return strlen(p) < max && p[0] != '/' && !path_has_dotdot(p) && !strpbrk(p, "\n\r\t");
}

int pipeline_source_check(const PipelineSource *s, char **ret_error) {
        const char *e = NULL;
        int kind = source_url_classify(s->url);
        struct stat st;

        if (kind < 0)
                e = "The git URL is not an absolute path, file://, git://, http(s):// or ssh:// URL.";
        else if ((kind == SOURCE_URL_PATH || kind == SOURCE_URL_FILE) &&
                 (stat(kind == SOURCE_URL_FILE ? s->url + strlen("file://") : s->url, &st) < 0 ||
                  !S_ISDIR(st.st_mode)))
                e = "There is no git repository at that path on this machine.";
        else if (isempty(s->branch) || strlen(s->branch) > SOURCE_BRANCH_MAX || s->branch[0] == '-' ||
                 strstr(s->branch, "..") || strpbrk(s->branch, " ~^:?*[\\\n\t") ||
                 endswith(s->branch, ".lock") || endswith(s->branch, "/") || s->branch[0] == '/')
                e = "The branch is not a name git allows.";
        else if (!relative_path_ok(s->dir, 1024))
                e = "--dir must be a path inside the repository (relative, without '..').";
        else if (isempty(s->dockerfile) || !relative_path_ok(s->dockerfile, 1024))
                e = "--dockerfile must be a path inside --dir (relative, without '..').";
        else if (s->poll_sec != 0 &&
                 (s->poll_sec < PIPELINE_POLL_MIN_SEC || s->poll_sec > PIPELINE_POLL_MAX_SEC))
                e = "--poll must be between 10s and 7 days (or 0 for none).";
        if (!e)
                return 0;
        *ret_error = strdup(e);
        return -EINVAL;
}

int pipeline_source_format(const PipelineSource *s, char **ret_json) {
        _cleanup_json_ json_t *j =
                json_pack("{s:s,s:s,s:s,s:s,s:I}", "url", s->url, "branch", s->branch, "dir", s->dir,
                          "dockerfile", s->dockerfile, "poll_sec", (json_int_t) s->poll_sec);

        if (!j || !(*ret_json = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT)))
                return -ENOMEM;
        return 0;
}

int pipeline_settings(const PipelineSource *s, char **ret_json, char **ret_hash) {
        _cleanup_json_ json_t *j =
                json_pack("{s:s,s:s,s:s}", "url", s->url, "dir", s->dir, "dockerfile", s->dockerfile);
        char digest[DIGEST_STRING_MAX];
        char *text;

        if (!j || !(text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT)))
                return -ENOMEM;
        sha256_digest_string(text, strlen(text), digest);
        *ret_hash = strdup(digest_hex(digest));
        if (!*ret_hash) {
                free(text);
                return -ENOMEM;
        }
        *ret_json = text;
        return 0;
}

int pipeline_log_path(const char *state_dir, int64_t build_id, const char *step, char **ret) {
        int pos = -1;

        if (step) {
                for (int i = 0; pipeline_steps[i]; i++)
                        if (streq(pipeline_steps[i], step))
                                pos = i;
                if (pos < 0)
                        return -ENOENT;
        }
        if ((step ? asprintf(ret, "%s/builds/%" PRId64 "/%d-%s.log", state_dir, build_id, pos, step)
                  : asprintf(ret, "%s/builds/%" PRId64 "/build.log", state_dir, build_id)) < 0)
                return -ENOMEM;
        return 0;
}

int pipeline_schema_path(const char *state_dir, int64_t build_id, const char *endpoint, char **ret) {
        if (!endpoint || !endpoint[0] || strchr(endpoint, '/') || endpoint[0] == '.')
                return -EINVAL;
        if (asprintf(ret, "%s/builds/%" PRId64 "/schemas/%s", state_dir, build_id, endpoint) < 0)
                return -ENOMEM;
        return 0;
}
