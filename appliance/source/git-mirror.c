/* Bare mirrors of git remotes through libgit2: create, fetch branches, resolve branches and commit ids.
 * The remote is always an anonymous one built from the caller's URL, so a credential in a URL is never
 * written to disk; the mirror's config names only the redacted URL, for a person running git by hand. */
#include <assert.h>
#include <errno.h>
#include <git2.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "digest.h"
#include "fs-util.h"
#include "git-mirror.h"
#include "source-url.h"
#include "string-util.h"
#include "utf8.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(git_repository *, git_repository_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(git_remote *, git_remote_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(git_object *, git_object_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(git_commit *, git_commit_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(git_config *, git_config_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(git_branch_iterator *, git_branch_iterator_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(git_reference *, git_reference_free);

struct GitMirror {
        char *path;
        char *url;        /* as given: may carry a credential, never printed */
        char *url_shown;  /* redacted */
        char *http_token; /* SourceAuth.http_token, never printed or written; NULL: none */
        char *ssh_key;    /* SourceAuth.ssh_private_key, never printed or written; NULL: none */
        char *ssh_pinned; /* SourceAuth.ssh_host_key: the host key a server must show; NULL: pin now */
        char *ssh_seen;   /* "TYPE BASE64" of the host key the last ssh connection showed */
        bool host_key_changed;
        git_repository *repo;
};

/* The user name sent with a token when the URL names none: GitHub, Gitea and GitLab take a token as the
 * password whatever the user name, and this one is what GitHub documents for tokens of apps. */
#define SOURCE_HTTP_TOKEN_USER "x-access-token"

void source_commit_done(SourceCommit *c) {
        if (!c)
                return;
        free(c->subject);
        free(c->author_name);
        free(c->author_email);
        *c = (SourceCommit) {};
}

GitMirror *git_mirror_free(GitMirror *m) {
        if (!m)
                return NULL;
        git_repository_free(m->repo);
        free(m->path);
        free(m->url);
        free(m->url_shown);
        if (m->http_token) {
                explicit_bzero(m->http_token, strlen(m->http_token));
                free(m->http_token);
        }
        if (m->ssh_key) {
                explicit_bzero(m->ssh_key, strlen(m->ssh_key));
                free(m->ssh_key);
        }
        free(m->ssh_pinned);
        free(m->ssh_seen);
        free(m);
        return NULL;
}

const char *git_mirror_ssh_host_key(const GitMirror *m) {
        return m->ssh_seen;
}

const char *git_mirror_path(const GitMirror *m) {
        return m->path;
}

const char *git_mirror_url_shown(const GitMirror *m) {
        return m->url_shown;
}

git_repository *git_mirror_repository(GitMirror *m) {
        return m->repo;
}

/* libgit2's last message with credentials scrubbed and a trailing period dropped, into buf. */
static const char *git_error_text(const GitMirror *m, char *buf, size_t size) {
        size_t n;

        (void) snprintf(buf, size, "%s", git_last_error_message());
        source_url_scrub_text(buf, m ? m->url : NULL);
        if (m && m->http_token && *m->http_token) {
                size_t tlen = strlen(m->http_token);
                char *p;

                while ((p = memmem(buf, strlen(buf), m->http_token, tlen)))
                        memmove(p, p + tlen, strlen(p + tlen) + 1);
        }
        n = strlen(buf);
        while (n > 0 && (buf[n - 1] == '.' || buf[n - 1] == '\n' || buf[n - 1] == ' '))
                buf[--n] = '\0';
        return buf;
}

/* Writes the redacted URL as remote "origin" so `git fetch origin` works by hand in a mirror. */
static int write_origin(git_repository *repo, const char *url_shown) {
        _cleanup_(git_config_freep) git_config *cfg = NULL;
        int e;

        e = git_repository_config(&cfg, repo);
        if (e >= 0)
                e = git_config_set_string(cfg, "remote.origin.url", url_shown);
        if (e >= 0)
                e = git_config_set_string(cfg, "remote.origin.fetch", "+refs/heads/*:refs/heads/*");
        if (e >= 0)
                e = git_config_set_string(cfg, "remote.origin.tagopt", "--no-tags");
        return git_to_errno(e);
}

static int mirror_create(const char *mirrors_dir, const char *path, const char *name, const char *url_shown,
                         SourceError *err) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_(git_repository_freep) git_repository *repo = NULL;
        char buf[512];
        int r, e;

        if (asprintf(&tmp, "%s/.tmp-%s-XXXXXX", mirrors_dir, name) < 0)
                return -ENOMEM;
        if (!mkdtemp(tmp))
                return source_error_set(err, -errno, "Cannot create a git mirror in %s: %s.", mirrors_dir,
                                        strerror(errno));

        e = git_repository_init(&repo, tmp, /* is_bare= */ 1);
        if (e < 0) {
                r = source_error_set(err, git_to_errno(e), "Cannot create a git mirror in %s: %s.",
                                     mirrors_dir, git_error_text(NULL, buf, sizeof buf));
                (void) rm_rf(tmp);
                return r;
        }
        r = write_origin(repo, url_shown);
        git_repository_free(TAKE_PTR(repo));
        if (r < 0) {
                (void) rm_rf(tmp);
                return source_error_set(err, r, "Cannot write the config of a new git mirror in %s: %s.",
                                        mirrors_dir, git_error_text(NULL, buf, sizeof buf));
        }

        if (rename(tmp, path) < 0) {
                r = -errno;
                (void) rm_rf(tmp);
                if (r == -EEXIST || r == -ENOTEMPTY)
                        return 0; /* another opener made it first: use theirs */
                return source_error_set(err, r, "Cannot create the git mirror %s: %s.", path, strerror(-r));
        }
        return 0;
}

int git_mirror_open(const char *mirrors_dir, const char *url, const SourceAuth *auth, GitMirror **ret,
                    SourceError *err) {
        _cleanup_(git_mirror_freep) GitMirror *m = NULL;
        _cleanup_free_ char *key = NULL;
        char digest[DIGEST_STRING_MAX], name[SOURCE_MIRROR_NAME_HEX + 1], buf[512];
        struct stat st;
        int r, e, kind;

        assert(mirrors_dir);
        assert(ret);

        r = source_libgit2_init();
        if (r < 0)
                return source_error_set(err, r, "Cannot initialise libgit2: %s.", strerror(-r));

        kind = source_url_classify(url);
        if (kind < 0) {
                r = source_error_set(err, -EINVAL, "This is not a git URL Slipway can fetch from.");
                source_error_hint(err,
                                  "Give an absolute path, or a file://, git://, http:// or https:// URL.");
                return r;
        }
        if (auth && (auth->ssh_private_key || auth->ssh_host_key) && kind != SOURCE_URL_SSH) {
                r = source_error_set(err, -EINVAL, "A deploy key can only be used with ssh:// git remotes.");
                source_error_hint(err, "Give the repository's ssh:// URL, or remove the key.");
                return r;
        }
        if (auth && auth->http_token) {
                if (kind != SOURCE_URL_HTTP && kind != SOURCE_URL_HTTPS) {
                        r = source_error_set(err, -EINVAL,
                                             "A token can only be sent to http:// or https:// git remotes.");
                        source_error_hint(err, "Give the repository's https:// URL, or remove the token.");
                        return r;
                }
                if (!*auth->http_token || strpbrk(auth->http_token, "\r\n")) {
                        r = source_error_set(err, -EINVAL,
                                             "The token for the git remote is empty or has a line break.");
                        source_error_hint(err, "Set the token again, exactly as the git host showed it.");
                        return r;
                }
        }

        m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        m->url = strdup(url);
        if (auth && auth->http_token) {
                m->http_token = strdup(auth->http_token);
                if (!m->http_token)
                        return -ENOMEM;
        }
        if (auth && auth->ssh_private_key && !(m->ssh_key = strdup(auth->ssh_private_key)))
                return -ENOMEM;
        if (auth && auth->ssh_host_key && !(m->ssh_pinned = strdup(auth->ssh_host_key)))
                return -ENOMEM;
        if (!m->url || source_url_redact(url, &m->url_shown) < 0 || source_url_normalize(url, &key) < 0)
                return -ENOMEM;

        sha256_digest_string(key, strlen(key), digest);
        memcpy(name, digest_hex(digest), SOURCE_MIRROR_NAME_HEX);
        name[SOURCE_MIRROR_NAME_HEX] = '\0';
        if (asprintf(&m->path, "%s/%s.git", mirrors_dir, name) < 0)
                return -ENOMEM;

        r = mkdir_p(mirrors_dir, 0700);
        if (r < 0)
                return source_error_set(err, r, "Cannot create the git mirror directory %s: %s.",
                                        mirrors_dir, strerror(-r));

        if (stat(m->path, &st) < 0) {
                if (errno != ENOENT)
                        return source_error_set(err, -errno, "Cannot look at the git mirror %s: %m.",
                                                m->path);
                r = mirror_create(mirrors_dir, m->path, name, m->url_shown, err);
                if (r < 0)
                        return r;
        }

        e = git_repository_open_bare(&m->repo, m->path);
        if (e < 0)
                return source_error_set(err, git_to_errno(e), "Cannot open the git mirror %s: %s.", m->path,
                                        git_error_text(NULL, buf, sizeof buf));

        *ret = TAKE_PTR(m);
        return 0;
}

typedef struct CredentialState {
        GitMirror *mirror;
        unsigned calls;
        bool refused; /* asked again after the token was sent: the server did not take it */
} CredentialState;

/* The scheme and host of a scheme URL ("https://example.org" of "https://u@example.org:8443/x"): where
 * *ret_len bytes from *ret_host are the host, after *ret_scheme_len bytes of scheme.  false: not one. */
static bool url_scheme_host(const char *url, size_t *ret_scheme_len, const char **ret_host,
                            size_t *ret_len) {
        const char *sep, *h, *end, *at;

        sep = url ? strstr(url, "://") : NULL;
        if (!sep)
                return false;
        h = sep + 3;
        end = h + strcspn(h, "/?#");
        at = memrchr(h, '@', (size_t) (end - h));
        if (at)
                h = at + 1;
        if (*h == '[') {
                const char *close = memchr(h, ']', (size_t) (end - h));
                end = close ? close + 1 : end;
        } else
                end = h + strcspn(h, ":/?#");
        *ret_scheme_len = (size_t) (sep - url);
        *ret_host = h;
        *ret_len = (size_t) (end - h);
        return true;
}

/* Whether the server libgit2 asks for (after a redirect, maybe) is the configured remote's scheme and host,
 * so a redirect to another host or from https to http never carries the token there. */
static bool same_server(const char *configured, const char *asking) {
        size_t s1, s2, n1, n2;
        const char *h1, *h2;

        if (!url_scheme_host(configured, &s1, &h1, &n1) || !url_scheme_host(asking, &s2, &h2, &n2))
                return false;
        return s1 == s2 && strncasecmp(configured, asking, s1) == 0 && n1 == n2 &&
               strncasecmp(h1, h2, n1) == 0;
}

/* Answers libgit2's request for HTTP credentials with the token, once: asked a second time in one fetch,
 * the server refused it, and asking on would only repeat the refusal.  Another server (a redirect) gets
 * nothing, and so refuses access. */
static int credentials_cb(git_credential **ret, const char *url, const char *username_from_url,
                          unsigned int allowed_types, void *payload) {
        CredentialState *state = payload;
        const char *user = username_from_url && *username_from_url ? username_from_url : "git";

        if (state->mirror->ssh_key && (allowed_types & (GIT_CREDENTIAL_SSH_KEY | GIT_CREDENTIAL_USERNAME))) {
                if (state->calls++ > 0) {
                        state->refused = true;
                        git_error_set_str(GIT_ERROR_SSH, "the deploy key was refused");
                        return GIT_EAUTH;
                }
                if (!(allowed_types & GIT_CREDENTIAL_SSH_KEY)) {
                        state->calls = 0;
                        return git_credential_username_new(ret, user);
                }
                return git_credential_ssh_key_memory_new(ret, user, NULL, state->mirror->ssh_key, NULL);
        }
        if (!state->mirror->http_token || !(allowed_types & GIT_CREDENTIAL_USERPASS_PLAINTEXT) ||
            !same_server(state->mirror->url, url))
                return GIT_PASSTHROUGH;
        if (state->calls++ > 0) {
                state->refused = true;
                git_error_set_str(GIT_ERROR_HTTP, "the token was refused");
                return GIT_EAUTH;
        }
        return git_credential_userpass_plaintext_new(
                ret, username_from_url && *username_from_url ? username_from_url : SOURCE_HTTP_TOKEN_USER,
                state->mirror->http_token);
}

static const char *ssh_key_type(git_cert_ssh_raw_type_t t) {
        switch (t) {
        case GIT_CERT_SSH_RAW_TYPE_RSA:
                return "ssh-rsa";
        case GIT_CERT_SSH_RAW_TYPE_DSS:
                return "ssh-dss";
        case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_256:
                return "ecdsa-sha2-nistp256";
        case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_384:
                return "ecdsa-sha2-nistp384";
        case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_521:
                return "ecdsa-sha2-nistp521";
        case GIT_CERT_SSH_RAW_TYPE_KEY_ED25519:
                return "ssh-ed25519";
        default:
                return NULL;
        }
}

/* An ssh server's host key: accepted when it is the pinned one, or when none is pinned yet (trust on first
 * use: the caller pins git_mirror_ssh_host_key() after the fetch).  Any other key is refused. */
static int certificate_cb(git_cert *cert, int valid, const char *host, void *payload) {
        CredentialState *state = payload;
        GitMirror *m = state->mirror;
        const git_cert_hostkey *hk = (const git_cert_hostkey *) cert;
        const char *type;
        char *b64 = NULL;

        if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
                return valid ? 0 : GIT_PASSTHROUGH;
        if (!(hk->type & GIT_CERT_SSH_RAW) || !(type = ssh_key_type(hk->raw_type))) {
                git_error_set_str(GIT_ERROR_SSH, "the server's host key is of a type Slipway cannot pin");
                return GIT_ECERTIFICATE;
        }
        size_t n = sodium_base64_encoded_len(hk->hostkey_len, sodium_base64_VARIANT_ORIGINAL);
        b64 = malloc(n);
        if (!b64)
                return -1;
        sodium_bin2base64(b64, n, (const unsigned char *) hk->hostkey, hk->hostkey_len,
                          sodium_base64_VARIANT_ORIGINAL);
        free(m->ssh_seen);
        m->ssh_seen = NULL;
        if (asprintf(&m->ssh_seen, "%s %s", type, b64) < 0)
                m->ssh_seen = NULL;
        free(b64);
        if (!m->ssh_seen)
                return -1;
        if (m->ssh_pinned && !streq(m->ssh_pinned, m->ssh_seen)) {
                m->host_key_changed = true;
                git_error_set_str(GIT_ERROR_SSH, "the server's host key is not the one pinned");
                return GIT_ECERTIFICATE;
        }
        return 0;
}

static int host_key_changed(const GitMirror *m, SourceError *err) {
        int r = source_error_set(err, -EACCES,
                                 "The ssh host key of %s is not the one Slipway pinned at the first fetch: "
                                 "refusing to fetch (a changed server, or someone in between).",
                                 m->url_shown);
        source_error_hint(err,
                          "If the server's key was changed on purpose, unpin it with 'slipway component "
                          "update P/C --git URL --ssh-host-key-reset'.");
        return r;
}

static int token_refused(const GitMirror *m, SourceError *err) {
        int r;

        if (m->ssh_key) {
                r = source_error_set(err, -EACCES, "The git remote %s refused the deploy key.",
                                     m->url_shown);
                source_error_hint(err, "Add the key's public half to the repository's deploy keys, or set "
                                       "another with 'slipway component update P/C --ssh-key-file FILE'.");
                return r;
        }
        r = source_error_set(err, -EACCES, "The git remote %s refused the token: check it and set it again.",
                             m->url_shown);
        source_error_hint(err, "Give a token that may read the repository, and that has not expired.");
        return r;
}

static int branch_name_check(const char *branch, SourceError *err) {
        _cleanup_free_ char *ref = NULL;
        int valid = 0;

        if (!branch || !*branch || strlen(branch) > SOURCE_BRANCH_MAX ||
            !utf8_is_valid(branch, strlen(branch)) || branch[0] == '-')
                goto bad;
        if (asprintf(&ref, "refs/heads/%s", branch) < 0)
                return -ENOMEM;
        if (git_reference_name_is_valid(&valid, ref) < 0 || !valid)
                goto bad;
        return 0;
bad:
        return source_error_set(err, -EINVAL, "'%.*s' is not a valid git branch name.", 200, branch ?: "");
}

/* Appends ", name" (or "name") to list while it fits, and "…" once when it does not. */
static void list_append(char *list, size_t size, size_t *n, const char *name) {
        size_t len = strlen(list);

        if (*n >= SOURCE_BRANCHES_LISTED_MAX) {
                if (*n == SOURCE_BRANCHES_LISTED_MAX && len + 6 < size)
                        strcat(list, ", …");
                (*n)++;
                return;
        }
        if (len + strlen(name) + 3 >= size)
                return;
        if (len > 0)
                strcat(list, ", ");
        strcat(list, name);
        (*n)++;
}

static void hint_branches(SourceError *err, const char *list, size_t n) {
        if (n == 0)
                source_error_hint(err, "It has no branches yet: push one first.");
        else
                source_error_hint(err, "Branches there: %s.", list);
}

int git_mirror_fetch(GitMirror *m, const char *branch, SourceError *err) {
        _cleanup_(git_remote_freep) git_remote *remote = NULL;
        _cleanup_free_ char *spec = NULL;
        git_remote_callbacks callbacks = GIT_REMOTE_CALLBACKS_INIT;
        git_fetch_options opts = GIT_FETCH_OPTIONS_INIT;
        CredentialState cred = { .mirror = m };
        const git_remote_head **heads = NULL;
        char buf[512];
        size_t n_heads = 0;
        int r, e;

        assert(m);

        if (branch) {
                r = branch_name_check(branch, err);
                if (r < 0)
                        return r;
        }

        /* anonymous, and without url.<base>.insteadOf: the URL fetched is the one the user gave (this also
         * keeps libgit2 1.5 from leaking the config regex's match data on every remote) */
        git_remote_create_options create = GIT_REMOTE_CREATE_OPTIONS_INIT;
        create.repository = m->repo;
        create.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
        e = git_remote_create_with_opts(&remote, m->url, &create);
        if (e < 0)
                return source_error_set(err, git_to_errno(e), "Cannot use the git remote %s: %s.",
                                        m->url_shown, git_error_text(m, buf, sizeof buf));

        if (m->http_token || m->ssh_key) {
                callbacks.credentials = credentials_cb;
                callbacks.payload = &cred;
        }
        if (source_url_classify(m->url) == SOURCE_URL_SSH) {
                callbacks.certificate_check = certificate_cb;
                callbacks.payload = &cred;
        }
        e = git_remote_connect(remote, GIT_DIRECTION_FETCH, &callbacks, NULL, NULL);
        if (e < 0) {
                r = git_to_errno(e);
                if (m->host_key_changed)
                        return host_key_changed(m, err);
                if (cred.refused)
                        return token_refused(m, err);
                if (r == -EACCES) {
                        r = source_error_set(err, r, "The git remote %s refused access: %s.", m->url_shown,
                                             git_error_text(m, buf, sizeof buf));
                        if (m->http_token)
                                source_error_hint(err, "Check that the token may read this repository.");
                        else
                                source_error_hint(err, "If the repository is private, give a token for it.");
                } else if (r == -EPERM) {
                        r = source_error_set(err, r,
                                             "The TLS certificate of the git remote %s is not trusted: %s.",
                                             m->url_shown, git_error_text(m, buf, sizeof buf));
                } else {
                        r = source_error_set(err, -EHOSTUNREACH, "Cannot reach the git remote %s: %s.",
                                             m->url_shown, git_error_text(m, buf, sizeof buf));
                        source_error_hint(
                                err, "Check the URL, and that the server is up and reachable from here.");
                }
                return r;
        }

        e = git_remote_ls(&heads, &n_heads, remote);
        if (e < 0)
                return source_error_set(err, git_to_errno(e), "Cannot list the branches of %s: %s.",
                                        m->url_shown, git_error_text(m, buf, sizeof buf));

        if (branch) {
                char list[sizeof err->hint - 32] = "";
                size_t n_listed = 0;
                bool found = false;

                for (size_t i = 0; i < n_heads; i++) {
                        const char *b = heads[i]->name;

                        if (!startswith(b, "refs/heads/"))
                                continue;
                        b += strlen("refs/heads/");
                        if (streq(b, branch)) {
                                found = true;
                                break;
                        }
                        list_append(list, sizeof list, &n_listed, b);
                }
                if (!found) {
                        r = source_error_set(err, -ENOENT, "The git remote %s has no branch '%s'.",
                                             m->url_shown, branch);
                        hint_branches(err, list, n_listed);
                        return r;
                }
                if (asprintf(&spec, "+refs/heads/%s:refs/heads/%s", branch, branch) < 0)
                        return -ENOMEM;
        } else {
                spec = strdup("+refs/heads/*:refs/heads/*");
                if (!spec)
                        return -ENOMEM;
        }

        char *specs[] = { spec };
        git_strarray refspecs = { .strings = specs, .count = 1 };
        opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
        opts.update_fetchhead = 0;
        opts.prune = GIT_FETCH_NO_PRUNE;
        opts.callbacks = callbacks;

        e = git_remote_fetch(remote, &refspecs, &opts, "slipway: fetch");
        if (e < 0 && m->host_key_changed)
                return host_key_changed(m, err);
        if (e < 0 && cred.refused)
                return token_refused(m, err);
        if (e < 0)
                return source_error_set(err, git_to_errno(e), "Fetching %s%s%s from %s failed: %s.",
                                        branch ? "branch '" : "all branches", branch ?: "",
                                        branch ? "'" : "", m->url_shown, git_error_text(m, buf, sizeof buf));
        return 0;
}

static int commit_fill(git_commit *c, SourceCommit *ret) {
        _cleanup_(source_commit_done) SourceCommit info = {};
        git_buf short_id = GIT_BUF_INIT;
        const git_signature *a;
        const char *msg, *eol;
        size_t n;

        (void) git_oid_tostr(info.id, sizeof info.id, git_commit_id(c));
        if (git_object_short_id(&short_id, (const git_object *) c) >= 0) {
                (void) snprintf(info.short_id, sizeof info.short_id, "%s", short_id.ptr);
                git_buf_dispose(&short_id);
        } else
                (void) snprintf(info.short_id, sizeof info.short_id, "%.*s", (int) SOURCE_COMMIT_PREFIX_MIN,
                                info.id);

        msg = git_commit_message(c) ?: "";
        while (*msg == '\n')
                msg++;
        eol = strchr(msg, '\n');
        n = eol ? (size_t) (eol - msg) : strlen(msg);
        while (n > 0 && (msg[n - 1] == ' ' || msg[n - 1] == '\t' || msg[n - 1] == '\r'))
                n--;
        if (n > SOURCE_SUBJECT_MAX) {
                n = SOURCE_SUBJECT_MAX;
                while (n > 0 && ((unsigned char) msg[n] & 0xc0) == 0x80)
                        n--; /* do not cut a UTF-8 sequence */
        }
        info.subject = strndup(msg, n);

        a = git_commit_author(c);
        info.author_name = strdup(a && a->name ? a->name : "");
        info.author_email = strdup(a && a->email ? a->email : "");
        if (!info.subject || !info.author_name || !info.author_email)
                return -ENOMEM;
        if (a) {
                info.author_time = (int64_t) a->when.time;
                info.author_tz_offset = a->when.offset;
        }

        *ret = TAKE_STRUCT(info);
        return 0;
}

int git_mirror_resolve_branch(GitMirror *m, const char *branch, SourceCommit *ret, SourceError *err) {
        _cleanup_(git_reference_freep) git_reference *ref = NULL;
        _cleanup_(git_commit_freep) git_commit *c = NULL;
        char buf[512];
        int r, e;

        assert(m);
        assert(ret);

        r = branch_name_check(branch, err);
        if (r < 0)
                return r;

        e = git_branch_lookup(&ref, m->repo, branch, GIT_BRANCH_LOCAL);
        if (e == GIT_ENOTFOUND) {
                _cleanup_(git_branch_iterator_freep) git_branch_iterator *it = NULL;
                char list[sizeof err->hint - 32] = "";
                size_t n_listed = 0;

                r = source_error_set(err, -ENOENT, "The mirror of %s has no branch '%s'.", m->url_shown,
                                     branch);
                if (git_branch_iterator_new(&it, m->repo, GIT_BRANCH_LOCAL) >= 0) {
                        git_reference *b;
                        git_branch_t type;
                        const char *name;

                        while (git_branch_next(&b, &type, it) == 0) {
                                if (git_branch_name(&name, b) >= 0)
                                        list_append(list, sizeof list, &n_listed, name);
                                git_reference_free(b);
                        }
                }
                hint_branches(err, list, n_listed);
                return r;
        }
        if (e < 0)
                return source_error_set(err, git_to_errno(e),
                                        "Cannot read branch '%s' of the mirror of %s: %s.", branch,
                                        m->url_shown, git_error_text(m, buf, sizeof buf));

        e = git_reference_peel((git_object **) &c, ref, GIT_OBJECT_COMMIT);
        if (e < 0)
                return source_error_set(err, git_to_errno(e),
                                        "Branch '%s' of %s does not point at a commit: %s.", branch,
                                        m->url_shown, git_error_text(m, buf, sizeof buf));
        return commit_fill(c, ret);
}

void source_commits_free(SourceCommit *c, size_t n) {
        for (size_t i = 0; c && i < n; i++)
                source_commit_done(&c[i]);
        free(c);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(git_revwalk *, git_revwalk_free);

int git_mirror_log(GitMirror *m, const char *branch, size_t max, SourceCommit **ret, size_t *ret_n,
                   SourceError *err) {
        _cleanup_(git_revwalk_freep) git_revwalk *walk = NULL;
        _cleanup_(source_commit_done) SourceCommit head = {};
        SourceCommit *list = NULL;
        size_t n = 0;
        git_oid oid;
        char buf[512];
        int r, e;

        assert(m);
        assert(ret);
        assert(ret_n);

        if (max == 0 || max > SOURCE_LOG_MAX)
                return source_error_set(err, -EINVAL, "Ask for 1 to %u commits.", SOURCE_LOG_MAX);
        r = git_mirror_resolve_branch(m, branch, &head, err);
        if (r < 0)
                return r;
        e = git_revwalk_new(&walk, m->repo);
        if (e >= 0)
                e = git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
        if (e >= 0)
                e = git_oid_fromstr(&oid, head.id);
        if (e >= 0)
                e = git_revwalk_push(walk, &oid);
        if (e < 0)
                return source_error_set(err, git_to_errno(e), "Cannot walk the history of %s: %s.",
                                        m->url_shown, git_error_text(m, buf, sizeof buf));
        list = calloc(max, sizeof *list);
        if (!list)
                return -ENOMEM;
        while (n < max && git_revwalk_next(&oid, walk) == 0) {
                _cleanup_(git_commit_freep) git_commit *c = NULL;

                e = git_commit_lookup(&c, m->repo, &oid);
                if (e < 0) {
                        r = source_error_set(err, git_to_errno(e), "Cannot read a commit of %s: %s.",
                                             m->url_shown, git_error_text(m, buf, sizeof buf));
                        source_commits_free(list, n);
                        return r;
                }
                r = commit_fill(c, &list[n]);
                if (r < 0) {
                        source_commits_free(list, n);
                        return r;
                }
                n++;
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

int git_mirror_resolve_commit(GitMirror *m, const char *sha, SourceCommit *ret, SourceError *err) {
        _cleanup_(git_object_freep) git_object *obj = NULL;
        _cleanup_(git_commit_freep) git_commit *c = NULL;
        git_oid oid;
        char buf[512];
        size_t n;
        int r, e;

        assert(m);
        assert(ret);

        n = sha ? strnlen(sha, GIT_OID_HEXSZ + 1) : 0;
        if (n < SOURCE_COMMIT_PREFIX_MIN || n > GIT_OID_HEXSZ ||
            strspn(sha, "0123456789abcdefABCDEF") != n) {
                r = source_error_set(err, -EINVAL, "'%.*s' is not a commit id.", 64, sha ?: "");
                source_error_hint(err, "Give the commit's full id or at least its first %u hex digits.",
                                  SOURCE_COMMIT_PREFIX_MIN);
                return r;
        }
        e = git_oid_fromstrn(&oid, sha, n);
        if (e < 0)
                return source_error_set(err, -EINVAL, "'%s' is not a commit id.", sha);

        e = git_object_lookup_prefix(&obj, m->repo, &oid, n, GIT_OBJECT_ANY);
        if (e == GIT_ENOTFOUND) {
                r = git_mirror_fetch(m, NULL, err);
                if (r < 0)
                        return r;
                e = git_object_lookup_prefix(&obj, m->repo, &oid, n, GIT_OBJECT_ANY);
        }
        if (e == GIT_ENOTFOUND) {
                r = source_error_set(err, -ENOENT, "The git remote %s has no commit %s on any branch.",
                                     m->url_shown, sha);
                source_error_hint(err, "Check the id, and that the commit was pushed to a branch.");
                return r;
        }
        if (e == GIT_EAMBIGUOUS) {
                r = source_error_set(err, -ENOTUNIQ,
                                     "The commit id prefix %s matches several objects in %s.", sha,
                                     m->url_shown);
                source_error_hint(err, "Give more digits of the commit id.");
                return r;
        }
        if (e < 0)
                return source_error_set(err, git_to_errno(e),
                                        "Cannot look up commit %s in the mirror of %s: %s.", sha,
                                        m->url_shown, git_error_text(m, buf, sizeof buf));

        e = git_object_peel((git_object **) &c, obj, GIT_OBJECT_COMMIT);
        if (e < 0)
                return source_error_set(err, -ENOENT, "%s in %s names a %s, not a commit.", sha,
                                        m->url_shown, git_object_type2string(git_object_type(obj)));
        return commit_fill(c, ret);
}
