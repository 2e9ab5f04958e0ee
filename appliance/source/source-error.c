/* The git sources' error reporting: one conversion of libgit2's codes to errno and the SourceError filler.
 * libgit2 is initialised here exactly once, before any other call of the module reaches it. */
#include <errno.h>
#include <git2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "source-error.h"

int source_error_set(SourceError *err, int r, const char *fmt, ...) {
        va_list ap;

        if (err) {
                va_start(ap, fmt);
                (void) vsnprintf(err->message, sizeof err->message, fmt, ap);
                va_end(ap);
                err->hint[0] = '\0';
        }
        return r;
}

void source_error_hint(SourceError *err, const char *fmt, ...) {
        va_list ap;

        if (!err)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(err->hint, sizeof err->hint, fmt, ap);
        va_end(ap);
}

int git_to_errno(int error) {
        if (error >= 0)
                return 0;
        switch (error) {
        case GIT_ENOTFOUND:
                return -ENOENT;
        case GIT_EEXISTS:
                return -EEXIST;
        case GIT_EAMBIGUOUS:
                return -ENOTUNIQ;
        case GIT_EBUFS:
                return -ENOBUFS;
        case GIT_EUSER:
                return -ECANCELED;
        case GIT_ELOCKED:
                return -EBUSY;
        case GIT_EAUTH:
                return -EACCES;
        case GIT_ECERTIFICATE:
                return -EPERM;
        case GIT_EINVALIDSPEC:
        case GIT_EINVALID:
                return -EINVAL;
        case GIT_EBAREREPO:
        case GIT_EUNBORNBRANCH:
        case GIT_ENONFASTFORWARD:
                return -EBADMSG;
        default:
                return -EIO;
        }
}

const char *git_last_error_message(void) {
        const git_error *e = git_error_last();

        return e && e->message ? e->message : "unknown libgit2 error";
}

static int init_result;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void do_init(void) {
        int r = git_libgit2_init();

        if (r < 0) {
                init_result = git_to_errno(r);
                return;
        }
        /* only the mirror's own config counts: no url.insteadOf, credential helpers or proxies of the host */
        for (int level = GIT_CONFIG_LEVEL_SYSTEM; level <= GIT_CONFIG_LEVEL_GLOBAL; level++) {
                r = git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, level, "");
                if (r < 0) {
                        init_result = git_to_errno(r);
                        return;
                }
        }
        /* A local-path remote may belong to another user (the quickstart's repository, fetched by the root
         * daemon).  libgit2 runs no hooks or fsmonitor and we read no system or global config, where a
         * safe.directory would be, so git's ownership check guards nothing here and would only refuse. */
        r = git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
        if (r < 0) {
                init_result = git_to_errno(r);
                return;
        }
        init_result = 0;
}

int source_libgit2_init(void) {
        (void) pthread_once(&init_once, do_init);
        return init_result;
}
