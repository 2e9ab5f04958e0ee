/* The in-memory token set of http-token-set.h, on HashedEntries (the array, its lock, the constant-time
 * lookup).  The last-use stamp changes under the read lock, with atomics. */
#include "http-token-set.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "hashed-entries.h"

typedef struct TokenEntry {
        unsigned char hash[HTTP_TOKEN_HASH_SIZE]; /* first, as HashedEntries wants */
        HttpIdentity id;
        int64_t last_used_at; /* atomic */
} TokenEntry;

struct HttpTokenSet {
        HashedEntries t;
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
        int r;

        if (!s)
                return -ENOMEM;
        r = hashed_entries_init(&s->t, sizeof(TokenEntry));
        if (r < 0) {
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

HttpTokenSet *http_token_set_free(HttpTokenSet *s) {
        if (!s)
                return NULL;
        hashed_entries_done(&s->t);
        free(s);
        return NULL;
}

static TokenEntry *entry_at(HttpTokenSet *s, size_t i) {
        return hashed_entries_at(&s->t, i);
}

/* The index of token_id, or -1; under either lock. */
static ssize_t find_id(HttpTokenSet *s, int64_t token_id) {
        for (size_t i = 0; i < s->t.n; i++)
                if (entry_at(s, i)->id.token_id == token_id)
                        return (ssize_t) i;
        return -1;
}

int http_token_set_put(HttpTokenSet *s, const unsigned char hash[HTTP_TOKEN_HASH_SIZE],
                       const HttpIdentity *id, int64_t last_used_at) {
        TokenEntry e = { .id = *id, .last_used_at = last_used_at };
        int r;

        if (!http_role_to_string(id->role) || strnlen(id->user, sizeof id->user) >= sizeof id->user ||
            id->user[0] == 0)
                return -EINVAL;
        memcpy(e.hash, hash, HTTP_TOKEN_HASH_SIZE);
        pthread_rwlock_wrlock(&s->t.lock);
        r = hashed_entries_store(&s->t, find_id(s, id->token_id), &e);
        pthread_rwlock_unlock(&s->t.lock);
        sodium_memzero(&e, sizeof e);
        return r;
}

int http_token_set_remove(HttpTokenSet *s, int64_t token_id) {
        ssize_t i;

        pthread_rwlock_wrlock(&s->t.lock);
        i = find_id(s, token_id);
        if (i >= 0)
                hashed_entries_remove_at(&s->t, (size_t) i);
        pthread_rwlock_unlock(&s->t.lock);
        return i >= 0 ? 0 : -ENOENT;
}

static bool is_users(const void *entry, void *userdata) {
        return strcmp(((const TokenEntry *) entry)->id.user, userdata) == 0;
}

size_t http_token_set_remove_user(HttpTokenSet *s, const char *user) {
        return hashed_entries_remove_if(&s->t, is_users, (void *) user);
}

size_t http_token_set_size(HttpTokenSet *s) {
        return hashed_entries_count(&s->t);
}

int http_token_set_find(HttpTokenSet *s, const unsigned char hash[HTTP_TOKEN_HASH_SIZE], int64_t now,
                        HttpIdentity *ret) {
        ssize_t found;
        int r = -ENOKEY;

        pthread_rwlock_rdlock(&s->t.lock);
        found = hashed_entries_find(&s->t, hash);
        if (found >= 0) {
                const HttpIdentity *id = &entry_at(s, (size_t) found)->id;

                if (id->expires_at > 0 && now >= id->expires_at)
                        r = -EKEYEXPIRED;
                else {
                        *ret = *id;
                        r = 0;
                }
        }
        pthread_rwlock_unlock(&s->t.lock);
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

        pthread_rwlock_rdlock(&s->t.lock);
        i = find_id(s, token_id);
        if (i >= 0) {
                int64_t *p = &entry_at(s, (size_t) i)->last_used_at;
                int64_t last = __atomic_load_n(p, __ATOMIC_RELAXED);

                /* only one of the threads that see it due wins, and writes it back */
                due = now - last >= HTTP_TOKEN_TOUCH_INTERVAL_SEC &&
                      __atomic_compare_exchange_n(p, &last, now, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
        }
        pthread_rwlock_unlock(&s->t.lock);
        return due;
}
