/* HashedEntries (hashed-entries.h): the array grows into a fresh allocation rather than with realloc(), so
 * the old bytes can be erased before they are freed. */
#include "hashed-entries.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define HASHED_ENTRIES_FIRST_CAP 16U

int hashed_entries_init(HashedEntries *t, size_t entry_size) {
        pthread_rwlockattr_t attr;
        int r;

        if (entry_size < HTTP_TOKEN_HASH_SIZE)
                return -EINVAL;
        *t = (HashedEntries) { .size = entry_size };
        if (pthread_rwlockattr_init(&attr) != 0)
                return -ENOMEM;
        /* glibc's default prefers readers: a busy API would starve a login, a token create or a revoke */
        (void) pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        r = pthread_rwlock_init(&t->lock, &attr);
        pthread_rwlockattr_destroy(&attr);
        return r == 0 ? 0 : -ENOMEM;
}

void hashed_entries_done(HashedEntries *t) {
        if (t->entries)
                sodium_memzero(t->entries, t->cap * t->size);
        free(t->entries);
        t->entries = NULL;
        t->n = t->cap = 0;
        pthread_rwlock_destroy(&t->lock);
}

int hashed_entries_store(HashedEntries *t, ssize_t i, const void *entry) {
        if (i >= 0) {
                memcpy(hashed_entries_at(t, (size_t) i), entry, t->size);
                return 0;
        }
        if (t->n == t->cap) {
                size_t cap = t->cap ? t->cap * 2 : HASHED_ENTRIES_FIRST_CAP;
                unsigned char *p = calloc(cap, t->size);

                if (!p)
                        return -ENOMEM;
                if (t->entries) {
                        memcpy(p, t->entries, t->n * t->size);
                        sodium_memzero(t->entries, t->cap * t->size);
                        free(t->entries);
                }
                t->entries = p;
                t->cap = cap;
        }
        memcpy(hashed_entries_at(t, t->n++), entry, t->size);
        return 0;
}

void hashed_entries_remove_at(HashedEntries *t, size_t i) {
        void *last = hashed_entries_at(t, t->n - 1);

        if (i != t->n - 1)
                memcpy(hashed_entries_at(t, i), last, t->size);
        sodium_memzero(last, t->size);
        t->n--;
}

size_t hashed_entries_remove_if(HashedEntries *t, bool (*pred)(const void *entry, void *userdata),
                                void *userdata) {
        size_t removed = 0;

        pthread_rwlock_wrlock(&t->lock);
        for (size_t i = 0; i < t->n;)
                if (pred(hashed_entries_at(t, i), userdata)) {
                        hashed_entries_remove_at(t, i);
                        removed++;
                } else
                        i++;
        pthread_rwlock_unlock(&t->lock);
        return removed;
}

ssize_t hashed_entries_find(HashedEntries *t, const unsigned char hash[HTTP_TOKEN_HASH_SIZE]) {
        ssize_t found = -1;

        for (size_t i = 0; i < t->n; i++) /* no early exit */
                if (sodium_memcmp(hashed_entries_at(t, i), hash, HTTP_TOKEN_HASH_SIZE) == 0)
                        found = (ssize_t) i;
        return found;
}

size_t hashed_entries_count(HashedEntries *t) {
        size_t n;

        pthread_rwlock_rdlock(&t->lock);
        n = t->n;
        pthread_rwlock_unlock(&t->lock);
        return n;
}
