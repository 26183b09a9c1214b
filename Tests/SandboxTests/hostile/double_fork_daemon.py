# The classic daemon escape: fork, setsid, fork again, close the streams, and keep running after the job "ends".
# If it survived it would write a file every 100 ms into the folder named by argv[2].
import os, sys, time
marker, witness = sys.argv[1], sys.argv[2]
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.closerange(0, 3)
        os.execvp("python3", ["python3", "-c",
            "import os, sys, time\n"
            "while True:\n"
            "    try:\n"
            "        open(os.path.join(sys.argv[2], 'alive-%d' % time.time_ns()), 'w').close()\n"
            "    except OSError:\n"
            "        pass\n"
            "    time.sleep(0.1)\n", marker, witness])
    os._exit(0)
time.sleep(0.3)
print("parent exits, daemon detached", flush=True)
