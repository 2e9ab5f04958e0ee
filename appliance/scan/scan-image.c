/* scan-image.h: an image's SBOM from its unpacked layers. */
#include "scan-image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs-util.h"

int scan_image_sbom(ImageCatalog *c, const char *digest, const char *image_name, const char *tmp_parent,
                    json_t **ret, Sbom **ret_sbom, OciError *err) {
        _cleanup_(sbom_freep) Sbom *s = NULL;
        _cleanup_free_ char *dir = NULL, *root = NULL;
        int fd, r;

        r = mkdir_p(tmp_parent, 0700);
        if (r < 0)
                return r;
        if (asprintf(&dir, "%s/sbom-XXXXXX", tmp_parent) < 0)
                return -ENOMEM;
        if (!mkdtemp(dir))
                return -errno;
        if (asprintf(&root, "%s/root", dir) < 0) {
                (void) rm_rf(dir);
                return -ENOMEM;
        }
        r = image_catalog_unpack(c, digest, root, 0, NULL, err);
        if (r >= 0) {
                fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        r = -errno;
                else {
                        r = sbom_scan_root(fd, &s, NULL);
                        close(fd);
                }
        }
        (void) rm_rf(dir);
        if (r < 0)
                return r;
        r = sbom_to_cyclonedx(s, image_name, ret);
        if (r < 0)
                return r;
        if (ret_sbom)
                *ret_sbom = TAKE_PTR(s);
        return 0;
}
