/* libFuzzer target for .dockerignore: parse the input as patterns, then match each of its lines as a path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockerignore.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        DockerIgnore *di = NULL;
        DockerfileError err;
        char *copy, *line, *save = NULL;

        if (size > 64 * 1024)
                return 0;
        if (dockerignore_parse((const char *) data, size, NULL, &di, &err) < 0)
                return 0;
        copy = strndup((const char *) data, size);
        if (copy) {
                for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                        (void) dockerignore_match(di, line, false);
                        (void) dockerignore_should_descend(di, line);
                }
                free(copy);
        }
        dockerignore_free(di);
        return 0;
}
