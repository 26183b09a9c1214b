# Forks without end until the process cap refuses; nothing may survive the job. The children only sleep (forked,
# not exec'd: they carry the parent's command line and so the marker), so the bomb reaches the cap at once however
# busy the machine is, and the job's end is the parent's exit, not how fast 31 interpreters could start.
import os, sys, time
marker = sys.argv[1]
children = 0
while True:
    try:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        children += 1
    except OSError:
        print(f"fork refused after {children} children", flush=True)
        time.sleep(0.2)
        sys.exit(3)
