# Says it has started, then spins on the CPU forever.
import sys
print("spinning", flush=True)
while True:
    pass
