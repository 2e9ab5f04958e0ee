/* Benchmark helper for tests/bench/git-fetch.sh: opens the mirror of URL below MIRRORS_DIR through
 * appliance/source, fetches BRANCH once and prints the fetch's wall time in microseconds and the commit. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "git-mirror.h"

static long long now_us(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int main(int argc, char *argv[]) {
        _cleanup_(git_mirror_freep) GitMirror *m = NULL;
        _cleanup_(source_commit_done) SourceCommit c = {};
        SourceError err = {};
        long long t0, t1;

        if (argc != 4) {
                fprintf(stderr, "Usage: %s MIRRORS_DIR URL BRANCH\n", argv[0]);
                return 2;
        }
        if (git_mirror_open(argv[1], argv[2], NULL, &m, &err) < 0) {
                fprintf(stderr, "%s %s\n", err.message, err.hint);
                return 1;
        }
        t0 = now_us();
        if (git_mirror_fetch(m, argv[3], &err) < 0) {
                fprintf(stderr, "%s %s\n", err.message, err.hint);
                return 1;
        }
        t1 = now_us();
        if (git_mirror_resolve_branch(m, argv[3], &c, &err) < 0) {
                fprintf(stderr, "%s %s\n", err.message, err.hint);
                return 1;
        }
        printf("%lld %s %s\n", t1 - t0, c.id, git_mirror_path(m));
        return 0;
}
