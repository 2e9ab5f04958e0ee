/* Interface names.  Callers name bridges and veths from keys such as "project/environment", which are
 * too long for IFNAMSIZ; hashing gives a stable name that survives restarts without a lookup table. */
#include "ifname.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "digest.h"
#include "macro.h"
#include "string-util.h"

static bool ifname_char_ok(char c) {
        return ascii_isalnum(c) || c == '-' || c == '_' || c == '.';
}

bool net_name_valid(const char *s, size_t max) {
        size_t l;

        if (isempty(s))
                return false;
        l = strlen(s);
        if (l > max || streq(s, ".") || streq(s, ".."))
                return false;
        for (size_t i = 0; i < l; i++)
                if (!ifname_char_ok(s[i]))
                        return false;
        return true;
}

bool net_ifname_valid(const char *s) {
        return net_name_valid(s, NET_IFNAME_MAX);
}

int net_ifname_from_key(const char *prefix, const char *key, char ret[static IFNAMSIZ]) {
        char digest[DIGEST_STRING_MAX];
        size_t l = strlen(prefix);

        if (l > NET_IFNAME_PREFIX_MAX)
                return -EINVAL;
        for (size_t i = 0; i < l; i++)
                if (!ifname_char_ok(prefix[i]))
                        return -EINVAL;
        sha256_digest_string(key, strlen(key), digest);
        snprintf(ret, IFNAMSIZ, "%s%.*s", prefix,
                 (int) MIN((size_t) NET_IFNAME_HASH_DIGITS, NET_IFNAME_MAX - l), digest_hex(digest));
        return 0;
}
