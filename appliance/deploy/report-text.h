/* Sentences for a person, collected while a pass or a teardown runs: formatted from printf formats and
 * joined into one line.  They only report, so running out of memory drops a sentence, never fails the work. */
#pragma once

#include <stdarg.h>

/* The formatted text, or NULL when out of memory. */
char *report_vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* Appends sentence to *line with "; " between sentences; out of memory leaves *line as it was. */
void report_join(char **line, const char *sentence);
