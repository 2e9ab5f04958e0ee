/* libFuzzer target for the daemon side of build contexts: arbitrary bytes as the uploaded context (any
 * compression), extracted into a scratch dir and filtered by whatever .dockerignore it carries.  Besides
 * crashes, leaks and UB it checks the invariant: nothing appears next to the target directory. */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-context.h"
#include "fs-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char scratch[] = "/tmp/fuzz-build-context-XXXXXX";
static bool scratch_made;

typedef struct Input {
        const uint8_t *data;
        size_t size, pos;
} Input;

static ssize_t input_read(void *userdata, void *buf, size_t n) {
        Input *in = userdata;
        size_t k = in->size - in->pos < n ? in->size - in->pos : n;

        memcpy(buf, in->data + in->pos, k);
        in->pos += k;
        return (ssize_t) k;
}

static void remove_scratch(void) {
        (void) rm_rf(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char dir[sizeof(scratch) + 8];
        Input in = { .data = data, .size = size };
        char *err = NULL;
        struct dirent *de;
        DIR *d;

        if (!scratch_made) {
                if (!mkdtemp(scratch))
                        abort();
                scratch_made = true;
                atexit(remove_scratch);
        }
        snprintf(dir, sizeof(dir), "%s/ctx", scratch);
        if (mkdir(dir, 0755) < 0)
                abort();
        if (build_context_extract(input_read, &in, dir, &err) >= 0)
                (void) build_context_apply_dockerignore(dir, "Dockerfile", &err);
        free(err);

        /* The only thing in scratch is ctx: an escape would have put something next to it. */
        d = opendir(scratch);
        if (!d)
                abort();
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "ctx"))
                        abort();
        closedir(d);
        if (rm_rf(dir) < 0)
                abort();
        return 0;
}
