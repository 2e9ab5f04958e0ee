/* Person-facing errors of the OCI layer.  Invariant: err is only written when given, and the
 * negative errno passed in is what the caller gets back. */
#include "oci-error.h"

#include <stdarg.h>

int oci_error_set(OciError *err, int r, const char *hint, const char *fmt, ...) {
        va_list ap;

        if (!err)
                return r;
        va_start(ap, fmt);
        (void) vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        (void) snprintf(err->hint, sizeof(err->hint), "%s", strempty(hint));
        return r;
}
