/* UTF-8 validation. Invariant: a sequence is accepted only in its shortest form and only for scalar
 * values (U+0000…U+D7FF, U+E000…U+10FFFF), so what passes here any strict decoder (jansson) accepts. */
#include "utf8.h"

#include <stdint.h>

size_t utf8_valid_prefix(const char *s, size_t len) {
        const unsigned char *u = (const unsigned char *) s;
        size_t i = 0;

        while (i < len) {
                unsigned char c = u[i];
                size_t n;
                uint32_t cp;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xC2 && c <= 0xDF) {
                        n = 1;
                        cp = c & 0x1F;
                } else if (c >= 0xE0 && c <= 0xEF) {
                        n = 2;
                        cp = c & 0x0F;
                } else if (c >= 0xF0 && c <= 0xF4) {
                        n = 3;
                        cp = c & 0x07;
                } else
                        return i;
                for (size_t k = 1; k <= n; k++) {
                        if (i + k >= len || (u[i + k] & 0xC0) != 0x80)
                                return i;
                        cp = (cp << 6) | (u[i + k] & 0x3F);
                }
                if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
                    (cp >= 0xD800 && cp <= 0xDFFF))
                        return i;
                i += n + 1;
        }
        return len;
}
