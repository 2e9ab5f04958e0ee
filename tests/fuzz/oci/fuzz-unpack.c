/* libFuzzer target for the layer unpacker: arbitrary bytes as a layer blob (any compression),
 * unpacked in-process (no fork, no seccomp) in both whiteout modes into a scratch dir that is
 * removed after each input.  Crashes, leaks and UB in entry handling are what it looks for. */
#include <fcntl.h>
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

static void unpack_once(int fd, LayerUnpackMode mode) {
        char dir[sizeof(scratch) + 16];
        OciError err;
        int dfd;

        snprintf(dir, sizeof(dir), "%s/t", scratch);
        if (mkdir(dir, 0755) < 0)
                abort();
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || lseek(fd, 0, SEEK_SET) != 0)
                abort();
        (void) layer_unpack_in_process(fd, dfd, mode, NULL, FUZZ_UNPACK_SIZE_MAX, &err);
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
        unpack_once(fd, LAYER_UNPACK_OVERLAY);
        unpack_once(fd, LAYER_UNPACK_FLAT);
        close(fd);
        return 0;
}
