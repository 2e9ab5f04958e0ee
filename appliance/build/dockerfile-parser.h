/* Dockerfile parser: text → AST of global ARGs and build stages, following Docker's (BuildKit's) grammar.
 * The AST holds arguments exactly as written (quotes and $VARs intact, continuations joined); variable
 * expansion happens later per stage (dockerfile-expand.h). Heredocs (RUN/COPY/ADD <<EOF) keep their bodies in
 * the instruction (dockerfile-heredoc.h). Parsing never touches the file system or the network. */
#pragma once

#include <stddef.h>

/* Limits on user input. */
#define DOCKERFILE_SIZE_MAX (1024U * 1024U)                   /* bytes of Dockerfile text */
#define DOCKERFILE_INSTRUCTIONS_MAX 10000U                    /* instructions in one file */
#define DOCKERFILE_EXPANSION_MAX (256U * 1024U)               /* bytes one word may expand to */
#define DOCKERFILE_EXPANSION_DEPTH_MAX 32U                    /* nesting of ${a:-${b:-…}} */
#define DOCKERFILE_HEREDOC_EXPANSION_MAX (4U * 1024U * 1024U) /* bytes a COPY heredoc body expands to */

#include "dockerfile-ast.h"
#include "dockerfile-instructions.h"
#include "dockerfile-serialize.h"

/* Parses data (not NUL-terminated necessarily) named filename (used in messages, e.g. "Dockerfile").
 * Returns 0, -EBADMSG for bad input (err filled), -EFBIG when above DOCKERFILE_SIZE_MAX (err filled),
 * -ENOMEM. err may be NULL. */
int dockerfile_parse(const char *data, size_t size, const char *filename, Dockerfile **ret,
                     DockerfileError *err);

/* Parses one instruction line on its own (used for ONBUILD triggers found in base images).
 * ONBUILD, FROM and MAINTAINER are refused as triggers. */
int dockerfile_parse_trigger(const char *text, char escape, const char *filename,
                             DockerfileInstruction **ret, DockerfileError *err);
