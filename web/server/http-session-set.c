/* The in-memory session set of http-session-set.h, on HashedEntries (the array, its lock, the
 * constant-time lookup).  The last-use stamps change under the read lock, with atomics. */
#include "http-session-set.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "hashed-entries.h"

typedef struct SessionEntry {
        unsigned char hash[HTTP_TOKEN_HASH_SIZE]; /* first, as HashedEntries wants */
        HttpSession sess;
        int64_t last_seen_at;    /* atomic: the idle timeout counts from here */
        int64_t last_written_at; /* atomic: the last use written back */
} SessionEntry;

struct HttpSessionSet {
        HashedEntries t;
        int64_t idle_sec;
};

int http_session_set_new(int64_t idle_sec, HttpSessionSet **ret) {
        HttpSessionSet *s = calloc(1, sizeof *s);
        int r;

        if (!s)
                return -ENOMEM;
        r = hashed_entries_init(&s->t, sizeof(SessionEntry));
        if (r < 0) {
                free(s);
                return r;
        }
        s->idle_sec = idle_sec > 0 ? idle_sec : HTTP_SESSION_IDLE_SEC;
        *ret = s;
        return 0;
}

HttpSessionSet *http_session_set_free(HttpSessionSet *s) {
        if (!s)
                return NULL;
        hashed_entries_done(&s->t);
        free(s);
        return NULL;
}

int64_t http_session_set_idle_sec(HttpSessionSet *s) {
        return s->idle_sec;
}

static SessionEntry *entry_at(HttpSessionSet *s, size_t i) {
        return hashed_entries_at(&s->t, i);
}

static ssize_t find_id(HttpSessionSet *s, int64_t session_id) {
        for (size_t i = 0; i < s->t.n; i++)
                if (entry_at(s, i)->sess.session_id == session_id)
                        return (ssize_t) i;
        return -1;
}

int http_session_set_put(HttpSessionSet *s, const unsigned char hash[HTTP_TOKEN_HASH_SIZE],
                         const HttpSession *sess, int64_t last_seen_at) {
        SessionEntry e = { .sess = *sess, .last_seen_at = last_seen_at, .last_written_at = last_seen_at };
        int r;

        if (!http_role_to_string(sess->role) || sess->session_id <= 0 || sess->user[0] == 0 ||
            strnlen(sess->user, sizeof sess->user) >= sizeof sess->user ||
            strnlen(sess->csrf_token, sizeof sess->csrf_token) != HTTP_SESSION_CSRF_LEN)
                return -EINVAL;
        memcpy(e.hash, hash, HTTP_TOKEN_HASH_SIZE);
        pthread_rwlock_wrlock(&s->t.lock);
        r = hashed_entries_store(&s->t, find_id(s, sess->session_id), &e);
        pthread_rwlock_unlock(&s->t.lock);
        sodium_memzero(&e, sizeof e);
        return r;
}

int http_session_set_remove(HttpSessionSet *s, int64_t session_id) {
        ssize_t i;

        pthread_rwlock_wrlock(&s->t.lock);
        i = find_id(s, session_id);
        if (i >= 0)
                hashed_entries_remove_at(&s->t, (size_t) i);
        pthread_rwlock_unlock(&s->t.lock);
        return i >= 0 ? 0 : -ENOENT;
}

typedef struct UserBut {
        const char *user;
        int64_t keep_id;
} UserBut;

static bool is_users_but(const void *entry, void *userdata) {
        const SessionEntry *e = entry;
        const UserBut *u = userdata;

        return strcmp(e->sess.user, u->user) == 0 && e->sess.session_id != u->keep_id;
}

size_t http_session_set_remove_user(HttpSessionSet *s, const char *user, int64_t keep_id) {
        UserBut u = { user, keep_id };
        return hashed_entries_remove_if(&s->t, is_users_but, &u);
}

typedef struct PruneAt {
        int64_t now, idle_sec;
} PruneAt;

static bool has_ended(const void *entry, void *userdata) {
        const SessionEntry *e = entry;
        const PruneAt *p = userdata;

        return p->now >= e->sess.expires_at || p->now - e->last_seen_at >= p->idle_sec;
}

size_t http_session_set_prune(HttpSessionSet *s, int64_t now) {
        PruneAt p = { now, s->idle_sec };
        return hashed_entries_remove_if(&s->t, has_ended, &p);
}

size_t http_session_set_size(HttpSessionSet *s) {
        return hashed_entries_count(&s->t);
}

int http_session_set_find(HttpSessionSet *s, const unsigned char hash[HTTP_TOKEN_HASH_SIZE], int64_t now,
                          HttpSession *ret) {
        ssize_t found;
        int r = -ENOKEY;

        pthread_rwlock_rdlock(&s->t.lock);
        found = hashed_entries_find(&s->t, hash);
        if (found >= 0) {
                SessionEntry *e = entry_at(s, (size_t) found);
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
        pthread_rwlock_unlock(&s->t.lock);
        return r;
}

bool http_session_set_touch_due(HttpSessionSet *s, int64_t session_id, int64_t now) {
        bool due = false;
        ssize_t i;

        pthread_rwlock_rdlock(&s->t.lock);
        i = find_id(s, session_id);
        if (i >= 0) {
                int64_t *p = &entry_at(s, (size_t) i)->last_written_at;
                int64_t last = __atomic_load_n(p, __ATOMIC_RELAXED);

                /* well within the idle timeout, so a restart finds the session alive as it was */
                int64_t interval =
                        MAX((int64_t) 1, MIN((int64_t) HTTP_SESSION_TOUCH_INTERVAL_SEC, s->idle_sec / 4));

                due = now - last >= interval &&
                      __atomic_compare_exchange_n(p, &last, now, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
        }
        pthread_rwlock_unlock(&s->t.lock);
        return due;
}
