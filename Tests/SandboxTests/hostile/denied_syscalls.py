# Calls each system call the sandbox's filter denies, directly, and prints "DENIED name errno" or "ALLOWED name".
# Arguments are chosen so that without the filter the kernel answers something else (success, EBADF, EINVAL...).
import ctypes, errno, mmap, os, signal, struct

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
L = ctypes.c_long


def check(name, number, *args, want=("EPERM",)):
    ctypes.set_errno(0)
    result = libc.syscall(L(number), *[L(a) if isinstance(a, int) else a for a in args])
    code = ctypes.get_errno()
    if result == 0 and name.startswith("clone"):
        os._exit(0)  # the child of a clone that got through
    if result >= 0:
        print(f"ALLOWED {name} {result}", flush=True)
    else:
        print(f"{'DENIED' if errno.errorcode.get(code, '') in want else 'OTHER'} {name} {errno.errorcode.get(code, code)}", flush=True)


check("io_uring_setup", 425, 4, ctypes.create_string_buffer(120))
check("io_uring_enter", 426, -1, 0, 0, 0, None, 0)
check("io_uring_register", 427, -1, 0, None, 0)
check("keyctl", 250, 0, -3, 0, want=("ENOSYS",))
check("add_key", 248, b"user", b"k", b"v", 1, -2, want=("ENOSYS",))
check("request_key", 249, b"user", b"missing", None, 0, want=("ENOSYS",))
check("userfaultfd", 323, 1)
# perf_event_attr: software task clock of this process, user space only (allowed at perf_event_paranoid 2)
attr = struct.pack("=IIQQQQQ", 1, 128, 1, 0, 0, 0, (1 << 5) | (1 << 6)).ljust(128, b"\0")
check("perf_event_open", 298, ctypes.create_string_buffer(attr, 128), 0, -1, -1, 0)
check("bpf", 321, 0, None, 0)
check("kexec_load", 246, 0, 0, None, 0)
check("kexec_file_load", 320, -1, -1, 0, None, 0)
check("mount", 165, L(1), L(1), L(1), 0, None)
check("umount2", 166, b"/tmp", 0x80000000)
check("pivot_root", 155, b"/tmp", b"/tmp")
check("open_tree", 428, -100, b"/", 0)
check("move_mount", 429, -1, b"", -1, b"", 0)
check("fsopen", 430, b"tmpfs", 0)
check("fsconfig", 431, -1, 0, None, None, 0)
check("fsmount", 432, -1, 0, 0)
check("fspick", 433, -1, b"", 0)
check("mount_setattr", 442, -1, b"", 0, None, 0)
check("unshare", 272, 0)
check("setns", 308, -1, 0)
check("clone-newuser", 56, 0x10000000 | signal.SIGCHLD, 0, 0, 0, 0)
check("clone3", 435, ctypes.create_string_buffer(88), 88, want=("ENOSYS",))
try:
    import fcntl, termios
    master, slave = os.openpty()
    if os.fork() == 0:
        os.setsid()
        tty = os.open(os.ttyname(slave), os.O_RDWR)  # our controlling terminal now
        check("ioctl-TIOCSTI", 16, tty, termios.TIOCSTI, b"x")
        check("ioctl-TIOCSTI-high-bits", 16, tty, (1 << 32) | termios.TIOCSTI, b"x")
        check("ioctl-TIOCLINUX", 16, tty, 0x541C, b"\x02")
        os._exit(0)
    os.wait()
except OSError as error:
    print(f"NO-PTY {error.strerror}", flush=True)
# The i386 entry (int $0x80) from this 64-bit process: mov eax, 310 (unshare); xor ebx, ebx; int 0x80; ret
code = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
code.write(bytes.fromhex("b836010000" "31db" "cd80" "c3"))
int80 = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(code)))
result = int80()
print(f"{'DENIED' if result == -1 else 'ALLOWED'} i386-unshare {result}", flush=True)
check("x32-unshare", 0x40000000 | 272, 0)
