/* libFuzzer target: the response head parser (input from upstreams). */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http-parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static HttpHead head;
        size_t scan = 0;
        char *copy;
        int n;

        if (size < 1 || size > HTTP_HEAD_MAX + 64)
                return 0;
        copy = malloc(size);
        if (!copy)
                return 0;
        memcpy(copy, data + 1, size - 1);
        n = http_find_head_end(copy, size - 1, &scan);
        if (n > 0 && http_response_parse(copy, (size_t) n, data[0] & 1, &head, NULL) == 0) {
                assert(head.status >= 100 && head.status <= 999);
                if (data[0] & 1)
                        assert(head.body == HTTP_BODY_NONE);
        }
        (void) http_response_parse(copy, size - 1, false, &head, NULL);
        free(copy);
        return 0;
}
