# Forks without end; each child forks again. The process cap must stop it; nothing may survive the job.
import os, sys, time
marker = sys.argv[1]
children = 0
while True:
    try:
        if os.fork() == 0:
            os.execvp("python3", ["python3", "-c", "import time; time.sleep(600)", marker])
        children += 1
    except OSError:
        print(f"fork refused after {children} children", flush=True)
        time.sleep(0.2)
        sys.exit(3)
