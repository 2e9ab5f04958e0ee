/* libFuzzer target for the layer unpacker: arbitrary bytes as a layer blob (any compression),
 * unpacked in-process (no fork, no seccomp) in both whiteout modes, and flat for an untrusted image,
 * into a scratch dir that is removed after each input.  Crashes, leaks and UB in entry handling are
 * what it looks for, and any device node or setuid/setgid file an untrusted flat unpack made. */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "layer-unpack.h"

#define FUZZ_UNPACK_SIZE_MAX (16U * 1024U * 1024U) /* uncompressed bytes per input */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char scratch[] = "/tmp/fuzz-unpack-XXXXXX";

static void remove_scratch(void) {
        (void) rm_rf(scratch);
}

/* An untrusted flat unpack (image unpack without --keep-special) leaves no device node and no setuid or
 * setgid file, whatever the layer says. */
static void check_no_special(int dfd, unsigned depth) {
        DIR *d;

        if (depth > 64)
                return;
        d = fdopendir(dfd);
        if (!d)
                abort();
        for (struct dirent *de; (de = readdir_no_dot(d));) {
                struct stat st;

                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        abort();
                if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
                        __builtin_trap();
                if (!S_ISLNK(st.st_mode) && (st.st_mode & (S_ISUID | S_ISGID)))
                        __builtin_trap();
                if (S_ISDIR(st.st_mode)) {
                        int sub = openat(dirfd(d), de->d_name,
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub >= 0)
                                check_no_special(sub, depth + 1);
                }
        }
        closedir(d);
}

static void unpack_once(int fd, LayerUnpackMode mode, bool drop_special) {
        char dir[sizeof(scratch) + 16];
        OciError err;
        int dfd;

        snprintf(dir, sizeof(dir), "%s/t", scratch);
        if (mkdir(dir, 0755) < 0)
                abort();
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || lseek(fd, 0, SEEK_SET) != 0)
                abort();
        (void) layer_apply(fd, dfd,
                           &(LayerApplyOptions) { .mode = mode,
                                                  .max_size = FUZZ_UNPACK_SIZE_MAX,
                                                  .drop_special = drop_special },
                           &err);
        if (drop_special)
                check_no_special(fcntl(dfd, F_DUPFD_CLOEXEC, 3), 0);
        close(dfd);
        if (rm_rf(dir) < 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static bool initialized = false;
        int fd;

        if (!initialized) {
                if (!mkdtemp(scratch))
                        abort();
                atexit(remove_scratch);
                initialized = true;
        }
        fd = memfd_create("layer", MFD_CLOEXEC);
        if (fd < 0 || loop_write(fd, data, size) < 0)
                abort();
        unpack_once(fd, LAYER_UNPACK_OVERLAY, false);
        unpack_once(fd, LAYER_UNPACK_FLAT, false);
        unpack_once(fd, LAYER_UNPACK_FLAT, true);
        close(fd);
        return 0;
}
