/* libFuzzer target for component descriptors: the input's first byte picks the shape (component.yaml,
 * component-config.yaml, endpoints.yaml), the rest is the file.  A refusal must name a place inside the input
 * and a sentence; an accepted descriptor must map onto a spec the API's own parser takes back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "descriptor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        DescriptorError e = {};
        Descriptor *d = NULL;
        DescriptorFormat f;
        ComponentSpec s, again;
        int r;

        if (size < 1 || size > DESCRIPTOR_FILE_MAX + 1)
                return 0;
        f = (DescriptorFormat) (data[0] % _DESCRIPTOR_FORMAT_MAX);
        r = descriptor_parse(f, NULL, (const char *) data + 1, size - 1, &d, &e);
        if (r < 0) {
                if (r != -EINVAL && r != -ENOMEM)
                        abort();
                if (r == -EINVAL && (e.message[0] == 0 || !strstr(e.text, e.message)))
                        abort();
                return 0;
        }
        if (d->n_endpoints > DESCRIPTOR_ENDPOINTS_MAX || d->n_configs > DESCRIPTOR_CONFIGS_MAX)
                abort();
        if (descriptor_to_spec(d, &s, &e) != 0)
                abort(); /* descriptor_parse promises a parsed descriptor maps */
        char *j = component_spec_format(&s);
        if (j) {
                if (component_spec_parse(j, &again, NULL) != 0 || again.n_endpoints != s.n_endpoints ||
                    again.n_configs != s.n_configs)
                        abort();
                free(j);
        }
        descriptor_free(d);
        return 0;
}
