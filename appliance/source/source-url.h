/* Git remote URLs as a user types them: which transport they name, the form a mirror is named from, and the
 * form that may be printed.  A printed URL never carries the user:password@ part. */
#pragma once

#include <errno.h>
#include <stddef.h>

#define SOURCE_URL_MAX 4096U

typedef enum SourceUrlKind {
        SOURCE_URL_PATH,  /* /srv/repo or /srv/repo.git: a repository on this machine */
        SOURCE_URL_FILE,  /* file:///srv/repo */
        SOURCE_URL_GIT,   /* git://host[:port]/path */
        SOURCE_URL_HTTP,  /* http://… */
        SOURCE_URL_HTTPS, /* https://… */
        SOURCE_URL_SSH,   /* ssh://… or scp-like user@host:path */
        _SOURCE_URL_KIND_MAX,
        _SOURCE_URL_KIND_INVALID = -EINVAL,
} SourceUrlKind;

const char *source_url_kind_to_string(SourceUrlKind k);

/* Classifies url: its kind, or -EINVAL (empty, over SOURCE_URL_MAX, control characters or spaces, a relative
 * path, an unknown scheme such as ext:: or ftp://, a scheme URL without a host or path). */
int source_url_classify(const char *url);

/* The URL with "user[:password]@" removed from its authority (scheme URLs only; paths are returned as they
 * are).  Safe to print.  -ENOMEM. */
int source_url_redact(const char *url, char **ret);

/* The key a mirror is named from: redacted, scheme and host lower-cased, trailing slashes dropped.  Two
 * spellings of one repository path ("…/x" and "…/x.git") stay distinct; a changed credential does not
 * move the mirror.  -EINVAL as source_url_classify(), -ENOMEM. */
int source_url_normalize(const char *url, char **ret);

/* Removes from text (NUL-terminated, edited in place) every "user:password@" of a scheme URL and every
 * occurrence of the password of url, so a message from a library that quotes the URL can be printed. */
void source_url_scrub_text(char *text, const char *url);
