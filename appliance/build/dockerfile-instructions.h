/* Dockerfile instructions: the per-instruction parsers behind parse_instruction() (internal to the parser),
 * and the instruction-level checks the builder shares (EXPOSE ports, remote ADD sources). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "dockerfile-ast.h"

typedef struct Parser Parser;

/* EXPOSE syntax: PORT, PORT/PROTO or FIRST-LAST[/PROTO]; ports 1…65535, protocol tcp, udp or sctp. */
bool dockerfile_expose_port_is_valid(const char *s);

/* True when s names a remote source (http://, https://, git@…, git://, ssh://), which ADD refuses. */
bool dockerfile_source_is_remote(const char *s);
#define DOCKERFILE_ADD_URL_MESSAGE                                                                        \
        "ADD from a URL is not supported: Slipway builds without network access; download the file into " \
        "the build context and ADD it from there."

/* Parses the instruction starting at kw_offset of p->ll into in. trigger: an ONBUILD trigger (ONBUILD,
 * FROM and MAINTAINER are refused). */
int parse_instruction(Parser *p, DockerfileInstruction *in, size_t kw_offset, bool trigger);
