/* Static probe run inside test containers: reports whether threads work and whether clone() and clone3()
 * with namespace flags are refused, as a program in the container would see it. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct probe_clone_args {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static void *thread_main(void *arg) {
        return arg;
}

int main(void) {
        pthread_t t;
        long pid;
        int r;

        r = pthread_create(&t, NULL, thread_main, NULL);
        printf("pthread_create: %s\n", r == 0 ? "ok" : "failed");
        if (r == 0)
                pthread_join(t, NULL);

        pid = syscall(SYS_clone, (unsigned long) (CLONE_NEWUSER | SIGCHLD), NULL, NULL, NULL, NULL);
        if (pid == 0)
                _exit(0);
        if (pid > 0)
                waitpid((pid_t) pid, NULL, 0);
        printf("clone(CLONE_NEWUSER): %s\n", pid >= 0 ? "allowed" : errno == EPERM ? "EPERM" : "failed");

        pid = syscall(SYS_clone, (unsigned long) SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid == 0)
                _exit(0);
        if (pid > 0)
                waitpid((pid_t) pid, NULL, 0);
        printf("clone(plain): %s\n", pid >= 0 ? "ok" : "failed");

        struct probe_clone_args a = { .flags = CLONE_NEWUSER, .exit_signal = SIGCHLD };
        pid = syscall(SYS_clone3, &a, sizeof a);
        if (pid == 0)
                _exit(0);
        if (pid > 0)
                waitpid((pid_t) pid, NULL, 0);
        printf("clone3(CLONE_NEWUSER): %s\n", pid >= 0          ? "allowed"
                                              : errno == ENOSYS ? "ENOSYS"
                                              : errno == EPERM  ? "EPERM"
                                                                : "failed");
        return 0;
}
