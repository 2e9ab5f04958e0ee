/* The in-memory token set of http-token-set.h: an array of entries under a pthread rwlock.  A lookup
 * compares the candidate's hash with every entry (no early exit), so its time depends on the number of
 * tokens only.  The last-use stamp changes under the read lock, with atomics. */
#include "http-token-set.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

typedef struct TokenEntry {
        unsigned char hash[HTTP_TOKEN_HASH_SIZE];
        HttpIdentity id;
        int64_t last_used_at; /* atomic */
} TokenEntry;

struct HttpTokenSet {
        pthread_rwlock_t lock;
        TokenEntry *entries;
        size_t n, cap;
};

static const char *const role_names[_HTTP_ROLE_MAX] = {
        [HTTP_ROLE_ADMIN] = "admin",
        [HTTP_ROLE_DEVELOPER] = "developer",
        [HTTP_ROLE_VIEWER] = "viewer",
};

const char *http_role_to_string(HttpRole r) {
        return r >= 0 && r < _HTTP_ROLE_MAX ? role_names[r] : NULL;
}

HttpRole http_role_from_string(const char *s) {
        for (int i = 0; s && i < _HTTP_ROLE_MAX; i++)
                if (strcmp(s, role_names[i]) == 0)
                        return (HttpRole) i;
        return _HTTP_ROLE_INVALID;
}

int http_token_set_new(HttpTokenSet **ret) {
        HttpTokenSet *s = calloc(1, sizeof *s);
        pthread_rwlockattr_t attr;
        int r;

        if (!s)
                return -ENOMEM;
        /* glibc's default prefers readers: a busy API would starve a token create or revoke forever */
        if (pthread_rwlockattr_init(&attr) != 0) {
                free(s);
                return -ENOMEM;
        }
        (void) pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        r = pthread_rwlock_init(&s->lock, &attr);
        pthread_rwlockattr_destroy(&attr);
        if (r != 0) {
                free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

HttpTokenSet *http_token_set_free(HttpTokenSet *s) {
        if (!s)
                return NULL;
        if (s->entries)
                sodium_memzero(s->entries, s->cap * sizeof *s->entries);
        free(s->entries);
        pthread_rwlock_destroy(&s->lock);
        free(s);
        return NULL;
}

/* The index of token_id, or -1; under either lock. */
static ssize_t find_id(HttpTokenSet *s, int64_t token_id) {
        for (size_t i = 0; i < s->n; i++)
                if (s->entries[i].id.token_id == token_id)
                        return (ssize_t) i;
        return -1;
}

int http_token_set_put(HttpTokenSet *s, const unsigned char hash[HTTP_TOKEN_HASH_SIZE],
                       const HttpIdentity *id, int64_t last_used_at) {
        TokenEntry e = { .id = *id, .last_used_at = last_used_at };
        ssize_t i;
        int r = 0;

        if (!http_role_to_string(id->role) || strnlen(id->user, sizeof id->user) >= sizeof id->user ||
            id->user[0] == 0)
                return -EINVAL;
        memcpy(e.hash, hash, HTTP_TOKEN_HASH_SIZE);
        pthread_rwlock_wrlock(&s->lock);
        i = find_id(s, id->token_id);
        if (i < 0 && s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 16;
                TokenEntry *p = calloc(cap, sizeof *p);

                /* a new array rather than realloc(), so the old one can be erased */
                if (!p)
                        r = -ENOMEM;
                else {
                        if (s->entries) {
                                memcpy(p, s->entries, s->n * sizeof *p);
                                sodium_memzero(s->entries, s->cap * sizeof *s->entries);
                                free(s->entries);
                        }
                        s->entries = p;
                        s->cap = cap;
                }
        }
        if (r >= 0)
                s->entries[i >= 0 ? (size_t) i : s->n++] = e;
        pthread_rwlock_unlock(&s->lock);
        sodium_memzero(&e, sizeof e);
        return r;
}

int http_token_set_remove(HttpTokenSet *s, int64_t token_id) {
        ssize_t i;

        pthread_rwlock_wrlock(&s->lock);
        i = find_id(s, token_id);
        if (i >= 0) {
                s->entries[i] = s->entries[s->n - 1];
                sodium_memzero(&s->entries[s->n - 1], sizeof s->entries[0]);
                s->n--;
        }
        pthread_rwlock_unlock(&s->lock);
        return i >= 0 ? 0 : -ENOENT;
}

size_t http_token_set_remove_user(HttpTokenSet *s, const char *user) {
        size_t removed = 0;

        pthread_rwlock_wrlock(&s->lock);
        for (size_t i = 0; i < s->n;) {
                if (strcmp(s->entries[i].id.user, user) != 0) {
                        i++;
                        continue;
                }
                s->entries[i] = s->entries[s->n - 1];
                sodium_memzero(&s->entries[s->n - 1], sizeof s->entries[0]);
                s->n--;
                removed++;
        }
        pthread_rwlock_unlock(&s->lock);
        return removed;
}

size_t http_token_set_size(HttpTokenSet *s) {
        size_t n;

        pthread_rwlock_rdlock(&s->lock);
        n = s->n;
        pthread_rwlock_unlock(&s->lock);
        return n;
}

int http_token_set_find(HttpTokenSet *s, const unsigned char hash[HTTP_TOKEN_HASH_SIZE], int64_t now,
                        HttpIdentity *ret) {
        ssize_t found = -1;
        int r = -ENOKEY;

        pthread_rwlock_rdlock(&s->lock);
        for (size_t i = 0; i < s->n; i++)
                if (sodium_memcmp(s->entries[i].hash, hash, HTTP_TOKEN_HASH_SIZE) == 0)
                        found = (ssize_t) i;
        if (found >= 0) {
                const HttpIdentity *id = &s->entries[found].id;

                if (id->expires_at > 0 && now >= id->expires_at)
                        r = -EKEYEXPIRED;
                else {
                        *ret = *id;
                        r = 0;
                }
        }
        pthread_rwlock_unlock(&s->lock);
        return r;
}

int http_token_set_check(HttpTokenSet *s, const char *value, size_t len, bool basic_ok, int64_t now,
                         HttpIdentity *ret) {
        unsigned char h[HTTP_TOKEN_HASH_SIZE];
        HttpBasicCredentials basic;
        HttpIdentity id;
        const char *t;
        size_t tl;
        int r;

        if (http_token_parse_bearer(value, len, &t, &tl)) {
                http_token_hash(t, tl, h);
                r = http_token_set_find(s, h, now, &id);
        } else if (basic_ok && http_token_parse_basic(value, len, &basic)) {
                http_token_hash(basic.password, basic.password_len, h);
                r = http_token_set_find(s, h, now, &id);
                /* The token must be this user's: admin's token with another name is no login. */
                if (r >= 0 &&
                    (basic.user_len != strlen(id.user) || memcmp(basic.user, id.user, basic.user_len) != 0))
                        r = -ENOKEY;
                http_basic_done(&basic);
        } else
                return -ENOKEY;
        sodium_memzero(h, sizeof h);
        if (r >= 0)
                *ret = id;
        return r;
}

bool http_token_set_touch(HttpTokenSet *s, int64_t token_id, int64_t now) {
        bool due = false;
        ssize_t i;

        pthread_rwlock_rdlock(&s->lock);
        i = find_id(s, token_id);
        if (i >= 0) {
                int64_t *p = &s->entries[i].last_used_at;
                int64_t last = __atomic_load_n(p, __ATOMIC_RELAXED);

                /* only one of the threads that see it due wins, and writes it back */
                due = now - last >= HTTP_TOKEN_TOUCH_INTERVAL_SEC &&
                      __atomic_compare_exchange_n(p, &last, now, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
        }
        pthread_rwlock_unlock(&s->lock);
        return due;
}
