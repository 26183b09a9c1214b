# Allocates and touches memory in 10 MB steps until something stops it.
blocks = []
while True:
    block = bytearray(10 * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    blocks.append(block)
