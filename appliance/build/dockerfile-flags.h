/* Dockerfile instruction flags: the per-instruction table of known flags and the reader of the leading
 * --flags of an instruction (internal to the parser). */
#pragma once

#include <stddef.h>

#include "dockerfile-ast.h"

typedef struct Parser Parser;

/* Leading --flags of an instruction (Docker's extractBuilderFlags: quotes removed, '\' escapes, "--"
 * ends the flags), stored in in->flags. *ret_rest: the offset in s where the arguments start. */
int parse_flags(Parser *p, DockerfileInstruction *in, const char *kw, const char *s, size_t base,
                size_t *ret_rest);
