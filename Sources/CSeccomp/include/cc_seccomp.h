// The sandbox's system-call filter (see cc_seccomp.c). Link with -lseccomp.
#ifndef CC_SECCOMP_H
#define CC_SECCOMP_H

// Also deny ptrace and any personality but PER_LINUX (Flatpak's non-devel rules; breaks gdb and strace).
#define CC_SECCOMP_NO_DEBUGGING 1u

// Writes the BPF program (bwrap's --seccomp format) to `fd` at its current offset. 0, or a negative errno.
int cc_seccomp_write(int fd, unsigned int flags);
// A new close-on-exec memfd holding the program, at offset 0, for one bwrap (it reads it to the end: never share
// one descriptor between sandboxes). The program is built on first use. -1 with errno set on failure.
int cc_seccomp_memfd(unsigned int flags);

#endif
