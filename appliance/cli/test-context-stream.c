/* Unit test for the build context stream: a directory goes out as a chunked tar with .dockerignore applied
 * like Docker's client (excluded files and directories left out, '!' re-includes, the Dockerfile and
 * .dockerignore always sent), symlinks as links (never followed), hardlinks as tar hardlinks, owners 0. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "context-stream.h"
#include "fs-util.h"
#include "macro.h"

#include "tests.h"

typedef struct Sink {
        int fd;
        char *buf;
        size_t size;
} Sink;

static void *sink_thread(void *userdata) {
        Sink *s = userdata;
        size_t cap = 0;

        for (;;) {
                if (s->size + 65536 > cap) {
                        cap = cap * 2 + 65536;
                        s->buf = realloc(s->buf, cap);
                        CHECK(s->buf);
                }
                ssize_t n = read(s->fd, s->buf + s->size, cap - s->size);
                CHECK(n >= 0);
                if (n == 0)
                        break;
                s->size += (size_t) n;
        }
        return NULL;
}

/* The chunked body after the request head, decoded. */
static char *dechunk(const char *req, size_t size, size_t *ret_size) {
        const char *p = memmem(req, size, "\r\n\r\n", 4), *end = req + size;
        char *out = malloc(size);
        size_t n = 0;

        CHECK(p && out);
        CHECK(memmem(req, (size_t) (p - req), "Transfer-Encoding: chunked", 26));
        p += 4;
        for (;;) {
                char *e;
                unsigned long len = strtoul(p, &e, 16);
                CHECK(e > p && e + 2 <= end && e[0] == '\r' && e[1] == '\n');
                p = e + 2;
                if (len == 0)
                        break;
                CHECK(p + len + 2 <= end);
                memcpy(out + n, p, len);
                n += len;
                p += len + 2;
        }
        *ret_size = n;
        return out;
}

static void write_file(const char *dir, const char *rel, const char *text) {
        _cleanup_free_ char *p = path_join(dir, rel), *parent = NULL;
        char *slash;

        CHECK(p);
        parent = strdup(p);
        slash = strrchr(parent, '/');
        *slash = 0;
        CHECK(mkdir_p(parent, 0755) >= 0);
        CHECK(write_file_atomic(p, text, strlen(text), 0644) >= 0);
}

typedef struct Seen {
        char name[256];
        mode_t type;
        char link[256];
        char hardlink[256];
        int64_t uid;
} Seen;

static const Seen *find(const Seen *seen, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(seen[i].name, name))
                        return &seen[i];
        return NULL;
}

int main(void) {
        char top[] = "/tmp/test-context-stream-XXXXXX";
        _cleanup_free_ char *dir = NULL, *err = NULL, *body = NULL, *p = NULL, *q = NULL;
        Seen seen[64] = {};
        size_t n_seen = 0, body_size;
        HttpConn *conn = NULL;
        Sink sink = {};
        pthread_t thread;
        int sv[2];

        CHECK(mkdtemp(top));
        dir = path_join(top, "ctx");
        write_file(dir, "Dockerfile", "FROM scratch\n");
        write_file(dir, ".dockerignore", "# test\n*.log\n!keep.log\nsecret\ndocker\nDockerfile\n");
        write_file(dir, "docker/Dockerfile.dev", "FROM scratch\n");
        write_file(dir, "docker/notes", "left out\n");
        write_file(dir, "a.log", "left out\n");
        write_file(dir, "keep.log", "kept\n");
        write_file(dir, "secret/key", "left out\n");
        write_file(dir, "src/main.c", "int main(void) { return 0; }\n");
        p = path_join(dir, "src/main.c");
        q = path_join(dir, "src/hard.c");
        CHECK(link(p, q) == 0);
        free(q);
        q = path_join(dir, "out-link");
        CHECK(symlink("/etc/passwd", q) == 0);
        free(q);
        q = path_join(dir, "empty");
        CHECK(mkdir(q, 0700) == 0);

        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        sink.fd = sv[1];
        CHECK(pthread_create(&thread, NULL, sink_thread, &sink) == 0);
        CHECK(http_conn_open_fd(sv[0], "test", "token", "POST", "/api/v1/images/build", "application/x-tar",
                                HTTP_BODY_CHUNKED, &conn) == 0);
        /* The Dockerfile is docker/Dockerfile.dev: it is sent although "docker" is ignored. */
        CHECK(context_stream_to_conn(dir, "docker/Dockerfile.dev", conn, &err) == 0);
        CHECK(http_conn_finish(conn) == 0);
        CHECK(shutdown(sv[0], SHUT_WR) == 0);
        CHECK(pthread_join(thread, NULL) == 0);
        http_conn_free(conn);
        safe_close(sv[1]);

        body = dechunk(sink.buf, sink.size, &body_size);
        struct archive *a = archive_read_new();
        struct archive_entry *e;
        CHECK(a);
        archive_read_support_format_tar(a);
        CHECK(archive_read_open_memory(a, body, body_size) == ARCHIVE_OK);
        while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
                CHECK(n_seen < ELEMENTSOF(seen));
                Seen *s = &seen[n_seen++];
                snprintf(s->name, sizeof s->name, "%s", archive_entry_pathname(e));
                s->type = archive_entry_filetype(e);
                snprintf(s->link, sizeof s->link, "%s", strempty(archive_entry_symlink(e)));
                snprintf(s->hardlink, sizeof s->hardlink, "%s", strempty(archive_entry_hardlink(e)));
                s->uid = archive_entry_uid(e);
                CHECK(s->uid == 0 && archive_entry_gid(e) == 0);
                CHECK(s->name[0] != '/' && !strstr(s->name, top));
        }
        archive_read_free(a);

        CHECK(find(seen, n_seen, "docker/Dockerfile.dev")); /* ignored, but the one in use: always sent */
        CHECK(!find(seen, n_seen, "Dockerfile"));           /* ignored and not the one in use (-f) */
        CHECK(find(seen, n_seen, ".dockerignore"));
        CHECK(find(seen, n_seen, "keep.log"));
        CHECK(find(seen, n_seen, "src/main.c"));
        CHECK(!find(seen, n_seen, "docker/notes"));
        CHECK(!find(seen, n_seen, "a.log"));
        CHECK(!find(seen, n_seen, "secret/") && !find(seen, n_seen, "secret/key"));
        const Seen *l = find(seen, n_seen, "out-link");
        CHECK(l && l->type == AE_IFLNK && streq(l->link, "/etc/passwd"));
        for (size_t i = 0; getenv("DEBUG") && i < n_seen; i++)
                fprintf(stderr, "%s %o\n", seen[i].name, (unsigned) seen[i].type);
        const Seen *d = find(seen, n_seen, "empty/"); /* tar names directories with a trailing slash */
        CHECK(d && d->type == AE_IFDIR);
        const Seen *h1 = find(seen, n_seen, "src/main.c"), *h2 = find(seen, n_seen, "src/hard.c");
        CHECK(h2 && (streq(h1->hardlink, "src/hard.c") || streq(h2->hardlink, "src/main.c")));

        free(sink.buf);
        CHECK(rm_rf(top) >= 0);
        printf("test-context-stream: ok (%zu entries)\n", n_seen);
        return 0;
}
