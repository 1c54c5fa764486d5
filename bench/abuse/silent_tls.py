"""Open N TLS connections to HOST:PORT that complete the handshake and then send nothing, and
hold them for SECONDS (issue 12, item 3). Non-blocking, one process, bounded in count and time.
Prints one JSON line: how many connected, completed the handshake, and were closed by the server.

Usage: python3 silent_tls.py PORT CA_PEM N SECONDS
"""

import json
import resource
import selectors
import socket
import ssl
import sys
import time


def main() -> None:
    port, ca, count, seconds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    count = min(count, hard - 64)
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    ctx.set_alpn_protocols(["http/1.1"])
    sel = selectors.DefaultSelector()
    pending = {}
    stats = {"attempted": count, "opened": 0, "connected": 0, "handshakes": 0, "closed_by_server": 0, "failed": 0}
    deadline = time.monotonic() + seconds
    opened = 0
    # Open in bursts so that the kernel's accept queue, not this loop, is the bottleneck.
    while time.monotonic() < deadline:
        while opened < count and len(pending) < 4096:
            sock = socket.socket()
            sock.setblocking(False)
            try:
                sock.connect_ex(("127.0.0.1", port))
            except OSError:
                stats["failed"] += 1
                sock.close()
                opened += 1
                continue
            pending[sock.fileno()] = sock
            sel.register(sock, selectors.EVENT_WRITE, "connecting")
            opened += 1
        for key, _ in sel.select(timeout=0.2):
            tls = key.fileobj
            if key.data == "connecting":
                sel.unregister(tls)
                if tls.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    stats["failed"] += 1
                    pending.pop(tls.fileno(), None)
                    tls.close()
                    continue
                stats["connected"] += 1
                fd = tls.fileno()
                tls = ctx.wrap_socket(tls, server_hostname="localhost", do_handshake_on_connect=False)
                pending[fd] = tls
                sel.register(tls, selectors.EVENT_READ | selectors.EVENT_WRITE, "handshake")
            elif key.data == "handshake":
                try:
                    tls.do_handshake()
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    continue
                except (OSError, ssl.SSLError):
                    stats["failed"] += 1
                    sel.unregister(tls)
                    pending.pop(tls.fileno(), None)
                    tls.close()
                    continue
                stats["handshakes"] += 1
                pending.pop(tls.fileno(), None)
                sel.modify(tls, selectors.EVENT_READ, "silent")
            else:
                try:
                    data = tls.recv(4096)
                except ssl.SSLWantReadError:
                    continue
                except (OSError, ssl.SSLError):
                    data = b""
                if not data:
                    stats["closed_by_server"] += 1
                    sel.unregister(tls)
                    tls.close()
    stats["opened"] = opened
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
