/* libFuzzer target for dpkg status files: the first byte picks status or a status.d file (no Status field
 * needed), the rest is the file.  Every component taken must have a name, a version and a deb purl. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sbom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Sbom *s;
        int r;

        if (size < 1 || size > SBOM_DB_FILE_MAX)
                return 0;
        s = calloc(1, sizeof(Sbom));
        if (!s)
                return 0;
        r = sbom_parse_dpkg_status(s, (const char *) data + 1, size - 1,
                                   data[0] & 1 ? "var/lib/dpkg/status.d/x" : "var/lib/dpkg/status");
        if (r < 0 && r != -ENOMEM && r != -E2BIG)
                abort();
        for (size_t i = 0; i < s->n_components; i++) {
                const SbomComponent *c = &s->components[i];

                if (!c->name[0] || !c->version[0] || !c->purl ||
                    strncmp(c->purl, "pkg:deb/debian/", 15) != 0)
                        abort();
        }
        sbom_free(s);
        return 0;
}
