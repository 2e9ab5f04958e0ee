/* /etc/hosts for an instance: localhost plus the environment's component names mapped to their
 * service addresses, so `http://orders:8080` resolves inside a container without DNS. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

/* Limits on what a caller may put into one file. */
#define NET_HOSTS_NAME_MAX 253
#define NET_HOSTS_ENTRIES_MAX 4096

typedef struct NetHostsEntry {
        const char *name; /* a host name: DNS labels of [A-Za-z0-9-], dots between */
        struct in_addr address;
} NetHostsEntry;

/* hostname: the instance's own name (mapped to 127.0.1.1 like Debian does), or NULL.
 * One line per entry, in the given order; the same name may appear with several addresses.
 * -EINVAL for an invalid name or address, -E2BIG for too many entries. */
int net_hosts_file_format(const char *hostname, const NetHostsEntry *entries, size_t n, char **ret);
/* Formats and writes path atomically (mode 0644). */
int net_hosts_file_write(const char *path, const char *hostname, const NetHostsEntry *entries, size_t n);

bool net_hostname_valid(const char *name);
