#define _GNU_SOURCE
#include "cc_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <pthread.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

typedef struct {
    const cc_spawn_request *request;
    int report_fd;   // write end of the error pipe (close-on-exec)
} child_args;

static const char *const step_names[] = {"cgroup", "rlimit", "setsid", "setgid", "setuid", "exec", "fd"};

// Runs in the child, which shares the parent's memory until exec (CLONE_VM | CLONE_VFORK): only raw system calls,
// no allocation, no locks. Credentials are changed with raw syscalls because glibc's setuid() would try to
// synchronise with the parent's other threads.
static void report_and_exit(int fd, int step) {
    int payload[2] = {step, errno};
    ssize_t ignored = write(fd, payload, sizeof payload);
    (void)ignored;
    _exit(127);
}

static int child_main(void *raw) {
    const child_args *args = raw;
    const cc_spawn_request *r = args->request;

    // Signals: default dispositions and an empty mask for the new program.
    for (int sig = 1; sig < 65; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        syscall(SYS_rt_sigaction, sig, &sa, NULL, 8);
    }
    sigset_t empty;
    sigemptyset(&empty);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, 8);

    for (int i = 0; i < CC_SPAWN_MAX_CGROUPS && r->cgroup_procs[i]; i++) {
        int fd = open(r->cgroup_procs[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1) report_and_exit(args->report_fd, 0);
        close(fd);
    }
    for (int i = 0; i < r->limit_count; i++) {
        struct rlimit lim = {r->limits[i].soft, r->limits[i].hard};
        if (setrlimit(r->limits[i].resource, &lim) != 0) report_and_exit(args->report_fd, 1);
    }
    if (setsid() < 0) report_and_exit(args->report_fd, 2);
    if (r->drop_privileges) {
        if (syscall(SYS_setgroups, 0, NULL) != 0) report_and_exit(args->report_fd, 3);
        if (syscall(SYS_setresgid, r->gid, r->gid, r->gid) != 0) report_and_exit(args->report_fd, 3);
        if (syscall(SYS_setresuid, r->uid, r->uid, r->uid) != 0) report_and_exit(args->report_fd, 4);
    }

    // Standard streams, then fd 3, then nothing else survives exec.
    int fds[4] = {r->stdin_fd, r->stdout_fd, r->stderr_fd, r->extra_fd};
    int moved[4];
    for (int i = 0; i < 4; i++) {
        moved[i] = -1;
        if (fds[i] >= 0) {
            moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);
            if (moved[i] < 0) report_and_exit(args->report_fd, 6);
        }
    }
    for (int i = 0; i < 4; i++) {
        if (moved[i] >= 0 && dup2(moved[i], i) < 0) report_and_exit(args->report_fd, 6);
    }
    // Everything from 4 up closes on exec (the error pipe too, which tells the parent that exec succeeded).
    if (syscall(SYS_close_range, 4, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
        // Older kernels: mark each descriptor by hand. No platform descriptor (the database file!) may leak in.
        struct rlimit nofile;
        long top = (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 1048576) ? (long)nofile.rlim_cur : 65536;
        for (long fd = 4; fd < top; fd++) fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    }

    execve(r->path, r->argv, r->envp);
    report_and_exit(args->report_fd, 5);
    return 127;
}

pid_t cc_spawn(const cc_spawn_request *request, const char **failed_step) {
    *failed_step = NULL;
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -1;

    size_t stack_size = 256 * 1024;
    char *stack = malloc(stack_size);
    if (!stack) { close(report[0]); close(report[1]); errno = ENOMEM; return -1; }

    // Block signals so that no handler of the parent runs on the child's stack before exec.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);

    child_args args = {request, report[1]};
    pid_t pid = clone(child_main, stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
    int clone_errno = errno;

    pthread_sigmask(SIG_SETMASK, &old, NULL);
    free(stack);
    close(report[1]);
    if (pid < 0) { close(report[0]); errno = clone_errno; return -1; }

    int payload[2];
    ssize_t got;
    do { got = read(report[0], payload, sizeof payload); } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof payload) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        *failed_step = step_names[payload[0]];
        errno = payload[1];
        return -1;
    }
    return pid;
}

int cc_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
int cc_memfd(const char *name) { return memfd_create(name, MFD_CLOEXEC); }
int cc_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
const int CC_RLIMIT_NPROC = RLIMIT_NPROC;
const int CC_RLIMIT_CPU = RLIMIT_CPU;
const int CC_RLIMIT_AS = RLIMIT_AS;
const int CC_RLIMIT_FSIZE = RLIMIT_FSIZE;
const int CC_RLIMIT_NOFILE = RLIMIT_NOFILE;
const int CC_RLIMIT_CORE = RLIMIT_CORE;
