/* The login throttle of http-login-throttle.h: a fixed array of entries, each the times of its key's last
 * HTTP_LOGIN_FAILURES_MAX failures, under one mutex.  Logins are rare and each costs an argon2id check,
 * so a linear scan is cheap beside it. */
#include "http-login-throttle.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ThrottleEntry {
        char key[HTTP_LOGIN_KEY_MAX];
        int64_t failures[HTTP_LOGIN_FAILURES_MAX]; /* a ring; 0: unused */
        unsigned next;
        int64_t last;
} ThrottleEntry;

struct HttpLoginThrottle {
        pthread_mutex_t lock;
        ThrottleEntry *entries; /* HTTP_LOGIN_THROTTLE_ENTRIES */
};

int http_login_throttle_new(HttpLoginThrottle **ret) {
        HttpLoginThrottle *t = calloc(1, sizeof *t);

        if (!t)
                return -ENOMEM;
        t->entries = calloc(HTTP_LOGIN_THROTTLE_ENTRIES, sizeof *t->entries);
        if (!t->entries) {
                free(t);
                return -ENOMEM;
        }
        pthread_mutex_init(&t->lock, NULL);
        *ret = t;
        return 0;
}

HttpLoginThrottle *http_login_throttle_free(HttpLoginThrottle *t) {
        if (!t)
                return NULL;
        pthread_mutex_destroy(&t->lock);
        free(t->entries);
        free(t);
        return NULL;
}

static void make_key(char key[HTTP_LOGIN_KEY_MAX], char kind, const char *value) {
        snprintf(key, HTTP_LOGIN_KEY_MAX, "%c:%s", kind, value ?: "");
}

/* The entry of key, or NULL; under the lock. */
static ThrottleEntry *find(HttpLoginThrottle *t, const char *key) {
        for (size_t i = 0; i < HTTP_LOGIN_THROTTLE_ENTRIES; i++)
                if (t->entries[i].key[0] && strcmp(t->entries[i].key, key) == 0)
                        return &t->entries[i];
        return NULL;
}

/* Seconds until key may try again (0: now); under the lock. */
static int64_t key_wait(HttpLoginThrottle *t, const char *key, int64_t now) {
        ThrottleEntry *e = find(t, key);
        int64_t oldest = INT64_MAX;

        if (!e)
                return 0;
        for (unsigned i = 0; i < HTTP_LOGIN_FAILURES_MAX; i++) {
                if (e->failures[i] == 0 || now - e->failures[i] >= HTTP_LOGIN_WINDOW_SEC)
                        return 0; /* fewer than the maximum within the window */
                oldest = MIN(oldest, e->failures[i]);
        }
        return oldest + HTTP_LOGIN_WINDOW_SEC - now;
}

int64_t http_login_throttle_wait(HttpLoginThrottle *t, const char *name, const char *address, int64_t now) {
        char key[HTTP_LOGIN_KEY_MAX];
        int64_t w;

        pthread_mutex_lock(&t->lock);
        make_key(key, 'u', name);
        w = key_wait(t, key, now);
        make_key(key, 'a', address);
        w = MAX(w, key_wait(t, key, now));
        pthread_mutex_unlock(&t->lock);
        return w;
}

static void key_failed(HttpLoginThrottle *t, const char *key, int64_t now) {
        ThrottleEntry *e = find(t, key);

        if (!e) {
                /* a free entry, one whose failures all left the window, or else the stalest */
                ThrottleEntry *victim = &t->entries[0];

                for (size_t i = 0; i < HTTP_LOGIN_THROTTLE_ENTRIES; i++) {
                        ThrottleEntry *c = &t->entries[i];

                        if (!c->key[0] || now - c->last >= HTTP_LOGIN_WINDOW_SEC) {
                                victim = c;
                                break;
                        }
                        if (c->last < victim->last)
                                victim = c;
                }
                *victim = (ThrottleEntry) {};
                snprintf(victim->key, sizeof victim->key, "%s", key);
                e = victim;
        }
        e->failures[e->next] = now;
        e->next = (e->next + 1) % HTTP_LOGIN_FAILURES_MAX;
        e->last = now;
}

void http_login_throttle_failed(HttpLoginThrottle *t, const char *name, const char *address, int64_t now) {
        char key[HTTP_LOGIN_KEY_MAX];

        pthread_mutex_lock(&t->lock);
        make_key(key, 'u', name);
        key_failed(t, key, now);
        make_key(key, 'a', address);
        key_failed(t, key, now);
        pthread_mutex_unlock(&t->lock);
}

void http_login_throttle_succeeded(HttpLoginThrottle *t, const char *name) {
        char key[HTTP_LOGIN_KEY_MAX];
        ThrottleEntry *e;

        pthread_mutex_lock(&t->lock);
        make_key(key, 'u', name);
        e = find(t, key);
        if (e)
                *e = (ThrottleEntry) {};
        pthread_mutex_unlock(&t->lock);
}
