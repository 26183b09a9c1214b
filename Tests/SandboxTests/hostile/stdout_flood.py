# Writes 1 GB to stdout as fast as it can.
import sys
chunk = b"A" * (1 << 20)
out = sys.stdout.buffer
for _ in range(1024):
    out.write(chunk)
out.flush()
