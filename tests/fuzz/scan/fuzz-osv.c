/* Fuzz target for appliance/scan's OSV reader: any bytes are parsed, and every affected entry it keeps is
 * matched against a few versions of its own scheme (the range evaluation must neither crash nor leak). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "osv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const probes[] = { "0.0.1", "1.0.0", "1.2.3-r1", "2:1.0-1", "1.0rc1" };
        OsvEntry *e = NULL;
        char *error = NULL;

        if (osv_parse((const char *) data, size, &e, &error) >= 0) {
                for (size_t i = 0; i < e->n_affected; i++)
                        for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
                                bool hit;
                                char *fixed = NULL;
                                if (osv_affected_match(&e->affected[i], probes[k], &hit, &fixed) >= 0)
                                        free(fixed);
                        }
        }
        osv_entry_free(e);
        free(error);
        return 0;
}
