/* Bare mirrors of git remotes, one per normalised URL under a directory the caller owns (the daemon's
 * DIR/git/), named <first 32 hex of sha256(normalised URL)>.git.  A mirror only ever gains commits: fetches
 * update refs/heads/ and never prune, so a commit once built stays resolvable. */
#pragma once

#include <stdint.h>
#include <time.h>

#include "source-error.h"

struct git_repository;

#define SOURCE_BRANCH_MAX 255U        /* bytes of a branch name */
#define SOURCE_COMMIT_PREFIX_MIN 7U   /* hex digits of the shortest commit id accepted */
#define SOURCE_MIRROR_NAME_HEX 32U    /* hex digits of the URL hash in a mirror's directory name */
#define SOURCE_BRANCHES_LISTED_MAX 8U /* existing branches named in an unknown-branch hint */
#define SOURCE_SUBJECT_MAX 1024U      /* bytes of a commit subject kept (longer ones are cut at UTF-8) */

/* Credentials for a remote.  http_token works for http:// and https:// URLs, the ssh fields for ssh:// and
 * scp-like ones (on another kind: -EINVAL).  An ssh server must show ssh_host_key when it is set; when it is
 * NULL any key is accepted once and git_mirror_ssh_host_key() says which, for the caller to pin. */
typedef struct SourceAuth {
        const char *http_token;      /* the password of HTTP basic auth, with the URL's user name or else
                                      * "x-access-token"; sent once per fetch, never printed or stored */
        const char *ssh_private_key; /* OpenSSH private key text */
        const char *ssh_host_key;    /* pinned "type base64" host key; NULL: pin on first use */
} SourceAuth;

/* One commit, for build records and the console. */
typedef struct SourceCommit {
        char id[41];       /* full hex id */
        char short_id[13]; /* the id's first SOURCE_COMMIT_PREFIX_MIN hex digits (more if ambiguous) */
        char *subject;     /* first line of the message, without trailing white space */
        char *author_name;
        char *author_email;
        int64_t author_time;  /* seconds since the epoch */
        int author_tz_offset; /* minutes east of UTC */
} SourceCommit;

void source_commit_done(SourceCommit *c);

/* A GitMirror is used by one thread at a time; several may be open on one mirror directory, but two
 * fetches into it at the same moment may fail with -EBUSY (a ref lock), so the caller serialises them. */
typedef struct GitMirror GitMirror;

/* Opens the mirror of url below mirrors_dir, creating mirrors_dir and the bare repository when missing
 * (created under a temporary name and renamed, so a crash never leaves half a mirror).  url: an absolute
 * path, file://, git://, http:// or https:// (ssh:// and scp-like URLs: -EOPNOTSUPP for now).  auth may be
 * NULL.  Nothing is fetched.  -EINVAL (bad URL), -EOPNOTSUPP, -errno; err filled on failure. */
int git_mirror_open(const char *mirrors_dir, const char *url, const SourceAuth *auth, GitMirror **ret,
                    SourceError *err);
GitMirror *git_mirror_free(GitMirror *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(GitMirror *, git_mirror_free);

/* The mirror's directory, and the URL as it may be printed (without user:password@). */
const char *git_mirror_path(const GitMirror *m);
const char *git_mirror_url_shown(const GitMirror *m);
/* "TYPE BASE64" of the host key the last ssh connection of this mirror showed (NULL: none yet), for the
 * caller to pin when SourceAuth.ssh_host_key was NULL. */
const char *git_mirror_ssh_host_key(const GitMirror *m);
/* The underlying repository, borrowed, for git-checkout.c. */
struct git_repository *git_mirror_repository(GitMirror *m);

/* Fetches branch (refspec +refs/heads/B:refs/heads/B, no tags), or every branch when branch is NULL (all of
 * refs/heads/ onto refs/heads/).  The remote's branch list is read first: an unknown branch fails with
 * -ENOENT naming it and some that exist.  Remote unreachable (or no repository there): -EHOSTUNREACH; auth
 * asked for or the token refused: -EACCES; TLS certificate not trusted: -EPERM; err filled, never with a
 * credential. */
int git_mirror_fetch(GitMirror *m, const char *branch, SourceError *err);

/* The commit branch points at in the mirror (no fetch; call git_mirror_fetch() first).  -ENOENT with the
 * mirror's branches in the hint when it has no such branch, -EINVAL for a name git does not allow. */
int git_mirror_resolve_branch(GitMirror *m, const char *branch, SourceCommit *ret, SourceError *err);

/* The newest commits reachable from branch in the mirror (no fetch), at most max (1…SOURCE_LOG_MAX):
 * newest first by commit time, a child always before its parents; for the console's commit picker.  *ret
 * is an array of *ret_n commits, freed with source_commits_free().  Errors as git_mirror_resolve_branch(). */
#define SOURCE_LOG_MAX 100U
int git_mirror_log(GitMirror *m, const char *branch, size_t max, SourceCommit **ret, size_t *ret_n,
                   SourceError *err);
void source_commits_free(SourceCommit *c, size_t n);

/* The commit sha names: a full id or a unique prefix of at least SOURCE_COMMIT_PREFIX_MIN hex digits
 * (an annotated tag's id is peeled to its commit).  When the mirror lacks it, every branch is fetched once
 * and it is looked up again.  -EINVAL (not hex, too short), -ENOTUNIQ (prefix of several objects), -ENOENT
 * (not in the remote's branches), or a fetch error. */
int git_mirror_resolve_commit(GitMirror *m, const char *sha, SourceCommit *ret, SourceError *err);
