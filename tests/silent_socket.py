#!/usr/bin/env python3
"""silent_socket.py PATH MODE - a unix socket peer that never answers instancectl.

MODE accept:  accept every connection, read it, never write, keep it open.
MODE backlog: listen with a backlog of 0 and never accept; our own connections fill
              the backlog, so a client's connect itself cannot complete.
Writes PATH.ready once listening; runs until killed."""
import os
import socket
import sys
import time

path, mode = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
held = []
if mode == "accept":
    srv.listen(16)
elif mode == "backlog":
    srv.listen(0)
    while True:  # fill the queue until a connect would wait
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(path)
        except BlockingIOError:
            c.close()
            break
        held.append(c)
else:
    sys.exit("unknown mode " + mode)
open(path + ".ready", "w").close()
while True:
    if mode == "accept":
        conn, _ = srv.accept()
        held.append(conn)  # never answered, never closed
    else:
        time.sleep(3600)
