/* Helpers the Dockerfile unit tests share (test-dockerfile-parser.c, test-dockerfile-scope.c): a parse that
 * must succeed, and stops the test with the error and the input when it does not. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile-parser.h"

static inline Dockerfile *parse_ok(const char *text) {
        DockerfileError err = {};
        Dockerfile *df = NULL;
        char buf[1024];
        int r;

        r = dockerfile_parse(text, strlen(text), "Dockerfile", &df, &err);
        if (r < 0) {
                fprintf(stderr, "unexpected parse error %d: %s\n--- input:\n%s\n", r,
                        dockerfile_error_format(&err, buf, sizeof buf), text);
                exit(1);
        }
        return df;
}
