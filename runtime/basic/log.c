/* Logging to stderr and, under systemd, to the journal with structured fields.
 * %m in a format string expands to the strerror() of the error passed in, not of errno. */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <time.h>

static int max_level = LOG_INFO;
static const char *ident = "slipway";
static int use_journal = -1; /* -1: not decided yet */

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_set_ident(const char *i) {
        ident = i;
}

void log_set_journal(bool on) {
        use_journal = on;
}

/* When stderr is already a journal stream (we run as a systemd service), send structured
 * entries to the journal instead of plain lines; otherwise write to stderr. */
static bool journal_wanted(void) {
        if (use_journal < 0)
                use_journal = getenv("JOURNAL_STREAM") != NULL;
        return use_journal > 0;
}

int log_internal(int level, int error, const char *file, int line, const char *func, const char *fmt, ...) {
        char buf[2048];
        va_list ap;
        int saved = errno;

        /* Make %m refer to the error we were handed. */
        if (error != 0)
                errno = ERRNO_VALUE(error);
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);

        if (journal_wanted())
                sd_journal_send("MESSAGE=%s", buf, "PRIORITY=%i", level, "SYSLOG_IDENTIFIER=%s", ident,
                                "CODE_FILE=%s", file, "CODE_LINE=%i", line, "CODE_FUNC=%s", func,
                                error != 0 ? "ERRNO=%i" : NULL, ERRNO_VALUE(error), NULL);
        else {
                if (max_level >= LOG_DEBUG)
                        fprintf(stderr, "%s[%d]: %s:%d: %s\n", ident, (int) getpid(), file, line, buf);
                else
                        fprintf(stderr, "%s\n", buf);
        }

        errno = saved;
        return -ERRNO_VALUE(error);
}
