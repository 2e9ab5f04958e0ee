/* scan-image.h: an image's SBOM from its unpacked layers. */
#include "scan-image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs-util.h"
#include "json-util.h"
#include "oci-store.h"
#include "secrets.h"
#include "string-util.h"

int scan_image_sbom(ImageCatalog *c, const char *digest, const char *image_name, const char *tmp_parent,
                    json_t **ret, Sbom **ret_sbom, json_t **ret_checks, OciError *err) {
        _cleanup_json_ json_t *checks = NULL;
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
                        if (r >= 0 && ret_checks)
                                r = secrets_scan_root(fd, &checks);
                        close(fd);
                }
        }
        (void) rm_rf(dir);
        if (r < 0)
                return r;
        r = sbom_to_cyclonedx(s, image_name, ret);
        if (r < 0)
                return r;
        if (ret_checks) {
                /* The user it runs as, from its config: root unless the Dockerfile said otherwise. */
                _cleanup_json_ json_t *img = NULL;
                OciError e2 = {};
                image_catalog_read_lock(c);
                r = oci_store_image_inspect(c->store, digest, &img, &e2);
                image_catalog_read_unlock(c);
                const char *user =
                        r >= 0 ? json_string_value(json_object_get(
                                         json_object_get(json_object_get(img, "config"), "config"), "User"))
                               : NULL;
                if (r >= 0 && (!user || !*user || streq(user, "root") || streq(user, "0") ||
                               startswith(user, "0:") || startswith(user, "root:")))
                        json_array_append_new(
                                checks, json_pack("{s:s,s:s,s:s,s:s}", "id", "config:user-root", "rule",
                                                  "user-root", "severity", "MEDIUM", "summary",
                                                  "The image runs as root: set USER in its Dockerfile."));
                *ret_checks = TAKE_PTR(checks);
        }
        if (ret_sbom)
                *ret_sbom = TAKE_PTR(s);
        return 0;
}
