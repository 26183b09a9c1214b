# argv: TCP port on the host's loopback, a host Unix socket path, an abstract socket name.
# Tries each; prints CONNECTED for any that worked. Also reports the interfaces it can see and whether a route
# to a public address exists (a UDP connect() looks the route up without sending a packet).
import socket, sys
port, unix_path, abstract = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def attempt(label, family, kind, address):
    s = socket.socket(family, kind)
    s.settimeout(2)
    try:
        s.connect(address)
        print(f"CONNECTED {label}", flush=True)
    except OSError as error:
        print(f"REFUSED {label} {error.strerror}", flush=True)
    finally:
        s.close()
attempt("tcp-loopback", socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", port))
attempt("unix-path", socket.AF_UNIX, socket.SOCK_STREAM, unix_path)
attempt("unix-abstract", socket.AF_UNIX, socket.SOCK_STREAM, "\0" + abstract)
attempt("public-route", socket.AF_INET, socket.SOCK_DGRAM, ("192.0.2.1", 53))
print("interfaces " + ",".join(name for _, name in socket.if_nameindex()), flush=True)
