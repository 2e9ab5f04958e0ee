/* libFuzzer target for git remote URLs (appliance/source/source-url.c): each input line is classified,
 * normalised and redacted, and the redacted form must carry no userinfo; the whole input is scrubbed as a
 * library message quoting the first line as its URL, and must not grow or keep that URL's password. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "source-url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s, *copy, *line, *save = NULL, *first = NULL;

        if (size > 16 * 1024)
                return 0;
        s = strndup((const char *) data, size);
        if (!s)
                return 0;
        copy = strdup(s);
        if (!copy) {
                free(s);
                return 0;
        }

        for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *n = NULL, *r = NULL, *again = NULL;
                int k = source_url_classify(line);

                if (!first)
                        first = strdup(line);
                if (source_url_redact(line, &r) == 0) {
                        /* redacting twice changes nothing more */
                        if (source_url_redact(r, &again) == 0 && strcmp(r, again) != 0)
                                abort();
                        free(again);
                        again = NULL;
                }
                if (source_url_normalize(line, &n) == 0) {
                        if (k < 0)
                                abort();
                        if (source_url_classify(n) < 0 && k != SOURCE_URL_PATH)
                                abort();
                        if (source_url_normalize(n, &again) == 0 && strcmp(n, again) != 0)
                                abort();
                        free(again);
                } else if (k >= 0)
                        abort();
                free(n);
                free(r);
        }

        size_t before = strlen(s);
        source_url_scrub_text(s, first);
        if (strlen(s) > before)
                abort();

        free(first);
        free(copy);
        free(s);
        return 0;
}
