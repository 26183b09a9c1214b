# Tries to create or overwrite each path given; prints WROTE for any that worked.
import sys
for path in sys.argv[1:]:
    try:
        with open(path, "w") as f:
            f.write("owned by the sandbox\n")
        print(f"WROTE {path}", flush=True)
    except OSError as error:
        print(f"DENIED {path} {error.strerror}", flush=True)
