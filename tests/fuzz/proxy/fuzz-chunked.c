/* libFuzzer target: the chunked decoder, fed the input whole and in small pieces; both ways must
 * agree on where the body ends and on the decoded bytes. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "chunked.h"
#include "digest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void hash_cb(const uint8_t *d, size_t n, void *u) {
        sha256_update(u, d, n);
}

static ssize_t run(const uint8_t *data, size_t size, size_t step, char out[static DIGEST_STRING_MAX]) {
        ChunkedDecoder d;
        Sha256 h;
        size_t off = 0;

        chunked_decoder_init(&d);
        sha256_init(&h);
        while (off < size && !chunked_decoder_done(&d)) {
                size_t k = size - off < step ? size - off : step;
                ssize_t r = chunked_decoder_feed(&d, data + off, k, hash_cb, &h);
                if (r < 0)
                        return r;
                assert((size_t) r <= k);
                off += (size_t) r;
                if ((size_t) r < k)
                        assert(chunked_decoder_done(&d));
        }
        sha256_final(&h, out);
        return chunked_decoder_done(&d) ? (ssize_t) off : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char a[DIGEST_STRING_MAX], b[DIGEST_STRING_MAX];
        ssize_t ra, rb;

        if (size < 1)
                return 0;
        ra = run(data + 1, size - 1, size, a);
        rb = run(data + 1, size - 1, 1 + data[0] % 7, b);
        assert(ra == rb);
        if (ra >= 0)
                assert(strcmp(a, b) == 0);
        return 0;
}
