"""What the scripts that run `campuscloud demo` beside a client share (stdlib only): a free port, waiting until the
server answers /healthz, and stopping every process a script started — politely, then for good."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(base, process, seconds=60):
    """Returns once `base`/healthz answers 200; exits the script if the server stops or never answers."""
    for _ in range(int(seconds / 0.2)):
        if process.poll() is not None:
            sys.exit(f"the demo server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"the demo server did not become healthy in {seconds} s")


def stop(*processes, timeout=20, group=False):
    """Stops each process: SIGTERM (it shuts down what it started), then SIGKILL if it has not exited within `timeout`
    seconds — to its whole process group when `group` (one started with start_new_session=True, whose children would
    otherwise outlive it)."""
    for process in processes:
        if process is None or process.poll() is not None:
            continue
        try:
            process.terminate()
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            if group:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
            process.wait(timeout=timeout)
        except ProcessLookupError:
            pass
