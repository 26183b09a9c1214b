# Lists every open descriptor and where it points: the platform's files (its database!) must not leak in.
import os
for fd in sorted(int(x) for x in os.listdir("/proc/self/fd")):
    try:
        print(f"FD {fd} {os.readlink(f'/proc/self/fd/{fd}')}", flush=True)
    except OSError:
        pass
