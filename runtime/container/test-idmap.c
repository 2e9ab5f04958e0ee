/* Host uid ranges and idmapped mounts: claims are unique (also between concurrent processes), stable for
 * their owner, reused when stale or released, and a layer seen through an idmapped clone is owned by the
 * range's first uid.  The claim part needs no privileges; the mount part needs root (else skipped). */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs-util.h"
#include "idmap.h"
#include "macro.h"
#include "process.h"

#include "tests.h"

#define WORKERS 6U
#define CLAIMS_PER_WORKER 25U

static char top[] = "/tmp/test-idmap-XXXXXX";
static char claims[256];

static char *owner(const char *name) {
        char *r = path_join(top, name);
        CHECK(r);
        CHECK(mkdir_p(r, 0755) >= 0);
        return r;
}

static void test_shift_valid(void) {
        CHECK(idmap_shift_valid(IDMAP_RANGE_BASE));
        CHECK(idmap_shift_valid(IDMAP_RANGE_BASE + IDMAP_RANGE_SIZE));
        CHECK(idmap_shift_valid(IDMAP_RANGE_BASE + (IDMAP_RANGE_SLOTS - 1) * IDMAP_RANGE_SIZE));
        CHECK(!idmap_shift_valid(IDMAP_RANGE_BASE + IDMAP_RANGE_SLOTS * IDMAP_RANGE_SIZE));
        CHECK(!idmap_shift_valid(IDMAP_RANGE_BASE + 1));
        CHECK(!idmap_shift_valid(0));
        CHECK(!idmap_shift_valid(IDMAP_RANGE_BASE - IDMAP_RANGE_SIZE));
        /* The whole span stays inside what systemd sets aside for containers (below 0x70000000). */
        CHECK((uint64_t) IDMAP_RANGE_BASE + (uint64_t) IDMAP_RANGE_SLOTS * IDMAP_RANGE_SIZE <=
              0x70000000ULL);
}

static void test_claims(void) {
        _cleanup_free_ char *a = owner("a"), *b = owner("b"), *c = owner("c"), *gone = owner("gone");
        uid_t sa, sa2, sb, sc, sg, s;

        CHECK(idmap_range_claim(claims, "relative/path", 0, &s) == -EINVAL);

        CHECK(idmap_range_claim(claims, a, 0, &sa) == 0 && idmap_shift_valid(sa));
        CHECK(idmap_range_claim(claims, a, 0, &sa2) == 0 && sa2 == sa); /* stable */
        CHECK(idmap_range_claim(claims, b, 0, &sb) == 0 && idmap_shift_valid(sb) && sb != sa);
        /* An owner keeps its range even when it asks for another one. */
        CHECK(idmap_range_claim(claims, b, sa, &s) == 0 && s == sb);

        /* Released: the next owner that prefers it gets it. */
        CHECK(idmap_range_release(claims, a) == 0);
        CHECK(idmap_range_release(claims, a) == 0); /* nothing left to release */
        CHECK(idmap_range_claim(claims, c, sa, &sc) == 0 && sc == sa);
        /* A preferred range held by a live owner is not taken away. */
        CHECK(idmap_range_claim(claims, a, sc, &s) == 0 && s != sc && s != sb);
        CHECK(idmap_range_release(claims, a) == 0);

        /* Stale: its owner is gone, so it is free again. */
        CHECK(idmap_range_claim(claims, gone, 0, &sg) == 0);
        CHECK(rmdir(gone) == 0);
        CHECK(idmap_range_claim(claims, a, sg, &s) == 0 && s == sg);

        CHECK(idmap_range_release(claims, a) == 0);
        CHECK(idmap_range_release(claims, b) == 0);
        CHECK(idmap_range_release(claims, c) == 0);
}

static int worker(void *userdata) {
        unsigned w = (unsigned) (uintptr_t) userdata;

        for (unsigned i = 0; i < CLAIMS_PER_WORKER; i++) {
                _cleanup_free_ char *o = NULL;
                char name[32];
                uid_t s;

                snprintf(name, sizeof(name), "w%u-%u", w, i);
                o = owner(name);
                if (idmap_range_claim(claims, o, 0, &s) < 0 || !idmap_shift_valid(s))
                        return 1;
        }
        return 0;
}

/* Concurrent claimers (separate processes, as several daemons would be) never share a range. */
static void test_concurrent(void) {
        pid_t pids[WORKERS];
        unsigned n = 0;
        char seen[IDMAP_RANGE_SLOTS] = {};
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;

        for (unsigned w = 0; w < WORKERS; w++) {
                pids[w] = fork_function(worker, (void *) (uintptr_t) w);
                CHECK(pids[w] > 0);
        }
        for (unsigned w = 0; w < WORKERS; w++)
                CHECK(wait_for_pid(pids[w], NULL) == 0);
        d = opendir(claims);
        CHECK(d);
        while ((de = readdir(d))) {
                char target[PATH_MAX];
                _cleanup_free_ char *link = NULL;
                unsigned long v;
                ssize_t k;

                if (de->d_name[0] == '.')
                        continue;
                v = strtoul(de->d_name, NULL, 10);
                CHECK(idmap_shift_valid((uid_t) v));
                CHECK(!seen[(v - IDMAP_RANGE_BASE) / IDMAP_RANGE_SIZE]);
                seen[(v - IDMAP_RANGE_BASE) / IDMAP_RANGE_SIZE] = 1;
                link = path_join(claims, de->d_name);
                CHECK(link);
                k = readlink(link, target, sizeof(target) - 1);
                CHECK(k > 0);
                target[k] = 0;
                CHECK(strstr(target, "/w"));
                n++;
        }
        CHECK(n == WORKERS * CLAIMS_PER_WORKER);
}

/* A root-owned file seen through an idmapped clone of its directory is owned by the range's first uid.
 * false when it could not run here. */
static bool test_idmapped_clone(void) {
        _cleanup_free_ char *layer = owner("layer"), *file = path_join(layer, "f");
        _cleanup_close_ int ns = -EBADF, tree = -EBADF;
        const uid_t shift = IDMAP_RANGE_BASE + 7 * IDMAP_RANGE_SIZE;
        struct stat st;

        if (geteuid() != 0 || !idmap_supported(layer)) {
                fprintf(stderr, "test-idmap: no root or no idmapped mounts here, skipping the mount part\n");
                return false;
        }
        CHECK(file && write_file_atomic(file, "x", 1, 0644) >= 0);
        CHECK(chown(file, 0, 0) == 0);
        CHECK(idmap_userns_new(shift, &ns) == 0);
        CHECK(idmap_clone_tree(layer, ns, &tree) == 0);
        CHECK(fstatat(tree, "f", &st, AT_SYMLINK_NOFOLLOW) == 0);
        CHECK(st.st_uid == shift && st.st_gid == shift);
        CHECK(stat(file, &st) == 0 && st.st_uid == 0); /* the layer itself is untouched */
        CHECK(idmap_userns_new(0, &ns) == -EINVAL);
        return true;
}

/* An upper moved from one range to another: owners in the old range move by the same offset, others stay,
 * a setuid bit survives.  false when it could not run here. */
static bool test_shift_tree(void) {
        _cleanup_free_ char *dir = owner("upper"), *sub = owner("upper/d"), *a = path_join(dir, "a"),
                            *b = path_join(sub, "b"), *c = path_join(dir, "c"), *l = path_join(dir, "l");
        const uid_t from = IDMAP_RANGE_BASE + 3 * IDMAP_RANGE_SIZE;
        const uid_t to = IDMAP_RANGE_BASE + 9 * IDMAP_RANGE_SIZE;
        struct stat st;

        if (geteuid() != 0) {
                fprintf(stderr, "test-idmap: no root, skipping the shift part\n");
                return false;
        }
        CHECK(a && b && c && l);
        CHECK(write_file_atomic(a, "a", 1, 0644) >= 0 && write_file_atomic(b, "b", 1, 0755) >= 0 &&
              write_file_atomic(c, "c", 1, 0644) >= 0 && symlink("a", l) == 0);
        CHECK(chown(dir, from, from) == 0 && chown(sub, from + 1000, from + 1000) == 0);
        CHECK(chown(a, from, from + 5) == 0 && chown(b, from + 1000, from) == 0);
        CHECK(chown(c, 1234, 1234) == 0);
        CHECK(lchown(l, from + 7, from + 7) == 0);
        CHECK(chmod(b, 04755) == 0);

        CHECK(idmap_shift_tree(dir, from, to) == 0);
        CHECK(lstat(dir, &st) == 0 && st.st_uid == to && st.st_gid == to);
        CHECK(lstat(sub, &st) == 0 && st.st_uid == to + 1000);
        CHECK(lstat(a, &st) == 0 && st.st_uid == to && st.st_gid == to + 5);
        CHECK(lstat(b, &st) == 0 && st.st_uid == to + 1000 && st.st_gid == to);
        CHECK((st.st_mode & 07777) == 04755);
        CHECK(lstat(c, &st) == 0 && st.st_uid == 1234 && st.st_gid == 1234);
        CHECK(lstat(l, &st) == 0 && S_ISLNK(st.st_mode) && st.st_uid == to + 7);
        return true;
}

int main(void) {
        CHECK(mkdtemp(top));
        snprintf(claims, sizeof(claims), "%s/claims", top);

        test_shift_valid();
        test_claims();
        test_concurrent();
        bool mounted = test_idmapped_clone();
        bool shifted = test_shift_tree();

        CHECK(rm_rf(top) >= 0);
        /* A part that could not run is not a pass: meson shows the whole test as skipped (77). */
        if (!mounted || !shifted) {
                printf("test-idmap: claims ok, %s%s%s skipped\n", mounted ? "" : "idmapped mounts",
                       !mounted && !shifted ? " and " : "", shifted ? "" : "tree shift");
                return 77;
        }
        printf("test-idmap: ok\n");
        return 0;
}
