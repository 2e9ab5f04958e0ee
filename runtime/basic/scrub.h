/* Secret scrubbing: every occurrence of a known secret byte string in a text becomes "[secret KEY]".
 * Invariant: at each position the longest secret that matches wins, and a stream fed in pieces gives
 * exactly what the whole text at once gives (an occurrence split across pieces is held back until it
 * can be decided), so no secret survives a buffer boundary. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* Shorter secrets are not scrubbed: replacing every "a" or "12" of a log would wreck it and, by the
 * gaps, tell the secret anyway.  Such a value is a bad secret; the caller may say so. */
#define SCRUB_SECRET_MIN 4U
/* A stream holds back at most the longest secret less one byte; values are far smaller (the vault's
 * limit is 64 KiB a value). */
#define SCRUB_SECRET_MAX (1024U * 1024U)
#define SCRUB_SECRETS_MAX 4096U
#define SCRUB_KEY_MAX 256U

typedef struct Scrubber Scrubber;

int scrubber_new(Scrubber **ret);
/* Wipes the copies of the secrets. */
Scrubber *scrubber_free(Scrubber *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Scrubber *, scrubber_free);

/* Adds a copy of secret (size bytes, any content) under key.  Returns 1 when added, 0 when it is too
 * short (< SCRUB_SECRET_MIN) or already known (the first key is kept); -E2BIG past SCRUB_SECRETS_MAX or
 * for a secret longer than SCRUB_SECRET_MAX, -EINVAL for a key longer than SCRUB_KEY_MAX.  A secret ending in a newline is also known without it
 * (how a file's content shows when a program prints it line by line). */
int scrubber_add(Scrubber *s, const char *key, const void *secret, size_t size);
/* How many secrets it knows; 0 for NULL. */
size_t scrubber_count(const Scrubber *s);

/* The whole text (n bytes) scrubbed into a new NUL-terminated string (*ret_n: its length, may be NULL).
 * A NULL or empty scrubber copies. */
int scrubber_text(const Scrubber *s, const char *text, size_t n, char **ret, size_t *ret_n);
/* Replaces the malloc'ed string *text (may be NULL) by its scrubbed copy; nothing changes on failure. */
int scrubber_string(const Scrubber *s, char **text);

/* A stream scrubbed piece by piece: what could be the start of a secret waits for the next piece. */
typedef struct ScrubStream {
        const Scrubber *scrubber;
        char *held;
        size_t n_held;
} ScrubStream;

#define SCRUB_STREAM_INIT(s) ((ScrubStream) { .scrubber = (s) })

/* Scrubs held bytes + data (n bytes) into a new string *ret (*ret_n its length, may be "").  last: the
 * stream ends here, nothing is held back. */
int scrub_stream_feed(ScrubStream *st, const char *data, size_t n, bool last, char **ret, size_t *ret_n);
/* Wipes and frees what is held. */
void scrub_stream_done(ScrubStream *st);
