/* Secret scrubbing (scrub.h): a position-by-position scan, longest secret first, with a table of the
 * bytes secrets start with so most positions cost one lookup.  Invariant: the copies of the secrets and
 * any bytes a stream holds back are wiped before their memory is freed. */
#include "scrub.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ScrubSecret {
        char *data;
        size_t size;
        char *replacement; /* "[secret KEY]" */
        size_t replacement_size;
} ScrubSecret;

struct Scrubber {
        ScrubSecret *secrets; /* longest first */
        size_t n_secrets;
        size_t longest;
        bool first_byte[256];
};

int scrubber_new(Scrubber **ret) {
        Scrubber *s = calloc(1, sizeof *s);

        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static void wipe_free(char *p, size_t n) {
        if (!p)
                return;
        explicit_bzero(p, n);
        free(p);
}

Scrubber *scrubber_free(Scrubber *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_secrets; i++) {
                wipe_free(s->secrets[i].data, s->secrets[i].size);
                free(s->secrets[i].replacement);
        }
        free(s->secrets);
        free(s);
        return NULL;
}

size_t scrubber_count(const Scrubber *s) {
        return s ? s->n_secrets : 0;
}

static int add_one(Scrubber *s, const char *key, const char *secret, size_t size) {
        ScrubSecret *n, e = {};
        size_t at;

        if (size < SCRUB_SECRET_MIN)
                return 0;
        if (size > SCRUB_SECRET_MAX)
                return -E2BIG;
        for (size_t i = 0; i < s->n_secrets; i++)
                if (s->secrets[i].size == size && memcmp(s->secrets[i].data, secret, size) == 0)
                        return 0;
        if (s->n_secrets >= SCRUB_SECRETS_MAX)
                return -E2BIG;
        n = reallocarray(s->secrets, s->n_secrets + 1, sizeof *n);
        if (!n)
                return -ENOMEM;
        s->secrets = n;
        e.data = malloc(size);
        if (!e.data)
                return -ENOMEM;
        memcpy(e.data, secret, size);
        e.size = size;
        if (asprintf(&e.replacement, "[secret %s]", key) < 0) {
                wipe_free(e.data, size);
                return -ENOMEM;
        }
        e.replacement_size = strlen(e.replacement);
        /* Keep longest first; among equals, the order they came in. */
        for (at = 0; at < s->n_secrets && s->secrets[at].size >= size; at++)
                ;
        memmove(s->secrets + at + 1, s->secrets + at, (s->n_secrets - at) * sizeof *s->secrets);
        s->secrets[at] = e;
        s->n_secrets++;
        s->longest = MAX(s->longest, size);
        s->first_byte[(unsigned char) secret[0]] = true;
        return 1;
}

int scrubber_add(Scrubber *s, const char *key, const void *secret, size_t size) {
        const char *p = secret;
        int r, k = 0;

        if (!s || !key || (!secret && size > 0))
                return -EINVAL;
        if (strlen(key) > SCRUB_KEY_MAX)
                return -EINVAL;
        r = add_one(s, key, p, size);
        if (r < 0)
                return r;
        /* The content of a file usually ends in a newline that a program printing it drops. */
        size_t trimmed = size;
        while (trimmed > 0 && (p[trimmed - 1] == '\n' || p[trimmed - 1] == '\r'))
                trimmed--;
        if (trimmed != size)
                k = add_one(s, key, p, trimmed);
        if (k < 0)
                return k;
        return r > 0 || k > 0;
}

typedef struct Out {
        char *data;
        size_t size, allocated;
} Out;

static int out_append(Out *o, const char *p, size_t n) {
        if (o->size + n + 1 > o->allocated) {
                size_t want = MAX(o->allocated * 2, o->size + n + 1);
                char *d;

                want = MAX(want, (size_t) 64);
                d = malloc(want);
                if (!d)
                        return -ENOMEM;
                if (o->data) {
                        memcpy(d, o->data, o->size);
                        /* The text passed through may hold what a secret's prefix looked like. */
                        wipe_free(o->data, o->allocated);
                }
                o->data = d;
                o->allocated = want;
        }
        memcpy(o->data + o->size, p, n);
        o->size += n;
        o->data[o->size] = 0;
        return 0;
}

/* Scrubs buf[0..n) into o.  Unless last, stops at the first position where a secret matches as far as
 * the buffer goes but the buffer ends first; *ret_consumed says where. */
static int scan(const Scrubber *s, const char *buf, size_t n, bool last, Out *o, size_t *ret_consumed) {
        size_t i = 0, plain = 0; /* buf[plain..i) is text no secret starts in, not yet copied */
        int r;

        while (i < n) {
                const ScrubSecret *hit = NULL;
                bool partial = false;

                if (s->first_byte[(unsigned char) buf[i]])
                        for (size_t k = 0; k < s->n_secrets; k++) {
                                const ScrubSecret *e = &s->secrets[k];

                                if (e->size <= n - i) {
                                        if (memcmp(buf + i, e->data, e->size) == 0) {
                                                hit = e;
                                                break;
                                        }
                                } else if (!last && memcmp(buf + i, e->data, n - i) == 0) {
                                        /* A longer secret may still complete: decide with more data. */
                                        partial = true;
                                        break;
                                }
                        }
                if (!hit && !partial) {
                        i++;
                        continue;
                }
                r = out_append(o, buf + plain, i - plain);
                if (r < 0)
                        return r;
                if (partial) {
                        *ret_consumed = i;
                        return 0;
                }
                r = out_append(o, hit->replacement, hit->replacement_size);
                if (r < 0)
                        return r;
                i += hit->size;
                plain = i;
        }
        r = out_append(o, buf + plain, n - plain);
        if (r < 0)
                return r;
        *ret_consumed = n;
        return 0;
}

int scrubber_text(const Scrubber *s, const char *text, size_t n, char **ret, size_t *ret_n) {
        Out o = {};
        size_t consumed;
        int r;

        if (!s || s->n_secrets == 0) {
                r = out_append(&o, text ?: "", text ? n : 0);
        } else
                r = scan(s, text, n, true, &o, &consumed);
        if (r >= 0 && !o.data)
                r = out_append(&o, "", 0);
        if (r < 0) {
                wipe_free(o.data, o.allocated);
                return r;
        }
        if (ret_n)
                *ret_n = o.size;
        *ret = o.data;
        return 0;
}

int scrubber_string(const Scrubber *s, char **text) {
        char *n = NULL;
        int r;

        if (!*text || scrubber_count(s) == 0)
                return 0;
        r = scrubber_text(s, *text, strlen(*text), &n, NULL);
        if (r < 0)
                return r;
        wipe_free(*text, strlen(*text));
        *text = n;
        return 0;
}

int scrub_stream_feed(ScrubStream *st, const char *data, size_t n, bool last, char **ret, size_t *ret_n) {
        Out o = {};
        _cleanup_free_ char *joined = NULL;
        const char *buf = data ?: "";
        size_t size = data ? n : 0, consumed = 0;
        int r;

        if (scrubber_count(st->scrubber) == 0 && st->n_held == 0)
                return scrubber_text(NULL, buf, size, ret, ret_n);
        if (st->n_held > 0) {
                joined = malloc(st->n_held + size + 1);
                if (!joined)
                        return -ENOMEM;
                memcpy(joined, st->held, st->n_held);
                memcpy(joined + st->n_held, buf, size);
                size += st->n_held;
                buf = joined;
        }
        if (scrubber_count(st->scrubber) == 0) {
                r = out_append(&o, buf, size);
                consumed = size;
        } else
                r = scan(st->scrubber, buf, size, last, &o, &consumed);
        if (r >= 0 && !o.data)
                r = out_append(&o, "", 0);
        if (r < 0) {
                wipe_free(o.data, o.allocated);
                if (joined)
                        explicit_bzero(joined, size);
                return r;
        }
        /* What is held now is what scan left: at most the longest secret less one byte. */
        char *held = NULL;
        if (consumed < size) {
                held = malloc(size - consumed);
                if (!held) {
                        wipe_free(o.data, o.allocated);
                        if (joined)
                                explicit_bzero(joined, size);
                        return -ENOMEM;
                }
                memcpy(held, buf + consumed, size - consumed);
        }
        if (joined)
                explicit_bzero(joined, size);
        wipe_free(st->held, st->n_held);
        st->held = held;
        st->n_held = size - consumed;
        if (ret_n)
                *ret_n = o.size;
        *ret = o.data;
        return 0;
}

void scrub_stream_done(ScrubStream *st) {
        wipe_free(st->held, st->n_held);
        st->held = NULL;
        st->n_held = 0;
}
