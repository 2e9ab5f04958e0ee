/* libFuzzer target for apk installed databases: the input is the file.  Every component
 * taken must have a name, a version and an apk purl. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sbom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Sbom *s;
        int r;

        if (size > SBOM_DB_FILE_MAX)
                return 0;
        s = calloc(1, sizeof(Sbom));
        if (!s)
                return 0;
        r = sbom_parse_apk_installed(s, (const char *) data, size, "lib/apk/db/installed");
        if (r < 0 && r != -ENOMEM && r != -E2BIG)
                abort();
        for (size_t i = 0; i < s->n_components; i++) {
                const SbomComponent *c = &s->components[i];

                if (!c->name[0] || !c->version[0] || !c->purl ||
                    strncmp(c->purl, "pkg:apk/alpine/", 15) != 0)
                        abort();
        }
        sbom_free(s);
        return 0;
}
