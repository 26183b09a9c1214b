// Starts the sandbox launcher (bwrap) in a child that, before exec, joins the job's cgroups, sets its rlimits,
// starts a new session and drops to an unprivileged host uid. Written in C because those steps must run between
// fork and exec, where Swift code is not safe. No policy lives here: the Swift Sandbox module decides every value.
#ifndef CC_SPAWN_H
#define CC_SPAWN_H

#include <sys/types.h>

#define CC_SPAWN_MAX_CGROUPS 4
#define CC_SPAWN_MAX_LIMITS 8

typedef struct {
    int resource;              // RLIMIT_*
    unsigned long long soft;
    unsigned long long hard;
} cc_rlimit;

typedef struct {
    const char *path;                 // executable (absolute)
    char *const *argv;                // NULL-terminated
    char *const *envp;                // NULL-terminated
    int stdin_fd, stdout_fd, stderr_fd;
    int extra_fd;                     // passed to the child as fd 3 (bwrap's --json-status-fd), or -1
    const char *cgroup_procs[CC_SPAWN_MAX_CGROUPS];  // cgroup.procs files to join; NULL-terminated or full
    cc_rlimit limits[CC_SPAWN_MAX_LIMITS];
    int limit_count;
    int drop_privileges;              // when 1: setgroups([]), setresgid(gid), setresuid(uid)
    unsigned int uid, gid;
} cc_spawn_request;

// Returns the child's pid, or -1 with errno set. When the child fails before exec, it reports the step and errno
// through an internal pipe: *failed_step names it ("cgroup", "rlimit", "setsid", "setgid", "setuid", "exec") and
// the return value is -1 with errno set to the child's error.
pid_t cc_spawn(const cc_spawn_request *request, const char **failed_step);

// GNU/Linux calls Swift's Glibc module does not show (it is imported without _GNU_SOURCE).
int cc_pipe_cloexec(int fds[2]);
int cc_memfd(const char *name);
int cc_pidfd_open(pid_t pid);
extern const int CC_RLIMIT_NPROC;
extern const int CC_RLIMIT_CPU;
extern const int CC_RLIMIT_AS;
extern const int CC_RLIMIT_FSIZE;
extern const int CC_RLIMIT_NOFILE;
extern const int CC_RLIMIT_CORE;

#endif
