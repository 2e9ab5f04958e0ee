/* OciError: the one place an OCI-layer failure becomes words for a person.  The message says what
 * is wrong, the hint what to do; both are always NUL-terminated and truncated, never overflowed. */
#include "oci-error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int oci_error_set(OciError *err, int r, const char *hint, const char *fmt, ...) {
        va_list ap;

        if (!err)
                return r;

        va_start(ap, fmt);
        (void) vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        /* Messages are sentences: "manifest …" → "Manifest …" (but "index.json …" stays a file name). */
        if (err->message[0] >= 'a' && err->message[0] <= 'z' &&
            memchr(err->message, '.', strcspn(err->message, " ")) == NULL)
                err->message[0] = (char) (err->message[0] - 'a' + 'A');
        (void) snprintf(err->hint, sizeof err->hint, "%s", strempty(hint));
        return r;
}
