#!/usr/bin/env python3
"""cluster_relay.py - TCP relays the cluster tests put between one instanced node and
the etcd members, to cut it off and restore it.

    cluster_relay.py CUTFILE PORTFILE TARGET_PORT...

Listens on one free loopback port per target (written to PORTFILE, one a line, in
order) and forwards to 127.0.0.1:TARGET_PORT. While CUTFILE exists the relay is a
black hole, as a network partition is: connections stay open, nothing is forwarded
either way, new connections are accepted and left silent. When CUTFILE goes, data
flows again."""
import os
import selectors
import socket
import sys

cut_file, port_file, targets = sys.argv[1], sys.argv[2], [int(p) for p in sys.argv[3:]]
sel = selectors.DefaultSelector()
pairs = {}  # socket -> its peer
ports = []
for t in targets:
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(128)
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ, ("listen", t))
    ports.append(ls.getsockname()[1])
with open(port_file + ".tmp", "w") as f:
    f.write("".join("%d\n" % p for p in ports))
os.rename(port_file + ".tmp", port_file)


def close(s):
    for x in (s, pairs.get(s)):
        if x is None:
            continue
        try:
            sel.unregister(x)
        except (KeyError, ValueError):
            pass
        pairs.pop(x, None)
        x.close()


while True:
    cut = os.path.exists(cut_file)
    for key, _ in sel.select(timeout=0.02):
        kind, t = key.data
        s = key.fileobj
        if kind == "listen":
            try:
                c, _ = s.accept()
            except OSError:
                continue
            u = socket.socket()
            try:
                u.connect(("127.0.0.1", t))
            except OSError:
                c.close()
                continue
            c.setblocking(False)
            u.setblocking(False)
            pairs[c], pairs[u] = u, c
            sel.register(c, selectors.EVENT_READ, ("conn", t))
            sel.register(u, selectors.EVENT_READ, ("conn", t))
            continue
        if cut:
            continue  # a black hole: nothing read, nothing forwarded
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if not data:
            close(s)
            continue
        try:
            pairs[s].setblocking(True)
            pairs[s].sendall(data)
            pairs[s].setblocking(False)
        except (OSError, KeyError):
            close(s)
    if cut:
        # selectors would report the same readable sockets again at once
        import time
        time.sleep(0.02)
