/* libFuzzer target for the registry's check of a pushed manifest (runtime/oci/manifest-check.c): any input,
 * with and without a Content-Type, must be refused or yield references the registry can look up safely. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "manifest-check.h"
#include "oci-store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *text, size_t size, const char *content_type) {
        OciManifestCheck c = {};
        OciError err = {};

        if (oci_manifest_check(text, size, content_type, &c, &err) < 0)
                return;
        if (!c.media_type ||
            (!oci_media_type_is_manifest(c.media_type) && !oci_media_type_is_index(c.media_type)))
                __builtin_trap();
        if (c.subject[0] && !digest_is_valid(c.subject))
                __builtin_trap();
        if (c.kind == OCI_MANIFEST_KIND_ARTIFACT &&
            (!c.artifact_type || !oci_media_type_is_valid(c.artifact_type)))
                __builtin_trap();
        for (size_t i = 0; i < c.n_refs; i++)
                if (!digest_is_valid(c.refs[i].digest) || !oci_media_type_is_valid(c.refs[i].media_type))
                        __builtin_trap();
        oci_manifest_check_done(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > OCI_MANIFEST_MAX)
                return 0;
        check((const char *) data, size, NULL);
        check((const char *) data, size, OCI_MEDIA_TYPE_MANIFEST);
        check((const char *) data, size, OCI_MEDIA_TYPE_INDEX);
        check((const char *) data, size, DOCKER_MEDIA_TYPE_MANIFEST);
        return 0;
}
