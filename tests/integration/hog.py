# hog.py MODE ARG - an agent that goes past a limit.
#   memory MIB   allocate and touch MIB MiB, then exit 0
#   forks N FILE fork N children that sleep; write to FILE how many forks
#                succeeded; exit 3 if any was refused
import os
import sys
import time

mode = sys.argv[1]
if mode == "memory":
    chunks = []
    for _ in range(int(sys.argv[2])):
        chunks.append(b"x" * (1 << 20))
    sys.exit(0)
if mode == "forks":
    made, refused = 0, 0
    for _ in range(int(sys.argv[2])):
        try:
            pid = os.fork()
        except OSError:
            refused += 1
            continue
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        made += 1
    with open(sys.argv[3], "w") as f:
        f.write("%d\n" % made)
    sys.exit(3 if refused else 0)
sys.exit("unknown mode %s" % mode)
