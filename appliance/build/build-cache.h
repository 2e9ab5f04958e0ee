/* The build cache: one sqlite row per executed step, keyed by a hash of everything the step's result
 * depends on, holding the stage state after it.  Invariant: a hit is only reported when every layer blob
 * the state references is still in the store (gc does not treat cache rows as roots). */
#pragma once

#include <jansson.h>

#include "build-job.h"

/* key = sha256(parent "\n" instruction "\n" args… "\n" extra). extra may be NULL. */
void build_cache_key(const char *parent, const char *instruction, char *const *args, const char *extra,
                     char ret[static DIGEST_STRING_MAX]);

/* 0 and the state on a hit, -ENOENT on a miss. */
int build_cache_get(Builder *b, const char *key, json_t **ret_state);
int build_cache_put(Builder *b, const char *key, json_t *state, const char *layer_digest);
