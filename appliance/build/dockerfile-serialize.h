/* Canonical serialisation of a Dockerfile instruction (the build cache key of an expanded instruction). */
#pragma once

#include "dockerfile-ast.h"

/* Canonical, stable serialisation of an instruction's meaning (kind, sorted flags, form, arguments,
 * pairs, healthcheck, trigger) as compact JSON with sorted keys; line numbers and spelling (case,
 * whitespace, continuations) do not enter it. Meant for the build cache key of an expanded instruction. */
int dockerfile_instruction_serialize(const DockerfileInstruction *i, char **ret);
