/* The storage the token set and the session set share: an array of fixed-size entries, each starting with
 * the hash of a credential, under a writer-preferring rwlock.  Invariant: an entry's bytes are erased
 * wherever they stop being used (removed, moved by a grow, freed), and a lookup by hash compares every
 * entry with sodium_memcmp, so its time depends on the number of entries only. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "http-token.h"

typedef struct HashedEntries {
        pthread_rwlock_t lock;
        unsigned char *entries; /* cap entries of size bytes; each starts with HTTP_TOKEN_HASH_SIZE bytes */
        size_t size, n, cap;
} HashedEntries;

/* entry_size: at least HTTP_TOKEN_HASH_SIZE, the hash first. */
int hashed_entries_init(HashedEntries *t, size_t entry_size);
void hashed_entries_done(HashedEntries *t);

static inline void *hashed_entries_at(HashedEntries *t, size_t i) {
        return t->entries + i * t->size;
}

/* Under the write lock: copies entry over index i (< n), or appends it when i < 0. */
int hashed_entries_store(HashedEntries *t, ssize_t i, const void *entry);
/* Under the write lock: removes entry i (the last one takes its place). */
void hashed_entries_remove_at(HashedEntries *t, size_t i);
/* Takes the write lock: removes every entry pred says true of; returns how many. */
size_t hashed_entries_remove_if(HashedEntries *t, bool (*pred)(const void *entry, void *userdata),
                                void *userdata);
/* Under either lock: the index of the entry with that hash, or -1. */
ssize_t hashed_entries_find(HashedEntries *t, const unsigned char hash[HTTP_TOKEN_HASH_SIZE]);
/* Takes the read lock. */
size_t hashed_entries_count(HashedEntries *t);
