# Tries to push keystrokes into a controlling terminal (TIOCSTI) through every way it could reach one.
import fcntl, os, termios
for label, opener in (("dev-tty", lambda: os.open("/dev/tty", os.O_RDWR)), ("stdin", lambda: os.dup(0)), ("stderr", lambda: os.dup(2))):
    try:
        fd = opener()
    except OSError as error:
        print(f"NO-TTY {label} {error.strerror}", flush=True)
        continue
    try:
        for ch in "echo pwned\n":
            fcntl.ioctl(fd, termios.TIOCSTI, ch.encode())
        print(f"INJECTED {label}", flush=True)
    except OSError as error:
        print(f"BLOCKED {label} {error.strerror}", flush=True)
