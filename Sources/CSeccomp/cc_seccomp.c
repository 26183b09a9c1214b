// The system-call filter every sandboxed job runs under, as a BPF program for bwrap's `--seccomp FD`.
// bwrap installs it (after PR_SET_NO_NEW_PRIVS) as the last step before it execs the job (and in its pid-1 monitor),
// so bwrap's own mounts and namespaces are not affected; the job and all it starts inherit it and cannot remove it.
// Default: allow. Denied (EPERM, a few ENOSYS): what a job never needs and what has been a steady source of kernel
// holes.
#define _GNU_SOURCE
#include "cc_seccomp.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

// Build one context for x86-64, i386 (int $0x80 from a 64-bit process: same kernel, other numbers) and x32, with the
// same rules for each; any other architecture kills the process.
static int build(scmp_filter_ctx ctx, unsigned int flags) {
    static const struct { int nr, err; } denied[] = {
        // async I/O rings, user-space page faults, perf, eBPF, kexec
        {SCMP_SYS(io_uring_setup), EPERM}, {SCMP_SYS(io_uring_enter), EPERM}, {SCMP_SYS(io_uring_register), EPERM},
        {SCMP_SYS(userfaultfd), EPERM}, {SCMP_SYS(perf_event_open), EPERM}, {SCMP_SYS(bpf), EPERM},
        {SCMP_SYS(kexec_load), EPERM}, {SCMP_SYS(kexec_file_load), EPERM},
        // keyrings: ENOSYS, as on a kernel without them, which the lane's cleanup (campuscloud-lane) takes as
        // "nothing to clear"; EPERM would make it report every lane dirty.
        {SCMP_SYS(keyctl), ENOSYS}, {SCMP_SYS(add_key), ENOSYS}, {SCMP_SYS(request_key), ENOSYS},
        // mounts (old and new API) and namespaces
        {SCMP_SYS(mount), EPERM}, {SCMP_SYS(umount), EPERM}, {SCMP_SYS(umount2), EPERM}, {SCMP_SYS(pivot_root), EPERM},
        {SCMP_SYS(chroot), EPERM}, {SCMP_SYS(move_mount), EPERM}, {SCMP_SYS(open_tree), EPERM},
        {SCMP_SYS(fsopen), EPERM}, {SCMP_SYS(fsconfig), EPERM}, {SCMP_SYS(fsmount), EPERM}, {SCMP_SYS(fspick), EPERM},
        {SCMP_SYS(mount_setattr), EPERM}, {SCMP_SYS(unshare), EPERM}, {SCMP_SYS(setns), EPERM},
        // 16-bit segments and a.out loading: nothing uses them, both have leaked kernel memory
        {SCMP_SYS(modify_ldt), EPERM}, {SCMP_SYS(uselib), EPERM},
        // clone3 keeps its flags in memory, where seccomp cannot look: ENOSYS makes glibc (2.34+), Go and others
        // fall back to clone(), whose flags are checked below (what Flatpak and Docker do)
        {SCMP_SYS(clone3), ENOSYS},
    };
    int rc;
    if (seccomp_arch_native() == SCMP_ARCH_X86_64) {
        if ((rc = seccomp_arch_add(ctx, SCMP_ARCH_X86)) != 0 && rc != -EEXIST) return rc;
        if ((rc = seccomp_arch_add(ctx, SCMP_ARCH_X32)) != 0 && rc != -EEXIST) return rc;
    }
    if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) != 0) return rc;
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
        if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(denied[i].err), denied[i].nr, 0)) != 0) return rc;
    }
    // clone() with any namespace flag (clone's low byte is the exit signal, so no CLONE_NEWTIME here).
    static const unsigned long namespaces[] = {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC,
                                               CLONE_NEWUTS, CLONE_NEWCGROUP};
    for (size_t i = 0; i < sizeof namespaces / sizeof namespaces[0]; i++) {
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                              SCMP_A0_64(SCMP_CMP_MASKED_EQ, namespaces[i], namespaces[i]));
        if (rc != 0) return rc;
    }
    // Pushing input into a terminal (TIOCSTI, CVE-2017-5226) or a virtual console's selection (TIOCLINUX,
    // CVE-2023-28100). The kernel reads the request as 32 bits: compare only those, or high bits would slip past.
    static const unsigned long requests[] = {TIOCSTI, TIOCLINUX};
    for (size_t i = 0; i < 2; i++) {
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                              SCMP_A1_64(SCMP_CMP_MASKED_EQ, 0xFFFFFFFFul, requests[i]));
        if (rc != 0) return rc;
    }
    if (flags & CC_SECCOMP_NO_DEBUGGING) {
        // Flatpak's non-devel rules: no ptrace (gdb, strace), and only the plain Linux personality.
        if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ptrace), 0)) != 0) return rc;
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1, SCMP_A0_32(SCMP_CMP_NE, 0));
        if (rc != 0) return rc;
    }
    return 0;
}

int cc_seccomp_write(int fd, unsigned int flags) {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) return -ENOMEM;
    int rc = build(ctx, flags);
    if (rc == 0) rc = seccomp_export_bpf(ctx, fd);
    seccomp_release(ctx);
    return rc;
}

// The program, built once per flag value (two possible), then copied into a fresh memfd for each sandbox.
static struct { pthread_once_t once; unsigned char *bytes; size_t length; int error; } programs[2] = {
    {PTHREAD_ONCE_INIT, NULL, 0, 0}, {PTHREAD_ONCE_INIT, NULL, 0, 0}};

static void load(int which) {
    int fd = memfd_create("seccomp", MFD_CLOEXEC);
    int rc = fd < 0 ? -errno : cc_seccomp_write(fd, which ? CC_SECCOMP_NO_DEBUGGING : 0);
    off_t length = rc == 0 ? lseek(fd, 0, SEEK_END) : -1;
    unsigned char *bytes = length > 0 ? malloc((size_t)length) : NULL;
    if (bytes && pread(fd, bytes, (size_t)length, 0) == length) {
        programs[which].bytes = bytes;
        programs[which].length = (size_t)length;
    } else {
        free(bytes);
        programs[which].error = rc < 0 ? -rc : EIO;
    }
    if (fd >= 0) close(fd);
}
static void load0(void) { load(0); }
static void load1(void) { load(1); }

int cc_seccomp_memfd(unsigned int flags) {
    int which = (flags & CC_SECCOMP_NO_DEBUGGING) ? 1 : 0;
    pthread_once(&programs[which].once, which ? load1 : load0);
    if (!programs[which].bytes) { errno = programs[which].error ? programs[which].error : EIO; return -1; }
    int fd = memfd_create("seccomp", MFD_CLOEXEC);
    if (fd < 0) return -1;
    const unsigned char *p = programs[which].bytes;
    size_t left = programs[which].length;
    while (left > 0) {
        ssize_t wrote = write(fd, p, left);
        if (wrote < 0 && errno == EINTR) continue;
        if (wrote <= 0) { int saved = errno ? errno : EIO; close(fd); errno = saved; return -1; }
        p += wrote, left -= (size_t)wrote;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) { int saved = errno; close(fd); errno = saved; return -1; }
    return fd;
}
