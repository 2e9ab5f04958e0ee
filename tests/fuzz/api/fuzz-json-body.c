/* libFuzzer target for the API's JSON body decoding (http_json_body_decode, the one path every JSON route
 * reads its body through) and the depth pre-scan under it.  Invariants: the scanner's depth is exactly the
 * parsed document's (both ways: refused input is deeper than JSON_DEPTH_MAX or not JSON), an accepted body
 * is an object with known fields only, and a refusal always carries a sentence. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http-json-body.h"
#include "json-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Depth of a document jansson built (at most its own limit of 2048: the fuzzer's main stack takes that). */
static unsigned tree_depth(json_t *j) {
        unsigned d = 0;
        const char *k;
        size_t i;
        json_t *v;

        if (json_is_object(j)) {
                json_object_foreach(j, k, v) {
                        unsigned c = tree_depth(v);
                        d = c > d ? c : d;
                }
                return d + 1;
        }
        if (json_is_array(j)) {
                json_array_foreach(j, i, v) {
                        unsigned c = tree_depth(v);
                        d = c > d ? c : d;
                }
                return d + 1;
        }
        return 0;
}

static const HttpJsonBody specs[] = {
        { .what = "project create request",
          .fields = (const char *const[]) { "name", "envs", NULL },
          .example = "Send {\"name\": \"shop\"}." },
        { .what = "deploy request",
          .max = 64 * 1024,
          .fields = (const char *const[]) { "env", "image", NULL },
          .example = "Send {\"env\": ENVIRONMENT}." },
        { .what = "gc request", .example = "Send {}." },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *text = (const char *) data;
        size_t offset = 0;
        json_error_t jerr;
        json_t *j;
        int depth;

        if (size > 256 * 1024)
                return 0;

        /* The scanner against jansson itself (JSON_DEPTH_MAX is far inside jansson's own 2048). */
        depth = json_depth_scan(text, size, JSON_DEPTH_MAX, &offset);
        j = json_loadb(text, size, JSON_REJECT_DUPLICATES, &jerr);
        if (j) {
                unsigned real = tree_depth(j);
                if (depth >= 0 ? (unsigned) depth != real : (real <= JSON_DEPTH_MAX || offset >= size))
                        __builtin_trap();
                json_decref(j);
        } else if (depth == -ELOOP && offset >= size)
                __builtin_trap();

        for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
                char *error = NULL;
                json_t *body = NULL;
                int r = http_json_body_decode(&specs[i], text, size, &body, &error);

                if (r >= 0) {
                        const char *k;
                        json_t *v;

                        if (!json_is_object(body) || error || tree_depth(body) > JSON_DEPTH_MAX)
                                __builtin_trap();
                        json_object_foreach(body, k, v) {
                                bool known = false;
                                for (const char *const *f = specs[i].fields; f && *f; f++)
                                        known = known || strcmp(*f, k) == 0;
                                if (!known)
                                        __builtin_trap();
                        }
                        /* What was accepted survives a round trip. */
                        char *dump = json_dumps(body, JSON_COMPACT);
                        json_t *again = NULL;
                        if (!dump || json_parse_buffer(dump, strlen(dump), &again, NULL) < 0 ||
                            !json_equal(body, again))
                                __builtin_trap();
                        json_decref(again);
                        free(dump);
                        json_decref(body);
                } else if (!error || !error[0] || (r != -EBADMSG && r != -ELOOP && r != -EINVAL))
                        __builtin_trap();
                free(error);
        }
        return 0;
}
