/* sd-event main loop: signals and wake-ups; every wake-up runs the reconcile pass (the deployer's), which
 * starts and reaps the workers of pending jobs without blocking. */
#include "engine.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

struct Engine {
        sd_event *event;
        sd_event_source *sigterm, *sigint, *wake;
        int wake_fd;
        void (*reconcile)(void *userdata);
        void *reconcile_userdata;
};

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        log_info("Received %s, stopping.", si->ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static int engine_on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Engine *e = userdata;
        uint64_t v;

        /* Drain: many wakes before we run collapse into one pass. */
        if (read(fd, &v, sizeof v) < 0 && errno != EAGAIN)
                log_debug_errno(-errno, "Reading the wake-up eventfd failed: %m");
        if (e->reconcile)
                e->reconcile(e->reconcile_userdata);
        return 0;
}

int engine_new(Engine **ret) {
        Engine *e;
        sigset_t mask;
        int r;

        e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        e->wake_fd = -EBADF;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0) {
                r = -EINVAL;
                goto fail;
        }

        r = sd_event_default(&e->event);
        if (r < 0)
                goto fail;
        r = sd_event_add_signal(e->event, &e->sigterm, SIGTERM, on_signal, e);
        if (r < 0)
                goto fail;
        r = sd_event_add_signal(e->event, &e->sigint, SIGINT, on_signal, e);
        if (r < 0)
                goto fail;

        e->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (e->wake_fd < 0) {
                r = -errno;
                goto fail;
        }
        r = sd_event_add_io(e->event, &e->wake, e->wake_fd, EPOLLIN, engine_on_wake, e);
        if (r < 0)
                goto fail;

        *ret = e;
        return 0;
fail:
        engine_free(e);
        return r;
}

Engine *engine_free(Engine *e) {
        if (!e)
                return NULL;
        sd_event_source_disable_unref(e->wake);
        sd_event_source_disable_unref(e->sigterm);
        sd_event_source_disable_unref(e->sigint);
        safe_close(e->wake_fd);
        sd_event_unref(e->event);
        free(e);
        return NULL;
}

int engine_run(Engine *e) {
        return sd_event_loop(e->event);
}

void engine_set_reconcile(Engine *e, void (*fn)(void *userdata), void *userdata) {
        e->reconcile = fn;
        e->reconcile_userdata = userdata;
}

sd_event *engine_event(Engine *e) {
        return e->event;
}

void engine_wake(void *userdata) {
        Engine *e = userdata;
        uint64_t one = 1;

        if (write(e->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
                log_debug_errno(-errno, "Waking the engine failed: %m");
}
