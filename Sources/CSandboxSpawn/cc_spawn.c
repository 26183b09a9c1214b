#define _GNU_SOURCE
#include "cc_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <pthread.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

typedef struct {
    const cc_spawn_request *request;
    int report_fd;   // write end of the error pipe (close-on-exec)
} child_args;

static const char *const step_names[] = {"cgroup", "rlimit", "setsid", "setgid", "setuid", "exec", "fd", "namespace", "overlay", "netns"};

// Runs in the child, which shares the parent's memory until exec (CLONE_VM | CLONE_VFORK): only raw system calls,
// no allocation, no locks. Credentials are changed with raw syscalls because glibc's setuid() would try to
// synchronise with the parent's other threads.
static void report_and_exit(int fd, int step) {
    int payload[2] = {step, errno};
    ssize_t ignored = write(fd, payload, sizeof payload);
    (void)ignored;
    _exit(127);
}

static void reset_signals(void) {
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
}

static void join_cgroups(const cc_spawn_request *r, int report_fd) {
    for (int i = 0; i < CC_SPAWN_MAX_CGROUPS && r->cgroup_procs[i]; i++) {
        int fd = open(r->cgroup_procs[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1) report_and_exit(report_fd, 0);
        close(fd);
    }
}

/// Puts the given descriptors at 0, 1, 2, … (-1: leave that slot closed).
static void place_descriptors(const int *fds, int count, int report_fd) {
    int moved[8];
    for (int i = 0; i < count; i++) {
        moved[i] = -1;
        if (fds[i] >= 0) {
            moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);
            if (moved[i] < 0) report_and_exit(report_fd, 6);
        }
    }
    for (int i = 0; i < count; i++) {
        if (moved[i] >= 0 && dup2(moved[i], i) < 0) report_and_exit(report_fd, 6);
        if (moved[i] < 0) close(i);
    }
}

static void mark_cloexec_from(unsigned int first) {
    if (syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
        // Older kernels: mark each descriptor by hand. No platform descriptor (the database file!) may leak in.
        struct rlimit nofile;
        long top = (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 1048576) ? (long)nofile.rlim_cur : 65536;
        for (long fd = first; fd < top; fd++) fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    }
}

/// Writes `text` to a /proc/self file (raw calls only).
static int write_proc(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t length = strlen(text);
    int ok = write(fd, text, length) == (ssize_t)length;
    close(fd);
    return ok ? 0 : -1;
}

/// "0 <id> 1": the id as root of the new user namespace. No allocation: digits into the caller's buffer.
static void id_map(char *buffer, unsigned int id) {
    char digits[12];
    int n = 0;
    do { digits[n++] = (char)('0' + id % 10); id /= 10; } while (id > 0);
    char *p = buffer;
    *p++ = '0'; *p++ = ' ';
    while (n > 0) *p++ = digits[--n];
    *p++ = ' '; *p++ = '1'; *p = 0;
}

/// A layer job: its own user namespace (its uid as root there) and a private mount namespace with the overlays.
static void enter_layer(const cc_spawn_request *r, int report_fd) {
    unsigned int uid = (unsigned int)syscall(SYS_geteuid), gid = (unsigned int)syscall(SYS_getegid);
    // Changing uid made the process non-dumpable, which gives its /proc/self files to root: it could not write its
    // own uid_map. Dumpable again (exec decides afresh in a moment; only this job's uid could trace it meanwhile).
    if (syscall(SYS_prctl, PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) report_and_exit(report_fd, 7);
    if (syscall(SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS) != 0) report_and_exit(report_fd, 7);
    char map[32];
    if (write_proc("/proc/self/setgroups", "deny") != 0) report_and_exit(report_fd, 7);
    id_map(map, uid);
    if (write_proc("/proc/self/uid_map", map) != 0) report_and_exit(report_fd, 7);
    id_map(map, gid);
    if (write_proc("/proc/self/gid_map", map) != 0) report_and_exit(report_fd, 7);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) report_and_exit(report_fd, 7);
    for (int i = 0; i < r->overlay_count && i < CC_SPAWN_MAX_OVERLAYS; i++) {
        if (mount("overlay", r->overlay_targets[i], "overlay", 0, r->overlay_options[i]) != 0) report_and_exit(report_fd, 8);
    }
}

/// The last steps before exec: rlimits, new session, the job's uid, a layer's mounts, then bwrap.
static void become_job(const cc_spawn_request *r, int netns_fd, int report_fd) {
    for (int i = 0; i < r->limit_count; i++) {
        struct rlimit lim = {r->limits[i].soft, r->limits[i].hard};
        if (setrlimit(r->limits[i].resource, &lim) != 0) report_and_exit(report_fd, 1);
    }
    if (setsid() < 0) report_and_exit(report_fd, 2);
    if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) != 0) report_and_exit(report_fd, 9);
    if (r->drop_privileges) {
        if (syscall(SYS_setgroups, 0, NULL) != 0) report_and_exit(report_fd, 3);
        if (syscall(SYS_setresgid, r->gid, r->gid, r->gid) != 0) report_and_exit(report_fd, 3);
        if (syscall(SYS_setresuid, r->uid, r->uid, r->uid) != 0) report_and_exit(report_fd, 4);
    }
    if (r->overlay_count > 0) enter_layer(r, report_fd);
    execve(r->path, r->argv, r->envp);
    report_and_exit(report_fd, 5);
}

static int child_main(void *raw) {
    const child_args *args = raw;
    const cc_spawn_request *r = args->request;
    reset_signals();
    // The error pipe out of the slots about to be filled (0–6), so placing a descriptor cannot overwrite it.
    int report = fcntl(args->report_fd, F_DUPFD_CLOEXEC, 10);
    if (report < 0) report_and_exit(args->report_fd, 6);
    int netns = r->netns_fd >= 0 ? fcntl(r->netns_fd, F_DUPFD_CLOEXEC, 10) : -1;  // likewise
    if (r->netns_fd >= 0 && netns < 0) report_and_exit(report, 6);
    join_cgroups(r, report);
    int fds[CC_SPAWN_SECCOMP_FD + 1] = {r->stdin_fd, r->stdout_fd, r->stderr_fd, r->extra_fd, r->extra_fd2, -1, r->seccomp_fd};
    place_descriptors(fds, CC_SPAWN_SECCOMP_FD + 1, report);
    // Everything above the filter closes on exec (the error pipe too, which tells the parent that exec succeeded).
    mark_cloexec_from(CC_SPAWN_SECCOMP_FD + 1);
    become_job(r, netns, report);
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
int cc_unshare_mounts(void) { return unshare(CLONE_NEWNS); }
int cc_is_tmpfs(const char *path) {
    struct statfs info;
    if (statfs(path, &info) != 0) return -1;
    return info.f_type == TMPFS_MAGIC;
}
int cc_rwlock_init_writer_first(pthread_rwlock_t *lock) {
    pthread_rwlockattr_t attributes;
    if (pthread_rwlockattr_init(&attributes) != 0) return -1;
    pthread_rwlockattr_setkind_np(&attributes, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int result = pthread_rwlock_init(lock, &attributes);
    pthread_rwlockattr_destroy(&attributes);
    return result;
}
const int CC_RLIMIT_NPROC = RLIMIT_NPROC;
const int CC_RLIMIT_CPU = RLIMIT_CPU;
const int CC_RLIMIT_AS = RLIMIT_AS;
const int CC_RLIMIT_FSIZE = RLIMIT_FSIZE;
const int CC_RLIMIT_NOFILE = RLIMIT_NOFILE;
const int CC_RLIMIT_CORE = RLIMIT_CORE;

// ---- Warm launchers ----

enum { WARM_COMMAND_FD = 4, WARM_REPORT_FD = 5 };

static int warm_main(void *raw) {
    cc_warm *warm = raw;
    const cc_spawn_request *prepare = warm->job;
    int command = -1, report = -1;
    // Our descriptors first: the four job streams at 0–3, command and report at 4 and 5, the filter at 6, then close
    // the rest for real (not just on exec): a copy of a client socket held here would keep that connection open.
    int fds[4] = {prepare->stdin_fd, prepare->stdout_fd, prepare->stderr_fd, prepare->extra_fd};
    command = fcntl(warm->command_fd, F_DUPFD_CLOEXEC, 10);
    report = fcntl(warm->report_fd, F_DUPFD_CLOEXEC, 10);
    int filter = prepare->seccomp_fd >= 0 ? fcntl(prepare->seccomp_fd, F_DUPFD_CLOEXEC, 10) : -1;
    if (command < 0 || report < 0 || (prepare->seccomp_fd >= 0 && filter < 0)) _exit(127);
    place_descriptors(fds, 4, report);
    if (dup3(command, WARM_COMMAND_FD, 0) < 0 || dup3(report, WARM_REPORT_FD, O_CLOEXEC) < 0) _exit(127);
    if (filter >= 0 ? dup3(filter, CC_SPAWN_SECCOMP_FD, 0) < 0 : close(CC_SPAWN_SECCOMP_FD) < 0 && errno != EBADF) _exit(127);
    syscall(SYS_close_range, CC_SPAWN_SECCOMP_FD + 1, ~0U, 0);
    reset_signals();
    join_cgroups(prepare, WARM_REPORT_FD);
    int ready[2] = {-1, 0};
    if (write(WARM_REPORT_FD, ready, sizeof ready) != sizeof ready) _exit(127);

    // Wait for the job: the parent writes one byte once warm->job points at it. EOF: the platform is gone.
    char go;
    ssize_t got;
    do { got = read(WARM_COMMAND_FD, &go, 1); } while (got < 0 && errno == EINTR);
    if (got != 1) _exit(0);
    close(WARM_COMMAND_FD);
    become_job(warm->job, -1, WARM_REPORT_FD);  // (jobs with a network of their own are never given to a warm launcher)
    return 127;
}

static int read_report(int fd, int payload[2]) {
    ssize_t got;
    do { got = read(fd, payload, 2 * sizeof(int)); } while (got < 0 && errno == EINTR);
    return (int)got;
}

int cc_warm_start(const cc_spawn_request *prepare, cc_warm *warm, const char **failed_step) {
    *failed_step = NULL;
    memset(warm, 0, sizeof *warm);
    int command[2], report[2];
    if (pipe2(command, O_CLOEXEC) != 0) return -1;
    if (pipe2(report, O_CLOEXEC) != 0) { close(command[0]); close(command[1]); return -1; }
    warm->stack_size = 256 * 1024;
    warm->stack = mmap(NULL, warm->stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (warm->stack == MAP_FAILED) { close(command[0]); close(command[1]); close(report[0]); close(report[1]); return -1; }
    // The child reads these through shared memory before it answers "ready".
    warm->command_fd = command[0];
    warm->report_fd = report[1];
    warm->job = prepare;

    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pid_t pid = clone(warm_main, (char *)warm->stack + warm->stack_size, CLONE_VM | SIGCHLD, warm);
    int clone_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    int payload[2] = {0, 0};
    int got = pid > 0 ? read_report(report[0], payload) : -1;
    close(command[0]);
    close(report[1]);
    warm->pid = pid;
    warm->command_fd = command[1];
    warm->report_fd = report[0];
    if (pid < 0) { errno = clone_errno; cc_warm_discard(warm); return -1; }
    if (got != (int)sizeof payload || payload[0] != -1) {
        if (got == (int)sizeof payload) { *failed_step = step_names[payload[0]]; errno = payload[1]; }
        else { *failed_step = "start"; errno = ECHILD; }
        int saved = errno;
        cc_warm_discard(warm);
        errno = saved;
        return -1;
    }
    return 0;
}

pid_t cc_warm_go(cc_warm *warm, const cc_spawn_request *job, const char **failed_step) {
    *failed_step = NULL;
    warm->job = job;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    char go = 1;
    ssize_t wrote;
    do { wrote = write(warm->command_fd, &go, 1); } while (wrote < 0 && errno == EINTR);
    int payload[2] = {0, 0};
    int got = wrote == 1 ? read_report(warm->report_fd, payload) : -1;
    pid_t pid = warm->pid;
    if (wrote != 1 || got != 0) {
        // A report means the child failed before exec (it exits 127); anything else is a broken launcher.
        if (got == (int)sizeof payload) { *failed_step = step_names[payload[0]]; errno = payload[1]; }
        else { *failed_step = "go"; errno = EPIPE; }
        int saved = errno;
        cc_warm_discard(warm);
        errno = saved;
        return -1;
    }
    close(warm->command_fd);
    close(warm->report_fd);
    munmap(warm->stack, warm->stack_size);  // exec gave the child its own memory
    memset(warm, 0, sizeof *warm);
    return pid;
}

void cc_warm_discard(cc_warm *warm) {
    if (warm->pid > 0) {
        kill(warm->pid, SIGKILL);
        int status;
        while (waitpid(warm->pid, &status, 0) < 0 && errno == EINTR) {}
    }
    if (warm->command_fd > 0) close(warm->command_fd);
    if (warm->report_fd > 0) close(warm->report_fd);
    if (warm->stack && warm->stack != MAP_FAILED) munmap(warm->stack, warm->stack_size);
    memset(warm, 0, sizeof *warm);
}
