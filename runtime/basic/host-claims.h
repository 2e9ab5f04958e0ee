/* Host-wide claims: a resource that several daemons on one host could each want (a uid range, a subnet,
 * an ingress port, a state-dir id, a share in a route) is held by one owner at a time through a symlink
 * NAME → OWNER in a claims directory under /run/slipway.  OWNER is an absolute path (a state dir, an
 * instance dir); a claim whose owner no longer exists is stale and may be taken by anybody.  Every read
 * that leads to a change happens under the directory's exclusive flock, so two claimers never both win. */
#pragma once

#include <stdbool.h>

#define HOST_CLAIMS_ROOT "/run/slipway"
/* A claim's name: a file name of [A-Za-z0-9._@-], at most this long. */
#define HOST_CLAIM_NAME_MAX 64U

/* The claims directory dir (created 0700 when missing), opened and flock()ed exclusively; the lock goes
 * with the returned fd (close it to release). */
int host_claims_lock(const char *dir);

/* 1: name is owner's claim; 0: another owner's that still exists; -ENOENT: nobody's; -ESTALE: its owner
 * is gone. */
int host_claim_check(int dfd, const char *name, const char *owner);
/* Makes name owner's unless another live owner holds it: 1 when owner holds it now (also when it did
 * already), 0 when somebody else does.  A stale claim is taken over. */
int host_claim_take(int dfd, const char *name, const char *owner);
/* Drops name when it is owner's (1); leaves anybody else's alone (0). */
int host_claim_drop(int dfd, const char *name, const char *owner);

typedef enum HostClaimsWhich {
        HOST_CLAIMS_MINE,   /* held by owner */
        HOST_CLAIMS_OTHERS, /* held by another owner that still exists */
        _HOST_CLAIMS_WHICH_MAX,
        _HOST_CLAIMS_WHICH_INVALID = -22,
} HostClaimsWhich;

/* The names in the locked directory dfd held as `which` says, as a NULL-terminated array (free each
 * string, then the array; host_claims_list_free does both). */
int host_claims_list(int dfd, const char *owner, HostClaimsWhich which, char ***ret_names);
char **host_claims_list_free(char **l);
static inline void host_claims_list_freep(char ***l) {
        host_claims_list_free(*l);
}

bool host_claim_name_valid(const char *name);

/* Convenience for one claim without holding the lock: host_claims_lock + take/drop + close. */
int host_claim_take_in(const char *dir, const char *name, const char *owner);
int host_claim_drop_in(const char *dir, const char *name, const char *owner);
