/* libFuzzer target: the request head parser must never crash or read out of bounds, and what it
 * accepts must have consistent framing. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http-parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static HttpHead head;
        HttpError e;
        size_t scan = 0;
        char *copy;
        int n;

        if (size > HTTP_HEAD_MAX + 64)
                return 0;
        copy = malloc(size ? size : 1);
        if (!copy)
                return 0;
        memcpy(copy, data, size);
        n = http_find_head_end(copy, size, &scan);
        if (n > 0 && http_request_parse(copy, (size_t) n, &head, &e) == 0) {
                assert(head.head_len == (size_t) n);
                assert(head.method_len > 0 && head.target_len > 0);
                assert(head.body != HTTP_BODY_EOF);
                assert(!(head.body == HTTP_BODY_LENGTH && head.content_length == 0));
        }
        /* the parser also runs on arbitrary (unterminated) input without reading past it */
        (void) http_request_parse(copy, size, &head, &e);
        free(copy);
        return 0;
}
