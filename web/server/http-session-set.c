/* The in-memory session set of http-session-set.h: an array of entries under a writer-preferring rwlock.
 * A lookup compares the candidate's hash with every entry (no early exit).  The last-use stamps change
 * under the read lock, with atomics. */
#include "http-session-set.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

typedef struct SessionEntry {
        unsigned char hash[HTTP_TOKEN_HASH_SIZE];
        HttpSession sess;
        int64_t last_seen_at;    /* atomic: the idle timeout counts from here */
        int64_t last_written_at; /* atomic: the last use written back */
} SessionEntry;

struct HttpSessionSet {
        pthread_rwlock_t lock;
        SessionEntry *entries;
        size_t n, cap;
        int64_t idle_sec;
};

int http_session_set_new(int64_t idle_sec, HttpSessionSet **ret) {
        HttpSessionSet *s = calloc(1, sizeof *s);
        pthread_rwlockattr_t attr;
        int r;

        if (!s)
                return -ENOMEM;
        if (pthread_rwlockattr_init(&attr) != 0) {
                free(s);
                return -ENOMEM;
        }
        /* logins and logouts must not starve behind a busy console */
        (void) pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        r = pthread_rwlock_init(&s->lock, &attr);
        pthread_rwlockattr_destroy(&attr);
        if (r != 0) {
                free(s);
                return -ENOMEM;
        }
        s->idle_sec = idle_sec > 0 ? idle_sec : HTTP_SESSION_IDLE_SEC;
        *ret = s;
        return 0;
}

HttpSessionSet *http_session_set_free(HttpSessionSet *s) {
        if (!s)
                return NULL;
        if (s->entries)
                sodium_memzero(s->entries, s->cap * sizeof *s->entries);
        free(s->entries);
        pthread_rwlock_destroy(&s->lock);
        free(s);
        return NULL;
}

int64_t http_session_set_idle_sec(HttpSessionSet *s) {
        return s->idle_sec;
}

static ssize_t find_id(HttpSessionSet *s, int64_t session_id) {
        for (size_t i = 0; i < s->n; i++)
                if (s->entries[i].sess.session_id == session_id)
                        return (ssize_t) i;
        return -1;
}

/* Drops entry i, under the write lock. */
static void remove_at(HttpSessionSet *s, size_t i) {
        s->entries[i] = s->entries[s->n - 1];
        sodium_memzero(&s->entries[s->n - 1], sizeof s->entries[0]);
        s->n--;
}

int http_session_set_put(HttpSessionSet *s, const unsigned char hash[HTTP_TOKEN_HASH_SIZE],
                         const HttpSession *sess, int64_t last_seen_at) {
        SessionEntry e = { .sess = *sess, .last_seen_at = last_seen_at, .last_written_at = last_seen_at };
        ssize_t i;
        int r = 0;

        if (!http_role_to_string(sess->role) || sess->session_id <= 0 || sess->user[0] == 0 ||
            strnlen(sess->user, sizeof sess->user) >= sizeof sess->user ||
            strnlen(sess->csrf_token, sizeof sess->csrf_token) != HTTP_SESSION_CSRF_LEN)
                return -EINVAL;
        memcpy(e.hash, hash, HTTP_TOKEN_HASH_SIZE);
        pthread_rwlock_wrlock(&s->lock);
        i = find_id(s, sess->session_id);
        if (i < 0 && s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 16;
                SessionEntry *p = calloc(cap, sizeof *p);

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

int http_session_set_remove(HttpSessionSet *s, int64_t session_id) {
        ssize_t i;

        pthread_rwlock_wrlock(&s->lock);
        i = find_id(s, session_id);
        if (i >= 0)
                remove_at(s, (size_t) i);
        pthread_rwlock_unlock(&s->lock);
        return i >= 0 ? 0 : -ENOENT;
}

size_t http_session_set_remove_user(HttpSessionSet *s, const char *user, int64_t keep_id) {
        size_t removed = 0;

        pthread_rwlock_wrlock(&s->lock);
        for (size_t i = 0; i < s->n;) {
                if (strcmp(s->entries[i].sess.user, user) != 0 || s->entries[i].sess.session_id == keep_id) {
                        i++;
                        continue;
                }
                remove_at(s, i);
                removed++;
        }
        pthread_rwlock_unlock(&s->lock);
        return removed;
}

size_t http_session_set_size(HttpSessionSet *s) {
        size_t n;

        pthread_rwlock_rdlock(&s->lock);
        n = s->n;
        pthread_rwlock_unlock(&s->lock);
        return n;
}

int http_session_set_find(HttpSessionSet *s, const unsigned char hash[HTTP_TOKEN_HASH_SIZE], int64_t now,
                          HttpSession *ret) {
        ssize_t found = -1;
        int r = -ENOKEY;

        pthread_rwlock_rdlock(&s->lock);
        for (size_t i = 0; i < s->n; i++)
                if (sodium_memcmp(s->entries[i].hash, hash, HTTP_TOKEN_HASH_SIZE) == 0)
                        found = (ssize_t) i;
        if (found >= 0) {
                SessionEntry *e = &s->entries[found];
                int64_t seen = __atomic_load_n(&e->last_seen_at, __ATOMIC_RELAXED);

                if (now >= e->sess.expires_at || now - seen >= s->idle_sec)
                        r = -EKEYEXPIRED;
                else {
                        /* forward only: a thread with an older clock reading never moves it back */
                        while (seen < now &&
                               !__atomic_compare_exchange_n(&e->last_seen_at, &seen, now, false,
                                                            __ATOMIC_RELAXED, __ATOMIC_RELAXED))
                                ;
                        *ret = e->sess;
                        r = 0;
                }
        }
        pthread_rwlock_unlock(&s->lock);
        return r;
}

bool http_session_set_touch_due(HttpSessionSet *s, int64_t session_id, int64_t now) {
        bool due = false;
        ssize_t i;

        pthread_rwlock_rdlock(&s->lock);
        i = find_id(s, session_id);
        if (i >= 0) {
                int64_t *p = &s->entries[i].last_written_at;
                int64_t last = __atomic_load_n(p, __ATOMIC_RELAXED);

                /* well within the idle timeout, so a restart finds the session alive as it was */
                int64_t interval =
                        MAX((int64_t) 1, MIN((int64_t) HTTP_SESSION_TOUCH_INTERVAL_SEC, s->idle_sec / 4));

                due = now - last >= interval &&
                      __atomic_compare_exchange_n(p, &last, now, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
        }
        pthread_rwlock_unlock(&s->lock);
        return due;
}
