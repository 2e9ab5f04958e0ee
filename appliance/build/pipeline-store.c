/* The store step (pipeline-internal.h): the build records its image, and the SBOM the scan step made is
 * attached to that image as an OCI referrer in the image's repository, so the registry lists it with the
 * image and a push carries it along. */
#include "pipeline-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "build-db.h"
#include "fs-util.h"
#include "image-referrer.h"

int step_store(Run *run, const char **ret_message) {
        _cleanup_free_ char *path = NULL, *data = NULL, *repo = NULL;
        char referrer[DIGEST_STRING_MAX];
        size_t size = 0;
        int r;

        r = model_build_set_image(run->db, run->build.id, run->digest, run->ref);
        if (r < 0)
                return fail(run, r, "Cannot record the image: %s.", strerror(-r));
        say(run, "stored %s as %s", run->digest, run->ref ?: "(untagged)");
        *ret_message = run->ref;

        if (!run->ref || build_dir_path(run->p, run->build.id, PIPELINE_SBOM_FILE, &path) < 0)
                return 0;
        if (read_full_file(path, &data, &size) < 0)
                return 0; /* no SBOM was made: nothing to attach */
        repo = strndup(run->ref, strcspn(run->ref, ":"));
        if (!repo)
                return -ENOMEM;
        r = image_referrer_attach(run->p->cfg.catalog, run->db, repo, run->digest, IMAGE_REFERRER_SBOM_TYPE,
                                  "sbom.cdx.json", data, size, referrer);
        if (r < 0)
                return fail(run, r, "Cannot attach the SBOM to the image: %s.", strerror(-r));
        say(run, "SBOM attached to %s as referrer %s", run->digest, referrer);
        return 0;
}
