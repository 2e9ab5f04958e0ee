/* PyPI versions as PEP 440 defines them, [N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local], with its
 * normalisations (any case, a leading 'v', alpha/beta/c/pre/preview, -N and rev/r for post, '-', '_' or
 * '.' separators, implicit 0 numbers) accepted, and its ordering: dev < pre < release < post, trailing
 * zero release segments ignored, a local version after its public one. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "version-scheme.h"
#include "version.h"

/* The rank of a pre-release; a version without one sorts after all of them, unless it is a bare dev
 * release (1.0.dev1), which sorts before them all. */
typedef enum Pep440Pre {
        PEP440_PRE_DEV_ONLY,
        PEP440_PRE_A,
        PEP440_PRE_B,
        PEP440_PRE_RC,
        PEP440_PRE_NONE,
} Pep440Pre;

typedef struct Slice {
        const char *p;
        size_t n;
} Slice;

typedef struct Pep440 {
        Slice epoch;   /* digits, empty for 0 */
        Slice release; /* "1.2.3" */
        Pep440Pre pre;
        Slice pre_n;
        bool post;
        Slice post_n;
        bool dev;
        Slice dev_n;
        Slice local; /* after '+', empty when none */
} Pep440;

typedef struct Pep440Label {
        const char *word;
        int value;
} Pep440Label;

/* Longest first, so "preview" is not read as "pre" followed by "view". */
static const Pep440Label pep440_pre_labels[] = {
        { "preview", PEP440_PRE_RC }, { "alpha", PEP440_PRE_A }, { "beta", PEP440_PRE_B },
        { "pre", PEP440_PRE_RC },     { "rc", PEP440_PRE_RC },   { "a", PEP440_PRE_A },
        { "b", PEP440_PRE_B },        { "c", PEP440_PRE_RC },
};
static const Pep440Label pep440_post_labels[] = { { "post", 0 }, { "rev", 0 }, { "r", 0 } };
static const Pep440Label pep440_dev_labels[] = { { "dev", 0 } };

static bool pep440_is_sep(char c) {
        return c == '.' || c == '-' || c == '_';
}

static bool pep440_is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static Slice pep440_digits(const char **s, const char *end) {
        Slice d = { *s, 0 };

        while (*s < end && version_is_digit(**s))
                (*s)++;
        d.n = *s - d.p;
        return d;
}

/* An optional separator, then one of labels (any case); on a match *s moves past it. */
static const Pep440Label *pep440_label(const char **s, const char *end, const Pep440Label *labels,
                                       size_t n) {
        const char *p = *s;

        if (p < end && pep440_is_sep(*p))
                p++;
        for (size_t i = 0; i < n; i++) {
                size_t k = strlen(labels[i].word);
                if ((size_t) (end - p) >= k && strncasecmp(p, labels[i].word, k) == 0) {
                        *s = p + k;
                        return &labels[i];
                }
        }
        return NULL;
}

/* The number after a label: an optional separator and digits; none (implicitly 0) when no digits follow. */
static Slice pep440_label_number(const char **s, const char *end) {
        const char *p = *s;

        if (p < end && pep440_is_sep(*p))
                p++;
        if (p < end && version_is_digit(*p)) {
                *s = p;
                return pep440_digits(s, end);
        }
        return (Slice) { *s, 0 };
}

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static int pep440_parse(const char *v, Pep440 *ret) {
        const char *s = v, *end = v + strlen(v);
        const Pep440Label *l;
        Pep440 p = { .pre = PEP440_PRE_NONE };

        while (s < end && pep440_is_space(*s))
                s++;
        while (end > s && pep440_is_space(end[-1]))
                end--;
        if (s < end && (*s == 'v' || *s == 'V'))
                s++;

        p.release = pep440_digits(&s, end);
        if (p.release.n == 0)
                return -EINVAL;
        if (s < end && *s == '!') {
                p.epoch = p.release;
                s++;
                p.release = pep440_digits(&s, end);
                if (p.release.n == 0)
                        return -EINVAL;
        }
        while (end - s >= 2 && s[0] == '.' && version_is_digit(s[1])) {
                s++;
                (void) pep440_digits(&s, end);
        }
        p.release.n = s - p.release.p;

        l = pep440_label(&s, end, pep440_pre_labels, ELEMENTSOF(pep440_pre_labels));
        if (l) {
                p.pre = (Pep440Pre) l->value;
                p.pre_n = pep440_label_number(&s, end);
        }

        if (end - s >= 2 && s[0] == '-' && version_is_digit(s[1])) {
                s++;
                p.post = true;
                p.post_n = pep440_digits(&s, end);
        } else if (pep440_label(&s, end, pep440_post_labels, ELEMENTSOF(pep440_post_labels))) {
                p.post = true;
                p.post_n = pep440_label_number(&s, end);
        }

        if (pep440_label(&s, end, pep440_dev_labels, ELEMENTSOF(pep440_dev_labels))) {
                p.dev = true;
                p.dev_n = pep440_label_number(&s, end);
        }
        if (p.pre == PEP440_PRE_NONE && !p.post && p.dev)
                p.pre = PEP440_PRE_DEV_ONLY;

        if (s < end && *s == '+') {
                /* alphanumeric segments separated by single '-', '_' or '.' */
                p.local.p = ++s;
                for (;;) {
                        const char *seg = s;
                        while (s < end && version_is_alnum(*s))
                                s++;
                        if (s == seg)
                                return -EINVAL;
                        if (s == end || !pep440_is_sep(*s))
                                break;
                        s++;
                }
                p.local.n = s - p.local.p;
        }

        if (s != end)
                return -EINVAL;
        *ret = p;
        return 0;
}

/* The next dot-separated release segment (empty, so 0, once the release ran out). */
static Slice pep440_next_segment(Slice *rest) {
        Slice seg = { rest->p, 0 };

        while (seg.n < rest->n && rest->p[seg.n] != '.')
                seg.n++;
        rest->p += seg.n;
        rest->n -= seg.n;
        if (rest->n > 0) {
                rest->p++;
                rest->n--;
        }
        return seg;
}

static int pep440_release_compare(Slice a, Slice b) {
        while (a.n > 0 || b.n > 0) {
                Slice sa = pep440_next_segment(&a), sb = pep440_next_segment(&b);
                int r = version_digits_compare(sa.p, sa.n, sb.p, sb.n);
                if (r != 0)
                        return r;
        }
        return 0;
}

static bool pep440_all_digits(Slice s) {
        for (size_t i = 0; i < s.n; i++)
                if (!version_is_digit(s.p[i]))
                        return false;
        return true;
}

/* Local labels segment by segment: numbers by value and after words, words without regard to case; a
 * label that is a prefix of the other sorts first. */
static int pep440_local_compare(Slice a, Slice b) {
        for (;;) {
                Slice sa = { a.p, 0 }, sb = { b.p, 0 };
                int r;

                if (a.n == 0 || b.n == 0)
                        return version_sign(a.n > 0, b.n > 0);
                while (sa.n < a.n && !pep440_is_sep(a.p[sa.n]))
                        sa.n++;
                while (sb.n < b.n && !pep440_is_sep(b.p[sb.n]))
                        sb.n++;

                bool da = pep440_all_digits(sa), db = pep440_all_digits(sb);
                if (da && db)
                        r = version_digits_compare(sa.p, sa.n, sb.p, sb.n);
                else if (da != db)
                        r = da ? 1 : -1;
                else {
                        r = 0;
                        for (size_t i = 0; r == 0 && i < sa.n && i < sb.n; i++)
                                r = version_sign(version_to_lower(sa.p[i]), version_to_lower(sb.p[i]));
                        if (r == 0)
                                r = version_sign((long long) sa.n, (long long) sb.n);
                }
                if (r != 0)
                        return r;

                a.p += sa.n, a.n -= sa.n;
                b.p += sb.n, b.n -= sb.n;
                if (a.n > 0)
                        a.p++, a.n--;
                if (b.n > 0)
                        b.p++, b.n--;
        }
}

static int pep440_order(const Pep440 *a, const Pep440 *b) {
        int r;

        r = version_digits_compare(a->epoch.p, a->epoch.n, b->epoch.p, b->epoch.n);
        if (r != 0)
                return r;
        r = pep440_release_compare(a->release, b->release);
        if (r != 0)
                return r;
        r = version_sign(a->pre, b->pre);
        if (r != 0)
                return r;
        if (a->pre != PEP440_PRE_NONE && a->pre != PEP440_PRE_DEV_ONLY) {
                r = version_digits_compare(a->pre_n.p, a->pre_n.n, b->pre_n.p, b->pre_n.n);
                if (r != 0)
                        return r;
        }
        r = version_sign(a->post, b->post);
        if (r != 0)
                return r;
        if (a->post) {
                r = version_digits_compare(a->post_n.p, a->post_n.n, b->post_n.p, b->post_n.n);
                if (r != 0)
                        return r;
        }
        /* a dev release comes before the same version without one */
        r = version_sign(b->dev, a->dev);
        if (r != 0)
                return r;
        if (a->dev) {
                r = version_digits_compare(a->dev_n.p, a->dev_n.n, b->dev_n.p, b->dev_n.n);
                if (r != 0)
                        return r;
        }
        return pep440_local_compare(a->local, b->local);
}

int version_pep440_compare(const char *a, const char *b, int *ret) {
        Pep440 pa, pb;
        int r;

        r = pep440_parse(a, &pa);
        if (r < 0)
                return r;
        r = pep440_parse(b, &pb);
        if (r < 0)
                return r;
        *ret = pep440_order(&pa, &pb);
        return 0;
}

bool version_pep440_valid(const char *v) {
        Pep440 p;

        return pep440_parse(v, &p) >= 0;
}
