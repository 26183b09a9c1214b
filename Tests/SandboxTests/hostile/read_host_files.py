# Tries to read each host path given on the command line; prints READ for any it could read.
import sys
for path in sys.argv[1:]:
    try:
        with open(path, "rb") as f:
            data = f.read(64)
        print(f"READ {path} {len(data)}", flush=True)
    except OSError as error:
        print(f"DENIED {path} {error.strerror}", flush=True)
