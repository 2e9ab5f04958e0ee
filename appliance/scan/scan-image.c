/* scan-image.h: an image's SBOM from its layers (stacked with overlayfs, or unpacked), and its secrets layer
 * by layer. */
#include "scan-image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs-util.h"
#include "json-util.h"
#include "layer-unpack.h"
#include "oci-store.h"
#include "scan-overlay.h"
#include "secrets.h"
#include "string-util.h"
#include "strv.h"

/* Each layer's own tree in the shared cache (the unpack has just filled it): a secret that a later layer
 * deletes is still in the image's blobs, and a finding names the layer that carries it. */
static int scan_layers(ImageCatalog *c, const char *digest, json_t *checks, OciError *err) {
        char **layers = NULL, **diffs = NULL, **types = NULL;
        size_t n = 0;
        int r;

        image_catalog_read_lock(c);
        r = oci_store_image_layers(c->store, digest, &layers, &diffs, &types, &n);
        if (r < 0)
                oci_error_set(err, r, "Check the store.", "Cannot read the layers of %s.", digest);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                _cleanup_json_ json_t *found = NULL;
                _cleanup_free_ char *path = NULL;
                _cleanup_close_ int fd = -EBADF;
                json_t *f;
                size_t k;

                r = layer_cache_path(c->layers_dir, diffs[i], &path);
                if (r < 0)
                        break;
                fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0) {
                        r = oci_error_set(err, -errno, "Scan it again.",
                                          "The unpacked layer %s of %s went away during the scan.",
                                          layers[i], digest);
                        break;
                }
                r = secrets_scan_root(fd, &found);
                if (r < 0)
                        break;
                json_array_foreach(found, k, f) {
                        if (json_array_size(checks) >= SECRETS_FINDINGS_MAX)
                                break;
                        if (json_object_set_new(f, "layer", json_string(layers[i])) < 0 ||
                            json_object_set_new(f, "diff_id", json_string(diffs[i])) < 0 ||
                            json_object_set_new(f, "layer_index", json_integer((json_int_t) i)) < 0 ||
                            json_array_append(checks, f) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                }
        }
        image_catalog_read_unlock(c);
        strv_free_n(layers, n);
        strv_free_n(diffs, n);
        strv_free_n(types, n);
        return r < 0 ? r : 0;
}

/* A finding when the image's config runs it as root: the user it runs as is root unless USER said otherwise. */
static int check_user(ImageCatalog *c, const char *digest, json_t *checks) {
        _cleanup_json_ json_t *img = NULL;
        OciError e2 = {};
        const char *user;
        int r;

        image_catalog_read_lock(c);
        r = oci_store_image_inspect(c->store, digest, &img, &e2);
        image_catalog_read_unlock(c);
        if (r < 0)
                return 0;
        user = json_string_value(
                json_object_get(json_object_get(json_object_get(img, "config"), "config"), "User"));
        if (user && *user && !streq(user, "root") && !streq(user, "0") && !startswith(user, "0:") &&
            !startswith(user, "root:"))
                return 0;
        return json_array_append_new(
                       checks, json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", "config:user-root", "kind", "config",
                                         "rule", "user-root", "severity", "MEDIUM", "summary",
                                         "The image runs as root: set USER in its Dockerfile.")) < 0
                       ? -ENOMEM
                       : 0;
}

/* The SBOM read from a flat copy of the image below tmp_parent, removed after. */
static int sbom_of_unpack(ImageCatalog *c, const char *digest, const char *tmp_parent, Sbom **ret,
                          OciError *err) {
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
                        r = sbom_scan_root(fd, ret, NULL);
                        close(fd);
                }
        }
        (void) rm_rf(dir);
        return r;
}

/* The SBOM of the cached layers as overlayfs merges them, gc held off meanwhile; -EOPNOTSUPP: unpack. */
static int sbom_of_layers(ImageCatalog *c, const char *digest, const char *tmp_parent, Sbom **ret) {
        char **layers = NULL, **diffs = NULL, **types = NULL;
        size_t n = 0;
        int r;

        image_catalog_read_lock(c);
        r = oci_store_image_layers(c->store, digest, &layers, &diffs, &types, &n);
        if (r >= 0)
                r = scan_overlay_sbom(c->layers_dir, diffs, n, tmp_parent, ret);
        image_catalog_read_unlock(c);
        strv_free_n(layers, n);
        strv_free_n(diffs, n);
        strv_free_n(types, n);
        return r;
}

int scan_image_sbom(ImageCatalog *c, const char *digest, const char *image_name, const char *tmp_parent,
                    json_t **ret, Sbom **ret_sbom, json_t **ret_checks, OciError *err) {
        _cleanup_json_ json_t *checks = NULL;
        _cleanup_(sbom_freep) Sbom *s = NULL;
        int r;

        /* The cached layers stacked with overlayfs: nothing is copied.  Else a flat unpack. */
        r = image_catalog_prepare_layers(c, digest, err);
        if (r < 0)
                return r;
        r = sbom_of_layers(c, digest, tmp_parent, &s);
        if (r == -EOPNOTSUPP)
                r = sbom_of_unpack(c, digest, tmp_parent, &s, err);
        if (r < 0)
                return r;
        r = sbom_to_cyclonedx(s, image_name, ret);
        if (r < 0)
                return r;
        if (ret_checks) {
                checks = json_array();
                if (!checks)
                        return -ENOMEM;
                r = scan_layers(c, digest, checks, err);
                if (r >= 0)
                        r = check_user(c, digest, checks);
                if (r < 0) {
                        json_decref(TAKE_PTR(*ret));
                        return r;
                }
                *ret_checks = TAKE_PTR(checks);
        }
        if (ret_sbom)
                *ret_sbom = TAKE_PTR(s);
        return 0;
}
