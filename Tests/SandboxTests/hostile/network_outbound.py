# A job with network tries what it must not reach. argv: a TCP port on the host's loopback, an abstract socket name,
# then host:port pairs (a stand-in private host, the host's own address). Prints CONNECTED or REFUSED for each, the
# interfaces it sees, and whether it may change its namespace's routing rules.
import socket, subprocess, sys
port, abstract, others = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
def attempt(label, family, kind, address):
    s = socket.socket(family, kind)
    s.settimeout(3)
    try:
        s.connect(address)
        print(f"CONNECTED {label}", flush=True)
    except OSError as error:
        print(f"REFUSED {label} {error.strerror}", flush=True)
    finally:
        s.close()
attempt("host-loopback", socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", port))
attempt("host-loopback-v6", socket.AF_INET6, socket.SOCK_STREAM, ("::1", port))
attempt("unix-abstract", socket.AF_UNIX, socket.SOCK_STREAM, "\0" + abstract)
attempt("metadata", socket.AF_INET, socket.SOCK_STREAM, ("169.254.169.254", 80))
for pair in others:
    host, target = pair.rsplit(":", 1)
    attempt(pair, socket.AF_INET, socket.SOCK_STREAM, (host, int(target)))
print("interfaces " + ",".join(name for _, name in socket.if_nameindex()), flush=True)
for ip in ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"):
    try:
        done = subprocess.run([ip, "rule", "del", "pref", "200"], capture_output=True, text=True)
        print("RULE-DELETE " + ("DONE" if done.returncode == 0 else "REFUSED " + done.stderr.strip()), flush=True)
        break
    except FileNotFoundError:
        continue
