#!/bin/sh
# Tries to lift its own limits, then spins: the CPU limit must still stop it.
ulimit -t unlimited 2>/dev/null && echo "RAISED ulimit -t" || echo "DENIED ulimit -t"
ulimit -u unlimited 2>/dev/null && echo "RAISED ulimit -u" || echo "DENIED ulimit -u"
prlimit --pid $$ --cpu=unlimited:unlimited 2>/dev/null && echo "RAISED prlimit" || echo "DENIED prlimit"
python3 -c 'import resource; resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)); print("RAISED setrlimit")' 2>/dev/null || echo "DENIED setrlimit"
exec python3 -c 'while True: pass'
