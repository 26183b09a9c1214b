// campuscloud-lane: the first process of a lane, a sandbox kept for many jobs one after another (see
// Sources/Sandbox/LanePool.swift). bwrap starts it as pid 1 of the lane's pid namespace (--as-pid-1), as the lane's
// unprivileged uid, with every namespace and mount a one-job sandbox has. It then runs the jobs the platform sends
// it, one at a time, and returns the sandbox to a clean state between them.
//
// Written in C and kept tiny because it runs inside the sandbox, where neither the Swift runtime nor anything of the
// platform is visible; it is linked statically so it needs nothing from the system folders (a layer may replace
// them). It decides nothing: the platform sends "run" with the job's command, environment and rlimits, and its
// stdin, stdout and stderr; the job's process sets the rlimits (it can only lower them) and execs the command.
//
// Why a job cannot reach the next one through it:
//  - It is pid 1 and installs no signal handler, so the kernel drops every signal a job sends it (even SIGKILL).
//  - It is not dumpable, so a job (same uid) cannot ptrace it or open /proc/1/mem, /proc/1/fd, /proc/1/environ.
//  - The control socket is close-on-exec: no job holds it, and only the platform can send "run".
//  - When a job's first process exits, every other process of the namespace is killed (kill(-1) from pid 1 spares
//    only pid 1) and reaped; when no child is left, nothing of the job runs any more.
//  - It then removes SysV IPC objects and clears the uid's user, user-session and persistent keyrings; POSIX
//    message queues cannot be made at all (RLIMIT_MSGQUEUE is 0). Files are the platform's part: the writable
//    folders (work, /tmp, /dev/shm) live on one host tmpfs that the platform wipes as root; /dev is read-only.
//  - Anything it cannot clean makes it report the lane dirty, and the platform throws the lane away.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lane_protocol.h"

#define KEYCTL_GET_PERSISTENT 22
#define KEYCTL_SETPERM 5
#define KEYCTL_CLEAR 7
#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEY_SPEC_SESSION_KEYRING -3
#define KEY_SPEC_USER_KEYRING -4
#define KEY_SPEC_USER_SESSION_KEYRING -5

static long keyctl(long operation, long a, long b) { return syscall(SYS_keyctl, operation, a, b, 0, 0); }

// Receives one request (its fixed part and strings, in `buffer`) and up to three descriptors. Returns the number of
// bytes, 0 at end of file.
static ssize_t receive(int fd, char *buffer, size_t size, int fds[3]) {
    char control[CMSG_SPACE(3 * sizeof(int))];
    struct iovec iov = {.iov_base = buffer, .iov_len = size};
    struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    ssize_t got;
    do { got = recvmsg(fd, &message, MSG_CMSG_CLOEXEC); } while (got < 0 && errno == EINTR);
    fds[0] = fds[1] = fds[2] = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count && i < 3; i++) memcpy(&fds[i], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    return got;
}

static void send_report(int fd, const struct lane_report *report) {
    ssize_t sent;
    do { sent = send(fd, report, sizeof *report, MSG_NOSIGNAL); } while (sent < 0 && errno == EINTR);
    if (sent != (ssize_t)sizeof *report) _exit(3);
}

static int64_t micros(struct timeval t) { return (int64_t)t.tv_sec * 1000000 + t.tv_usec; }

// Removes every SysV IPC object of the lane's IPC namespace. 1 when none is left.
static int clean_ipc(void) {
    const char *files[3] = {"/proc/sysvipc/shm", "/proc/sysvipc/sem", "/proc/sysvipc/msg"};
    int left = 0;
    for (int round = 0; round < 2; round++) {
        left = 0;
        for (int kind = 0; kind < 3; kind++) {
            FILE *list = fopen(files[kind], "re");
            if (!list) return 0;
            char line[512];
            if (!fgets(line, sizeof line, list)) { fclose(list); continue; }  // the header
            while (fgets(line, sizeof line, list)) {
                long key;
                int id;
                if (sscanf(line, "%ld %d", &key, &id) != 2) continue;
                left++;
                if (round == 1) continue;
                if (kind == 0) shmctl(id, IPC_RMID, NULL);
                else if (kind == 1) semctl(id, 0, IPC_RMID);
                else msgctl(id, IPC_RMID, NULL);
            }
            fclose(list);
        }
        if (left == 0) return 1;
    }
    return left == 0;
}

// Empties the keyrings that outlive a process: the uid's user and user-session keyrings and, where the kernel has
// them, its persistent keyring. 1 when done (or when the kernel has no keyrings at all).
static int clean_keyrings(void) {
    long rings[3] = {KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING, 0};
    long persistent = keyctl(KEYCTL_GET_PERSISTENT, -1, KEY_SPEC_SESSION_KEYRING);
    int count = 2;
    if (persistent >= 0) rings[count++] = persistent;
    else if (errno != EOPNOTSUPP && errno != ENOSYS && errno != EACCES) return 0;
    for (int i = 0; i < count; i++) {
        keyctl(KEYCTL_SETPERM, rings[i], 0x3f3f0000);  // possessor and owner: everything (a job may have narrowed it)
        if (keyctl(KEYCTL_CLEAR, rings[i], 0) != 0) {
            if (errno == ENOSYS || errno == EOPNOTSUPP) return 1;
            return 0;
        }
    }
    return 1;
}

// Kills every process of the namespace but this one, and reaps them all.
static void kill_the_rest(void) {
    for (int round = 0; round < 1000; round++) {
        kill(-1, SIGKILL);
        pid_t reaped;
        while ((reaped = wait4(-1, NULL, 0, NULL)) > 0 || (reaped < 0 && errno == EINTR)) {}
        if (errno == ECHILD) return;
    }
    _exit(4);  // could not get rid of them: the lane dies (and with it, the namespace)
}

// Writes a line of up to three parts to the job's stderr.
static void say(const char *first, const char *second, const char *third) {
    const char *parts[4] = {first, second, third, "\n"};
    for (int i = 0; i < 4; i++) {
        if (!parts[i]) continue;
        ssize_t ignored = write(2, parts[i], strlen(parts[i]));
        (void)ignored;
    }
}

// Splits the request's strings into argv and the environment (NULL-terminated, pointing into `strings`).
// 0 when they are all there and end where the message ends.
static int split(char *strings, size_t length, int argc, int envc, char **argv, char **envp) {
    size_t offset = 0;
    for (int i = 0; i < argc + envc; i++) {
        char *start = strings + offset;
        char *end = memchr(start, 0, length - offset);
        if (!end) return -1;
        if (i < argc) argv[i] = start; else envp[i - argc] = start;
        offset = (size_t)(end - strings) + 1;
    }
    argv[argc] = NULL;
    envp[envc] = NULL;
    return offset == length && argc > 0 ? 0 : -1;
}

// In the job's own process: its process group, its descriptors, its rlimits, its environment, its program.
static void run_job(const struct lane_request *request, char **argv, char **envp, int fds[3]) {
    // A fresh session keyring: nothing the launcher's session might hold is reachable through it.
    keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0, 0);
    // A process group of its own, in the lane's session (bwrap --new-session made it; it has no terminal). Not a
    // session of its own: where the kernel groups sessions for scheduling (autogroup), each new session makes and
    // later frees a scheduling group, a cost every job would pay and that slows the jobs running beside it.
    setpgid(0, 0);
    for (int i = 0; i < 3; i++) {
        if (fds[i] < 0 || dup2(fds[i], i) < 0) _exit(126);
    }
    syscall(SYS_close_range, 3, ~0U, 0);
    for (int i = 0; i < request->limit_count && i < LANE_MAX_LIMITS; i++) {
        struct rlimit limit = {request->limits[i].soft, request->limits[i].hard};
        if (setrlimit(request->limits[i].resource, &limit) != 0) {
            say("campuscloud-lane: cannot set the job's limits: ", strerror(errno), NULL);
            _exit(125);
        }
    }
    environ = envp;  // execvp looks the command up in the job's PATH
    // "Text file busy": a job file is executed a moment after the platform wrote it, and a process the platform
    // started at that moment without its fork lock (a library's posix_spawn) may hold a copy of the written
    // descriptor until its own exec. That lasts a moment: try again for up to a second.
    int failure = 0;
    for (int attempt = 0; attempt < 200; attempt++) {
        execvp(argv[0], argv);
        failure = errno;
        if (failure != ETXTBSY) break;
        usleep(5000);
    }
    if (failure == ENOENT) say(argv[0], ": not found", NULL);
    else say(argv[0], ": cannot be run: ", strerror(failure));
    _exit(failure == ENOENT ? 127 : 126);
}

int main(void) {
    if (getpid() != 1) {
        fprintf(stderr, "campuscloud-lane runs only as the first process of a sandbox (bwrap --as-pid-1)\n");
        return 2;
    }
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_MSGQUEUE, &none) != 0) return 2;
    keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0, 0);
    int control = LANE_CONTROL_FD;
    if (fcntl(control, F_SETFD, FD_CLOEXEC) != 0) return 2;
    syscall(SYS_close_range, LANE_CONTROL_FD + 1, ~0U, 0);

    struct lane_report hello = {.kind = LANE_HELLO, .version = LANE_PROTOCOL_VERSION, .clean = 1};
    send_report(control, &hello);
    static char buffer[LANE_MAX_REQUEST];
    static char *argv[LANE_MAX_REQUEST / 2], *envp[LANE_MAX_REQUEST / 2];
    for (;;) {
        int fds[3];
        ssize_t got = receive(control, buffer, sizeof buffer, fds);
        if (got <= 0) return 0;  // the platform closed the lane
        struct lane_request request;
        if (got < (ssize_t)sizeof request) return 5;
        memcpy(&request, buffer, sizeof request);
        if (request.kind != LANE_RUN || request.argc < 1 || request.envc < 0 || request.argc + request.envc >= LANE_MAX_REQUEST / 2
            || split(buffer + sizeof request, (size_t)got - sizeof request, request.argc, request.envc, argv, envp) != 0) return 5;

        struct rusage before;
        getrusage(RUSAGE_CHILDREN, &before);
        pid_t child = fork();
        if (child == 0) run_job(&request, argv, envp, fds);
        for (int i = 0; i < 3; i++) if (fds[i] >= 0) close(fds[i]);
        struct lane_report report = {.kind = LANE_DONE, .version = LANE_PROTOCOL_VERSION};
        if (child < 0) {
            report.started = 0;
        } else {
            report.started = 1;
            int status = 0;
            struct rusage usage;
            pid_t ended;
            while ((ended = wait4(-1, &status, 0, &usage)) != child) {
                if (ended < 0 && errno != EINTR) _exit(6);
            }
            report.wait_status = status;
            report.max_rss_kb = usage.ru_maxrss;
        }
        kill_the_rest();
        struct rusage after;
        getrusage(RUSAGE_CHILDREN, &after);
        report.cpu_us = micros(after.ru_utime) + micros(after.ru_stime) - micros(before.ru_utime) - micros(before.ru_stime);
        report.clean = clean_ipc() && clean_keyrings();
        send_report(control, &report);
    }
}
