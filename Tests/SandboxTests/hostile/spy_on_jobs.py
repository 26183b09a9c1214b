# Looks for other jobs: their folders on the host (argv[1] is the host's jobs folder) and their processes.
import os, sys
jobs_root = sys.argv[1]
try:
    print("LISTED " + ",".join(os.listdir(jobs_root)), flush=True)
except OSError as error:
    print(f"NO-ACCESS {jobs_root} {error.strerror}", flush=True)
for name in sys.argv[2:]:
    path = os.path.join(jobs_root, name, "secret.txt")
    try:
        print("STOLE " + open(path).read().strip(), flush=True)
    except OSError as error:
        print(f"NO-ACCESS {path} {error.strerror}", flush=True)
others = [open(f"/proc/{p}/cmdline", "rb").read() for p in os.listdir("/proc") if p.isdigit()]
print("SAW-OTHER-JOB" if any(b"victim" in c for c in others) else "SAW-NOTHING", flush=True)
