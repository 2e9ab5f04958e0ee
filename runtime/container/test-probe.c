/* Unit tests of probes and spawning that need no container: probe specs and signal names, spawn
 * reporting a missing program, and HTTP probes against a canned peer on loopback that answers with a
 * redirect, a 503, a non-HTTP banner, a close, silence and a 200. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fs-util.h"
#include "instance.h"
#include "macro.h"
#include "probe.h"
#include "process.h"
#include "test-listener.h"
#include "tests.h"

static void test_spawn_options(void) {
        char *missing[] = { (char *) "/nonexistent/slipway-no-such-binary", NULL };
        char *ok[] = { (char *) "true", NULL };
        SpawnOptions o = SPAWN_OPTIONS_INIT;
        pid_t pid;

        o.wait_for_exec = true;
        CHECK(spawn_process(missing, &o) == -ENOENT); /* reported, and the child already reaped */
        pid = spawn_process(ok, &o);
        CHECK(pid > 0 && wait_for_pid(pid, NULL) == 0);
}

static void test_probe_spec(void) {
        Probe *pr = NULL;
        ProbeSpec s = {
                .type = PROBE_HTTP, .address = "10.0.0.1", .port = 80, .path = "/x y", .timeout_ms = 10
        };

        CHECK(probe_new(&s, &pr) == -EINVAL); /* space in path */
        s.path = "relative";
        CHECK(probe_new(&s, &pr) == -EINVAL);
        s.path = "/ok";
        s.address = "not-an-address";
        CHECK(probe_new(&s, &pr) == -EINVAL);
        s.address = "10.0.0.1";
        s.timeout_ms = 0;
        CHECK(probe_new(&s, &pr) == -EINVAL);
        s.timeout_ms = 10;
        s.port = 0;
        CHECK(probe_new(&s, &pr) == -EINVAL);
        CHECK(probe_type_from_string("http") == PROBE_HTTP && probe_type_from_string("udp") < 0);
        CHECK(instance_signal_from_string("SIGTERM") == SIGTERM &&
              instance_signal_from_string("QUIT") == SIGQUIT &&
              instance_signal_from_string("9") == SIGKILL &&
              instance_signal_from_string("SIGRTMIN+3") == SIGRTMIN + 3 &&
              instance_signal_from_string("SIGBOGUS") == -EINVAL &&
              instance_signal_from_string("0") == -EINVAL);
}

/* A canned HTTP peer on 127.0.0.1: answers the i-th connection with responses[i] (NULL: say nothing
 * and keep the connection open until the peer closes), after checking the request it got. */
static const char *const canned[] = {
        "HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n",
        "HTTP/1.0 503 Service Unavailable\r\n\r\n",
        "SSH-2.0-OpenSSH_9.2\r\n",
        "", /* close at once */
        NULL,
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
};
static int canned_fd;

static int canned_server(void *userdata) {
        char req[2048];

        for (size_t k = 0; k < ELEMENTSOF(canned); k++) {
                int c = accept4(canned_fd, NULL, NULL, SOCK_CLOEXEC);
                ssize_t n, got = 0;

                if (c < 0)
                        return 10;
                /* Read the whole request head. */
                while (!memmem(req, (size_t) got, "\r\n\r\n", 4)) {
                        n = read(c, req + got, sizeof(req) - 1 - (size_t) got);
                        if (n <= 0)
                                return 11;
                        got += n;
                }
                req[got] = 0;
                if (!strstr(req, "GET /healthz HTTP/1.1\r\n") || !strstr(req, "\r\nHost: 127.0.0.1:") ||
                    !strstr(req, "\r\nConnection: close\r\n"))
                        return 12;
                if (!canned[k]) {
                        (void) !read(c, req, 1); /* until the prober gives up */
                } else if (loop_write(c, canned[k], strlen(canned[k])) < 0)
                        return 13;
                safe_close(c);
        }
        return 0;
}

static void test_probe_local(void) {
        ProbeSpec s = { .type = PROBE_HTTP, .address = "127.0.0.1", .path = "/healthz", .timeout_ms = 2000 };
        ProbeResult r;
        pid_t pid;

        canned_fd = test_tcp_listener(0, true, &s.port);
        CHECK(canned_fd >= 0);
        pid = fork_function(canned_server, NULL);
        CHECK(pid > 0);

        CHECK_OK(probe_run(&s, &r));
        CHECK(r.healthy && r.http_status == 302); /* redirects count as healthy */
        CHECK_OK(probe_run(&s, &r));
        CHECK(!r.healthy && r.http_status == 503 && strstr(r.message, "HTTP 503 from 127.0.0.1:"));
        CHECK_OK(probe_run(&s, &r));
        CHECK(!r.healthy && r.http_status == 0 && r.error == EBADMSG);
        CHECK_OK(probe_run(&s, &r));
        CHECK(!r.healthy && r.error == ECONNRESET && strstr(r.message, "without a response"));
        s.timeout_ms = 300;
        CHECK_OK(probe_run(&s, &r));
        fprintf(stderr, "  probe: %s\n", r.message);
        CHECK(!r.healthy && r.error == ETIMEDOUT && strstr(r.message, "300 ms"));

        /* The same as an event loop drives it: wait on fd/events or the deadline, then step. */
        {
                Probe *pr = NULL;
                int k = 0, rr;

                s.timeout_ms = 2000;
                CHECK_OK(probe_new(&s, &pr));
                rr = probe_start(pr);
                while (rr == 0) {
                        struct pollfd pfd = { .fd = probe_fd(pr), .events = (short) probe_events(pr) };
                        CHECK(pfd.fd >= 0 && pfd.events != 0 && probe_deadline_usec(pr) > 0);
                        CHECK(poll(&pfd, 1, 2000) >= 0);
                        rr = probe_step(pr, (uint32_t) pfd.revents);
                        k++;
                }
                CHECK(rr == 1 && k >= 1);
                CHECK(probe_result(pr)->healthy && probe_result(pr)->http_status == 200);
                probe_free(pr);
        }
        CHECK(wait_for_pid(pid, NULL) == 0);
        canned_fd = safe_close(canned_fd);
}

int main(void) {
        test_spawn_options();
        test_probe_spec();
        test_probe_local();
        printf("test-probe: ok\n");
        return 0;
}
