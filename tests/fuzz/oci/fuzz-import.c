/* libFuzzer target for archive import: every input is streamed as a tar (oci-archive,
 * docker-archive or hybrid, auto-detected) into a scratch store.  Whatever the bytes, the import
 * must fail cleanly or produce images whose manifests read back verified, and never touch
 * index.json. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fs-util.h"
#include "oci-store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static OciStore *store;
static char store_dir[] = "/tmp/fuzz-import-XXXXXX";

static void cleanup(void) {
        store = oci_store_free(store);
        (void) rm_rf(store_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        OciImportResult res = {};
        OciError err = {};
        int fd;

        if (size > 1024 * 1024)
                return 0;
        if (!store) {
                if (!mkdtemp(store_dir) || oci_store_open(store_dir, &store) < 0)
                        abort();
                atexit(cleanup);
        }

        fd = memfd_create("fuzz-import", MFD_CLOEXEC);
        if (fd < 0 || loop_write(fd, data, size) < 0 || lseek(fd, 0, SEEK_SET) != 0)
                abort();
        if (oci_store_import_fd(store, fd, OCI_IMPORT_AUTO, &res, &err) >= 0) {
                for (size_t i = 0; i < res.n_images; i++) {
                        OciImageSummary sum = {};

                        if (!digest_is_valid(res.images[i].digest) ||
                            !oci_store_has_blob(store, res.images[i].digest))
                                __builtin_trap();
                        if (oci_store_image_summary(store, res.images[i].digest, &sum, &err) < 0)
                                __builtin_trap();
                        oci_image_summary_done(&sum);
                }
                oci_import_result_done(&res);
        } else if (err.message[0] == 0)
                __builtin_trap(); /* every failure explains itself */
        close(fd);
        return 0;
}
