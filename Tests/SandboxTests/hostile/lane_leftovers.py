# A job that tries to leave something behind for the next job of its lane, and to take over the lane's first
# process; then (second mode) a job that looks for anything left.
#   lane_leftovers.py plant MARKER HOST_FOLDER [lock-keys]   (HOST_FOLDER: a host path the planted symlinks point at;
#                                                            lock-keys: also take the lane's rights on the keyrings)
#   lane_leftovers.py check MARKER
import ctypes, os, signal, subprocess, sys, time

mode, marker = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
SYS_add_key, SYS_keyctl = 248, 250
KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING, KEY_SPEC_SESSION_KEYRING = -4, -5, -3
KEYCTL_GET_PERSISTENT, KEYCTL_SETPERM, KEYCTL_SEARCH, KEYCTL_READ = 22, 5, 10, 11
IPC_CREAT = 0o1000


def say(*words):
    print(*words, flush=True)


def add_key(keyring, name):
    return libc.syscall(SYS_add_key, b"user", name.encode(), marker.encode(), len(marker), ctypes.c_long(keyring))


def search(keyring, name):
    return libc.syscall(SYS_keyctl, KEYCTL_SEARCH, ctypes.c_long(keyring), b"user", name.encode(), 0)


def sysv_objects():
    count = 0
    for kind in ("shm", "sem", "msg"):
        with open("/proc/sysvipc/" + kind) as listing:
            count += len(listing.readlines()) - 1
    return count


if mode == "plant":
    host_folder = sys.argv[3]
    # Files in every place a job can write, some hard to remove, some pointing at the host.
    for folder in (".", "/tmp", "/dev/shm"):
        open(os.path.join(folder, "planted-" + marker), "w").write(marker)
        locked = os.path.join(folder, "locked-" + marker)
        os.makedirs(locked + "/deeper")
        open(locked + "/deeper/inner", "w").write(marker)
        os.chmod(locked + "/deeper", 0)
        os.chmod(locked, 0)
        os.symlink(host_folder, os.path.join(folder, "hostdir-" + marker))
        os.symlink(host_folder + "/precious", os.path.join(folder, "hostfile-" + marker))
        try:
            os.setxattr(folder, "user.planted", marker.encode())
            say("XATTR-SET", folder)
        except OSError as error:
            say("XATTR-REFUSED", folder, error.errno)
    try:
        open("/dev/planted-" + marker, "w").write(marker)
        say("DEV-WRITABLE")
    except OSError:
        say("DEV-READONLY")
    # SysV IPC objects, with a message waiting in the queue.
    shm = libc.shmget(0x4343, 4096, IPC_CREAT | 0o600)
    sem = libc.semget(0x4344, 1, IPC_CREAT | 0o600)
    msg = libc.msgget(0x4345, IPC_CREAT | 0o600)
    buffer = ctypes.create_string_buffer(ctypes.sizeof(ctypes.c_long) + len(marker))
    ctypes.memmove(buffer, ctypes.byref(ctypes.c_long(1)), ctypes.sizeof(ctypes.c_long))
    ctypes.memmove(ctypes.addressof(buffer) + ctypes.sizeof(ctypes.c_long), marker.encode(), len(marker))
    sent = libc.msgsnd(msg, buffer, len(marker), 0)
    say("SYSV", shm, sem, msg, sent, "objects", sysv_objects())
    # POSIX message queues (refused: the lane allows no queue bytes).
    libc.mq_open.restype = ctypes.c_int
    queue = libc.mq_open(("/planted-" + marker).encode(), os.O_CREAT | os.O_RDWR, 0o600, None)
    say("MQUEUE", "made" if queue >= 0 else "refused")
    # Keys in the keyrings that outlive a process; then lock them against the lane's cleanup.
    user_key = add_key(KEY_SPEC_USER_KEYRING, "planted-user")
    session_key = add_key(KEY_SPEC_USER_SESSION_KEYRING, "planted-user-session")
    persistent = libc.syscall(SYS_keyctl, KEYCTL_GET_PERSISTENT, -1, ctypes.c_long(KEY_SPEC_SESSION_KEYRING))
    persistent_key = add_key(persistent, "planted-persistent") if persistent > 0 else -1
    say("KEYS", user_key, session_key, persistent_key)
    if "lock-keys" in sys.argv:
        for ring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING):
            say("KEYRING-LOCKED", libc.syscall(SYS_keyctl, KEYCTL_SETPERM, ctypes.c_long(ring), 0x01010000))
    # A daemon that ignores polite signals and sleeps on, its marker in its command line.
    subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)", marker],
                     start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The lane's first process: signals, ptrace, its memory, descriptors and environment.
    say("PID", os.getpid())
    for sig in (signal.SIGSTOP, signal.SIGKILL, signal.SIGTERM):
        try:
            os.kill(1, sig)
            say("SIGNAL-SENT", sig)
        except OSError as error:
            say("SIGNAL-REFUSED", sig, error.errno)
    libc.ptrace.restype = ctypes.c_long
    attached = libc.ptrace(16, 1, None, None)  # PTRACE_ATTACH
    say("PTRACE", "attached" if attached == 0 else "refused")
    for path in ("/proc/1/mem", "/proc/1/environ"):
        try:
            open(path, "rb").read(16)
            say("READ", path)
        except OSError:
            say("CLOSED", path)
    try:
        say("FD-LIST", os.listdir("/proc/1/fd"))
    except OSError:
        say("CLOSED", "/proc/1/fd")
    # Finally make the work folder and /tmp unusable for whoever comes next.
    os.chmod("/tmp", 0)
    os.chmod(".", 0)
    say("PLANTED")
else:
    found = []
    for folder in (".", "/tmp", "/dev/shm", "/dev"):
        try:
            names = os.listdir(folder)
        except OSError as error:
            found.append("unreadable %s (%d)" % (folder, error.errno))
            continue
        names = [name for name in names if name != "lane_leftovers.py"]  # this program itself
        found += [folder + "/" + name for name in names if marker in name]
        if folder != "/dev" and names:
            found.append("not empty %s: %s" % (folder, names))
        if folder != "/dev":
            try:
                if os.getxattr(folder, "user.planted"):
                    found.append("xattr on " + folder)
            except OSError:
                pass
            try:
                open(os.path.join(folder, "probe"), "w").write("x")
                os.unlink(os.path.join(folder, "probe"))
            except OSError as error:
                found.append("cannot write %s (%d)" % (folder, error.errno))
    if sysv_objects():
        found.append("sysv objects: %d" % sysv_objects())
    for ring, name in ((KEY_SPEC_USER_KEYRING, "planted-user"), (KEY_SPEC_USER_SESSION_KEYRING, "planted-user-session")):
        if search(ring, name) > 0:
            found.append("key " + name)
    persistent = libc.syscall(SYS_keyctl, KEYCTL_GET_PERSISTENT, -1, ctypes.c_long(KEY_SPEC_SESSION_KEYRING))
    if persistent > 0 and search(persistent, "planted-persistent") > 0:
        found.append("key planted-persistent")
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in (1, me):
            try:
                command = open("/proc/%s/cmdline" % entry, "rb").read()
            except OSError:
                continue
            if b"lane_leftovers" not in command:
                found.append("process %s %r" % (entry, command))
    say("PID", me)
    for thing in found:
        say("FOUND", thing)
    say("CLEAN" if not found else "DIRTY")
