/* Report sentences (report-text.h): formatting with the failure turned into NULL, and "; "-joining that
 * keeps the line as it was when the join cannot be made. */
#include "report-text.h"

#include <stdio.h>
#include <stdlib.h>

#include "macro.h"

char *report_vformat(const char *fmt, va_list ap) {
        char *m = NULL;

        if (vasprintf(&m, fmt, ap) < 0)
                return NULL;
        return m;
}

void report_join(char **line, const char *sentence) {
        char *joined = NULL;

        if (asprintf(&joined, "%s%s%s", strempty(*line), *line ? "; " : "", sentence) < 0)
                return;
        free(*line);
        *line = joined;
}
