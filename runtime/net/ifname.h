/* Network interface names: validation and short stable names derived from arbitrary keys.
 * Every name this module hands out fits IFNAMSIZ and uses only characters safe in nft scripts. */
#pragma once

#include <net/if.h>
#include <stdbool.h>

#define NET_IFNAME_MAX (IFNAMSIZ - 1)
/* The hash part: 8 hex digits after a short prefix ("sw-", "swv"), down to 6 after a longer one (a
 * state dir's "sw<id>-"), so the names short prefixes always gave stay what they were. */
#define NET_IFNAME_HASH_DIGITS 8
#define NET_IFNAME_HASH_DIGITS_MIN 6
#define NET_IFNAME_PREFIX_MAX (NET_IFNAME_MAX - NET_IFNAME_HASH_DIGITS_MIN)

/* 1..15 characters of [A-Za-z0-9_.-], not "." or "..". */
bool net_ifname_valid(const char *s);

/* prefix + the first 8 (6 to 8, as prefix leaves room) hex digits of sha256(key): the same key always
 * gives the same name.
 * -EINVAL when prefix is too long or not valid in an interface name. */
int net_ifname_from_key(const char *prefix, const char *key, char ret[static IFNAMSIZ]);
