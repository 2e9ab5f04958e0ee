/* Alpine (apk) versions, digits{.digits}[letter]{_suffix[digits]}[~hash][-rN], ordered as apk-tools
 * orders them: token by token, each token's kind fixed by what may follow what.  A version that runs out
 * first is newer than one going on, unless the other goes on with a pre-release suffix (_alpha, _beta,
 * _pre, _rc); _cvs, _svn, _git, _hg and _p come after the release. */
#include <errno.h>
#include <string.h>

#include "version-scheme.h"
#include "version.h"

/* In the order a version may hold them: a token may only be followed by one of a later kind, except that
 * digits repeat ('.'), and suffixes repeat. */
typedef enum ApkToken {
        APK_TOKEN_INITIAL_DIGIT,
        APK_TOKEN_DIGIT,
        APK_TOKEN_LETTER,
        APK_TOKEN_SUFFIX,
        APK_TOKEN_SUFFIX_NO,
        APK_TOKEN_HASH,
        APK_TOKEN_REVISION,
        APK_TOKEN_END,
        APK_TOKEN_INVALID,
} ApkToken;

/* Suffix ranks: below APK_SUFFIX_RELEASE sorts before the release itself. */
static const char *const apk_suffixes[] = {
        "alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg", "p"
};
#define APK_SUFFIX_RELEASE 4

typedef struct ApkCursor {
        const char *p; /* what is left to read */
        ApkToken token;
        const char *value; /* the current token's text */
        size_t n;
        int suffix; /* rank, for APK_TOKEN_SUFFIX */
} ApkCursor;

static bool apk_is_hex(char c) {
        return version_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static void apk_take_digits(ApkCursor *c, ApkToken token) {
        c->value = c->p;
        while (version_is_digit(*c->p))
                c->p++;
        c->n = c->p - c->value;
        c->token = c->n > 0 ? token : APK_TOKEN_INVALID;
}

static void apk_first(ApkCursor *c, const char *v) {
        c->p = v;
        apk_take_digits(c, APK_TOKEN_INITIAL_DIGIT);
}

static void apk_next(ApkCursor *c) {
        ApkToken prev = c->token;
        char ch = *c->p;

        if (ch == '\0') {
                c->token = APK_TOKEN_END;
                return;
        }
        if (version_is_lower(ch)) {
                if (prev > APK_TOKEN_DIGIT)
                        goto invalid;
                c->value = c->p++;
                c->n = 1;
                c->token = APK_TOKEN_LETTER;
                return;
        }
        if (ch == '.') {
                if (prev > APK_TOKEN_DIGIT)
                        goto invalid;
                c->p++;
                apk_take_digits(c, APK_TOKEN_DIGIT);
                return;
        }
        if (version_is_digit(ch)) {
                /* digits not after '.' only number a suffix (_rc1) */
                if (prev != APK_TOKEN_SUFFIX)
                        goto invalid;
                apk_take_digits(c, APK_TOKEN_SUFFIX_NO);
                return;
        }
        if (ch == '_') {
                if (prev > APK_TOKEN_SUFFIX_NO)
                        goto invalid;
                c->value = ++c->p;
                while (version_is_lower(*c->p))
                        c->p++;
                c->n = c->p - c->value;
                for (size_t i = 0; i < sizeof(apk_suffixes) / sizeof(apk_suffixes[0]); i++)
                        if (i != APK_SUFFIX_RELEASE && strlen(apk_suffixes[i]) == c->n &&
                            memcmp(apk_suffixes[i], c->value, c->n) == 0) {
                                c->suffix = (int) i;
                                c->token = APK_TOKEN_SUFFIX;
                                return;
                        }
                goto invalid;
        }
        if (ch == '~') {
                if (prev >= APK_TOKEN_HASH)
                        goto invalid;
                c->value = ++c->p;
                while (apk_is_hex(*c->p))
                        c->p++;
                c->n = c->p - c->value;
                c->token = c->n > 0 ? APK_TOKEN_HASH : APK_TOKEN_INVALID;
                return;
        }
        if (ch == '-') {
                if (prev >= APK_TOKEN_REVISION || c->p[1] != 'r')
                        goto invalid;
                c->p += 2;
                apk_take_digits(c, APK_TOKEN_REVISION);
                return;
        }
invalid:
        c->token = APK_TOKEN_INVALID;
}

/* Bytewise, a shorter prefix first. */
static int apk_string_compare(const ApkCursor *a, const ApkCursor *b) {
        int r = memcmp(a->value, b->value, a->n < b->n ? a->n : b->n);

        if (r != 0)
                return version_sign(r, 0);
        return version_sign((long long) a->n, (long long) b->n);
}

/* Two tokens of the same kind. */
static int apk_token_compare(const ApkCursor *a, const ApkCursor *b) {
        switch (a->token) {
        case APK_TOKEN_DIGIT:
                /* a component after the first with a leading zero compares as text: 1.02 < 1.1 */
                if (a->value[0] == '0' || b->value[0] == '0')
                        return apk_string_compare(a, b);
                __attribute__((fallthrough));
        case APK_TOKEN_INITIAL_DIGIT:
        case APK_TOKEN_SUFFIX_NO:
        case APK_TOKEN_REVISION:
                return version_digits_compare(a->value, a->n, b->value, b->n);
        case APK_TOKEN_LETTER:
                return version_sign(a->value[0], b->value[0]);
        case APK_TOKEN_SUFFIX:
                return version_sign(a->suffix, b->suffix);
        default:
                return apk_string_compare(a, b);
        }
}

bool version_apk_valid(const char *v) {
        ApkCursor c;

        for (apk_first(&c, v); c.token < APK_TOKEN_END; apk_next(&c))
                ;
        return c.token == APK_TOKEN_END;
}

int version_apk_compare(const char *a, const char *b, int *ret) {
        ApkCursor ca, cb;

        if (!version_apk_valid(a) || !version_apk_valid(b))
                return -EINVAL;

        for (apk_first(&ca, a), apk_first(&cb, b); ca.token == cb.token && ca.token < APK_TOKEN_END;
             apk_next(&ca), apk_next(&cb)) {
                int r = apk_token_compare(&ca, &cb);
                if (r != 0) {
                        *ret = r;
                        return 0;
                }
        }

        if (ca.token == cb.token)
                *ret = 0;
        else if (ca.token == APK_TOKEN_SUFFIX && ca.suffix < APK_SUFFIX_RELEASE)
                *ret = -1;
        else if (cb.token == APK_TOKEN_SUFFIX && cb.suffix < APK_SUFFIX_RELEASE)
                *ret = 1;
        else
                /* the one that goes on with a token of an earlier kind is the newer: 1.2.3 > 1.2 */
                *ret = ca.token < cb.token ? 1 : -1;
        return 0;
}
