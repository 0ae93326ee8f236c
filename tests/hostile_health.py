#!/usr/bin/env python3
"""hostile_health.py - a worker whose health endpoint misbehaves, for the probe tests.

Usage: hostile_health.py MODE   (or HOSTILE_MODE=MODE), listening on 127.0.0.1:$HTTP_PORT

  healthy     200 {"status":"healthy"}  (a well-behaved control)
  hang        accepts, reads the request, never answers
  slow        answers one byte per second, forever
  huge        200 with a chunked body of 10 MiB
  badjson     200 with a body that is not JSON
  error500    500 with a short text body
  reset       reads the request, then resets the connection (RST)
  close       reads the request, then closes without a byte

Every connection gets its own thread, so a hung one never blocks the next probe.
SIGTERM ends the process at once.
"""
import os
import signal
import socket
import struct
import sys
import threading
import time

MODE = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("HOSTILE_MODE", "healthy")
PORT = int(os.environ["HTTP_PORT"])


def read_request(conn):
    data = b""
    conn.settimeout(10)
    try:
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    return data


def send(conn, status, body, ctype="application/json"):
    head = ("HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
            "Connection: close\r\n\r\n" % (status, ctype, len(body))).encode()
    conn.sendall(head + body)


def serve(conn):
    try:
        read_request(conn)
        if MODE == "healthy":
            send(conn, "200 OK", b'{"status":"healthy","service":"hostile"}')
        elif MODE == "hang":
            time.sleep(3600)
        elif MODE == "slow":
            reply = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"status":"healthy"}'
            for i in range(3600):
                conn.sendall(reply[i % len(reply):i % len(reply) + 1])
                time.sleep(1)
        elif MODE == "huge":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            piece = b'{"status":"healthy","pad":"' + b"x" * 65000
            chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
            sent = 0
            while sent < 10 * 1024 * 1024:
                conn.sendall(chunk)
                sent += len(piece)
            conn.sendall(b"0\r\n\r\n")
        elif MODE == "badjson":
            send(conn, "200 OK", b'{"status": "healthy", oops')
        elif MODE == "error500":
            send(conn, "500 Internal Server Error", b"boom", "text/plain")
        elif MODE == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif MODE == "close":
            pass
        else:
            send(conn, "404 Not Found", b"unknown mode", "text/plain")
    except OSError:
        pass  # the prober gave up: fine
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", PORT))
    srv.listen(64)
    print("hostile_health: mode %s on port %d" % (MODE, PORT), flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
