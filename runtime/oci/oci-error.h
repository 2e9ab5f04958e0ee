/* A person-facing error from the OCI layer: one sentence saying what is wrong and one saying
 * what to do.  Library code fills it; the daemon turns it into {"error","hint"} and an HTTP code. */
#pragma once

#include "macro.h"

typedef struct OciError {
        char message[512];
        char hint[256];
} OciError;

/* Fills err (when not NULL) and returns r (a negative errno). */
int oci_error_set(OciError *err, int r, const char *hint, const char *fmt, ...) _printf_(4, 5);
