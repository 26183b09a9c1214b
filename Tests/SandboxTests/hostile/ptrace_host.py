# Tries to ptrace-attach to a host process (argv[1] is its pid on the host) and to signal it.
import ctypes, os, signal, sys
target = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
PTRACE_ATTACH = 16
if libc.ptrace(PTRACE_ATTACH, target, None, None) == 0:
    print("ATTACHED", flush=True)
else:
    print(f"PTRACE-FAILED {os.strerror(ctypes.get_errno())}", flush=True)
try:
    os.kill(target, signal.SIGTERM)
    print("SIGNALLED", flush=True)
except OSError as error:
    print(f"KILL-FAILED {error.strerror}", flush=True)
visible = [p for p in os.listdir("/proc") if p.isdigit()]
print(f"VISIBLE-PIDS {len(visible)}", flush=True)
