/* container_run(): one command in a bundle under systemd-nspawn, output streamed, cancel and deadline.
 * Invariant: nspawn is always waited for; on cancel or deadline it is stopped (SIGTERM, then SIGKILL to the
 * payload and nspawn after a short grace) before this returns. */
#include "container-run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

int container_run(const NspawnRun *run, int cancel_fd, uint64_t deadline_usec, container_output_fn on_output,
                  void *userdata) {
        _cleanup_close_ int out_r = -EBADF, out_w = -EBADF;
        NspawnRun nr;
        int p[2], stop = 0, r;
        pid_t pid;

        if (!run)
                return -EINVAL;
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        out_r = p[0];
        out_w = p[1];
        nr = *run;
        nr.stdout_fd = out_w;
        nr.stderr_fd = out_w;
        pid = nspawn_start(&nr);
        out_w = safe_close(out_w);
        if (pid < 0)
                return pid;

        for (;;) {
                struct pollfd fds[2] = {
                        { .fd = out_r, .events = POLLIN },
                        { .fd = cancel_fd, .events = POLLIN },
                };
                int timeout = -1;
                char buf[4096];
                ssize_t n;

                if (!stop && deadline_usec > 0) {
                        uint64_t now = now_usec();
                        timeout = now >= deadline_usec
                                          ? 0
                                          : (int) MIN((deadline_usec - now) / 1000 + 1, 60000ULL);
                }
                r = poll(fds, !stop && cancel_fd >= 0 ? 2 : 1, timeout);
                if (r < 0 && errno != EINTR)
                        break;
                if (!stop && ((r > 0 && (fds[1].revents & POLLIN)) ||
                              (deadline_usec > 0 && now_usec() >= deadline_usec))) {
                        stop = (r > 0 && (fds[1].revents & POLLIN)) ? -ECANCELED : -ETIME;
                        (void) nspawn_stop(pid, CONTAINER_RUN_STOP_GRACE_MS); /* waits for nspawn */
                        pid = 0;
                        continue;
                }
                if (r <= 0 || !(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                n = read(out_r, buf, sizeof buf);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n <= 0)
                        break; /* every writer is gone: nspawn and whatever the payload left running */
                if (on_output)
                        on_output(buf, (size_t) n, userdata);
        }
        r = pid > 0 ? nspawn_wait(pid) : 0;
        return stop < 0 ? stop : r;
}
