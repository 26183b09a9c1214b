// Starts the sandbox launcher (bwrap) in a child that, before exec, joins the job's cgroups, sets its rlimits,
// starts a new session and drops to an unprivileged host uid. Written in C because those steps must run between
// fork and exec, where Swift code is not safe. No policy lives here: the Swift Sandbox module decides every value.
#ifndef CC_SPAWN_H
#define CC_SPAWN_H

#include <pthread.h>
#include <sys/types.h>

#define CC_SPAWN_MAX_CGROUPS 4
#define CC_SPAWN_MAX_LIMITS 8
#define CC_SPAWN_MAX_OVERLAYS 4
// Where the child finds the system-call filter bwrap installs (--seccomp); the same in every kind of spawn.
#define CC_SPAWN_SECCOMP_FD 6

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
    int extra_fd2;                    // passed to the child as fd 4 (bwrap's --block-fd), or -1
    int seccomp_fd;                   // passed to the child as fd CC_SPAWN_SECCOMP_FD (bwrap's --seccomp), or -1
    int netns_fd;                     // a network namespace the child joins (as root, before dropping privileges), or -1
    const char *cgroup_procs[CC_SPAWN_MAX_CGROUPS];  // cgroup.procs files to join; NULL-terminated or full
    cc_rlimit limits[CC_SPAWN_MAX_LIMITS];
    int limit_count;
    int drop_privileges;              // when 1: setgroups([]), setresgid(gid), setresuid(uid)
    unsigned int uid, gid;
    // An environment layer: after dropping privileges, the child enters a user namespace of its own (its uid as
    // root there) and a private mount namespace, and mounts these overlays before exec (what
    // `unshare --user --map-root-user --mount` + `mount -t overlay` did, without two more programs per job).
    const char *overlay_options[CC_SPAWN_MAX_OVERLAYS];
    const char *overlay_targets[CC_SPAWN_MAX_OVERLAYS];
    int overlay_count;
} cc_spawn_request;

// Returns the child's pid, or -1 with errno set. When the child fails before exec, it reports the step and errno
// through an internal pipe: *failed_step names it ("cgroup", "rlimit", "setsid", "setgid", "setuid", "exec", "fd",
// "namespace", "overlay", "netns") and
// the return value is -1 with errno set to the child's error.
pid_t cc_spawn(const cc_spawn_request *request, const char **failed_step);

// A warm launcher: a child that has already joined a job's cgroups (the slow step: each cgroup-v1 migration waits
// out an RCU grace period) and waits for its job. Prepared ahead of need, it makes a job's start as cheap as a
// plain spawn. It shares the parent's memory (CLONE_VM, no CLONE_VFORK) until it execs, so it runs only raw system
// calls on its own stack. It holds only the descriptors it needs: stdin, stdout, stderr, the status pipe, and its
// command and report pipes. (Warm launchers take fds 0–3 and the filter at 6: fds 4 and 5 are their command and
// report pipes.)
typedef struct {
    pid_t pid;
    int command_fd;      // parent's end: the job is sent here
    int report_fd;       // parent's end: errors, "ready", then EOF when exec succeeds
    void *stack;
    unsigned long stack_size;
    const cc_spawn_request *job;  // set by cc_warm_go; read by the child through shared memory
} cc_warm;

// Starts a warm launcher whose fds 0–3 will be the given descriptors and which joins the request's cgroups.
// Returns 0 once it is ready, or -1 with errno set and *failed_step named.
int cc_warm_start(const cc_spawn_request *prepare, cc_warm *warm, const char **failed_step);
// Hands it the job (rlimits, uid, path, argv, envp; cgroups and descriptors are ignored: already set).
// Returns the pid once it has exec'd, or -1 with errno set and *failed_step named. Frees the warm launcher's stack.
pid_t cc_warm_go(cc_warm *warm, const cc_spawn_request *job, const char **failed_step);
// Ends a warm launcher that will not be used and frees its stack.
void cc_warm_discard(cc_warm *warm);

// GNU/Linux calls Swift's Glibc module does not show (it is imported without _GNU_SOURCE).
int cc_pipe_cloexec(int fds[2]);
int cc_memfd(const char *name);
int cc_pidfd_open(pid_t pid);
// Initialises a read-write lock that lets a waiting writer in before new readers (glibc's default prefers readers,
// so a steady stream of readers could keep a writer waiting indefinitely). Never take it shared twice in one thread.
int cc_rwlock_init_writer_first(pthread_rwlock_t *lock);
// Gives the calling thread a mount namespace of its own (a copy of its current one); 0, or -1 with errno set.
int cc_unshare_mounts(void);
// 1 when `path` is on a tmpfs, 0 when not, -1 when it cannot be told.
int cc_is_tmpfs(const char *path);
extern const int CC_RLIMIT_NPROC;
extern const int CC_RLIMIT_CPU;
extern const int CC_RLIMIT_AS;
extern const int CC_RLIMIT_FSIZE;
extern const int CC_RLIMIT_NOFILE;
extern const int CC_RLIMIT_CORE;

#include "cc_lane.h"

#endif
