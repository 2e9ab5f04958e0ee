/* hosts(5) generation.  Names are validated as DNS names before they are written, so nothing a user
 * names (a component, a project) can inject extra lines or aliases; the file is replaced atomically so a
 * container never reads half of it. */
#include "hosts-file.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs-util.h"
#include "macro.h"
#include "string-util.h"

bool net_hostname_valid(const char *name) {
        size_t l, label = 0;

        if (isempty(name))
                return false;
        l = strlen(name);
        if (l > NET_HOSTS_NAME_MAX)
                return false;
        for (size_t i = 0; i < l; i++) {
                char c = name[i];

                if (c == '.') {
                        if (label == 0 || name[i - 1] == '-')
                                return false;
                        label = 0;
                        continue;
                }
                if (!ascii_isalnum(c) && c != '-')
                        return false;
                if (c == '-' && label == 0)
                        return false;
                if (++label > 63)
                        return false;
        }
        return label > 0 && name[l - 1] != '-';
}

int net_hosts_file_format(const char *hostname, const NetHostsEntry *entries, size_t n, char **ret) {
        _cleanup_free_ char *text = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        size_t size = 0;

        if (n > NET_HOSTS_ENTRIES_MAX)
                return -E2BIG;
        if (hostname && !net_hostname_valid(hostname))
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!net_hostname_valid(entries[i].name) || entries[i].address.s_addr == INADDR_ANY)
                        return -EINVAL;

        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fputs("# Written by Slipway; replaced on every deploy.\n"
              "127.0.0.1\tlocalhost\n"
              "::1\tlocalhost ip6-localhost ip6-loopback\n",
              f);
        if (hostname)
                fprintf(f, "127.0.1.1\t%s\n", hostname);
        for (size_t i = 0; i < n; i++) {
                char a[INET_ADDRSTRLEN];

                if (!inet_ntop(AF_INET, &entries[i].address, a, sizeof(a)))
                        return -EINVAL;
                fprintf(f, "%s\t%s\n", a, entries[i].name);
        }
        if (fflush(f) != 0 || ferror(f))
                return -ENOMEM;
        f = (fclose(f), NULL);
        *ret = TAKE_PTR(text);
        return 0;
}

int net_hosts_file_write(const char *path, const char *hostname, const NetHostsEntry *entries, size_t n) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = net_hosts_file_format(hostname, entries, n, &text);
        if (r < 0)
                return r;
        return write_file_atomic(path, text, strlen(text), 0644);
}
