/* libFuzzer target for the image document parsers: every input is tried as a manifest (with and
 * without a referring media type), an index/manifest list, and a config.  They must never crash,
 * leak or read out of bounds, and a success must yield values the store can use safely. */
#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "oci-store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_descriptor(const OciDescriptor *d) {
        if (!digest_is_valid(d->digest) || !d->media_type)
                __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *text = (const char *) data;
        OciManifest m = {};
        OciIndex x = {};
        OciConfig c = {};
        OciError err = {};

        if (size > OCI_MANIFEST_MAX)
                return 0;

        if (oci_manifest_parse(text, size, NULL, "manifest", &m, &err) >= 0) {
                check_descriptor(&m.config);
                for (size_t i = 0; i < m.n_layers; i++) {
                        check_descriptor(&m.layers[i]);
                        if (oci_layer_media_type_compression(m.layers[i].media_type) < 0)
                                __builtin_trap();
                }
                oci_manifest_done(&m);
        }
        if (oci_manifest_parse(text, size, DOCKER_MEDIA_TYPE_MANIFEST, "manifest", &m, &err) >= 0)
                oci_manifest_done(&m);

        if (oci_index_parse(text, size, NULL, "index.json", &x, &err) >= 0) {
                for (size_t i = 0; i < x.n_manifests; i++)
                        check_descriptor(&x.manifests[i]);
                (void) oci_index_find_platform(&x, "linux", "amd64");
                oci_index_done(&x);
        }

        if (oci_config_parse(text, size, "config", &c, &err) >= 0) {
                for (size_t i = 0; i < c.n_diff_ids; i++)
                        if (!digest_is_valid(c.diff_ids[i]))
                                __builtin_trap();
                oci_config_done(&c);
        }

        /* References come from the same archives (annotations, RepoTags). */
        if (size <= OCI_REF_MAX + 1) {
                char ref[OCI_REF_MAX + 2];
                char *n = NULL;

                memcpy(ref, data, size);
                ref[size] = 0;
                if (oci_ref_normalize(ref, &n) >= 0) {
                        if (!oci_ref_is_valid(n))
                                __builtin_trap();
                        free(n);
                }
        }
        return 0;
}
