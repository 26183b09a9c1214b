# Writes 1 MB files into the job folder and into /tmp until the writes fail, then reports how much it managed.
import os, sys
written = 0
for folder in (".", "/tmp"):
    i = 0
    while True:
        try:
            with open(os.path.join(folder, f"fill-{i}"), "wb") as f:
                f.write(b"\0" * (1 << 20))
            written += 1 << 20
            i += 1
        except OSError as error:
            print(f"{folder}: stopped after {i} MB: {error.strerror}", flush=True)
            break
print(f"total {written >> 20} MB", flush=True)
