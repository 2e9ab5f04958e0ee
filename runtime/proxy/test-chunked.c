/* Unit tests for the chunked decoder: decoding, byte-by-byte feeding, end detection, and rejection of
 * malformed sizes and framing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunked.h"

#include "tests.h"

static char out[4096];
static size_t out_len;

static void collect(const uint8_t *d, size_t n, void *u) {
        memcpy(out + out_len, d, n);
        out_len += n;
}

/* Feeds s in pieces of `step` bytes; returns total consumed or -EBADMSG. */
static ssize_t decode(const char *s, size_t step) {
        ChunkedDecoder d;
        size_t n = strlen(s), off = 0;

        chunked_decoder_init(&d);
        out_len = 0;
        while (off < n && !chunked_decoder_done(&d)) {
                size_t k = n - off < step ? n - off : step;
                ssize_t r = chunked_decoder_feed(&d, (const uint8_t *) s + off, k, collect, NULL);
                if (r < 0)
                        return r;
                off += (size_t) r;
                if ((size_t) r < k)
                        break;
        }
        return chunked_decoder_done(&d) ? (ssize_t) off : -EAGAIN;
}

static void test_good(void) {
        const char *s = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\nGET / HTTP/1.1";
        size_t body = strlen(s) - strlen("GET / HTTP/1.1");

        for (size_t step = 1; step <= strlen(s); step++) {
                CHECK(decode(s, step) == (ssize_t) body);
                CHECK(out_len == 11 && memcmp(out, "hello world", 11) == 0);
        }
        CHECK(decode("A\r\n0123456789\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n", 3) > 0);
        CHECK(out_len == 10);
        CHECK(decode("0\r\n\r\n", 1) == 5 && out_len == 0);
        CHECK(decode("5\r\nhel", 100) == -EAGAIN);
}

static void test_bad(void) {
        const char *bad[] = {
                "\r\n",                         /* no size */
                "g\r\n",                        /* not hex */
                "-1\r\n",                       /* sign */
                " 5\r\nhello\r\n0\r\n\r\n",     /* leading space */
                "5 \r\nhello\r\n0\r\n\r\n",     /* BWS */
                "5\nhello\r\n0\r\n\r\n",        /* bare LF */
                "5\r\nhelloX\r\n0\r\n\r\n",     /* data longer than size */
                "5\r\nhello\n0\r\n\r\n",        /* bare LF after data */
                "1000000000000000\r\n",         /* 16 hex digits: overflow guard */
                "0\r\n bad\r\n\r\n",            /* folded trailer */
                "0\r\nnocolon\r\n\r\n",         /* trailer without colon */
                "0\r\n\n",                      /* bare LF at end */
                "5;\001\r\nhello\r\n0\r\n\r\n", /* CTL in extension */
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                for (size_t step = 1; step <= 64; step *= 4)
                        if (decode(bad[i], step) != -EBADMSG) {
                                fprintf(stderr, "accepted bad chunked body #%zu step %zu\n", i, step);
                                exit(1);
                        }
}

int main(void) {
        test_good();
        test_bad();
        printf("test-chunked: ok\n");
        return 0;
}
