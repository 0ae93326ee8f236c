#!/usr/bin/env python3
"""status_page_worker.py - a worker whose health status is whatever a file says.

Serves GET /api/v1/health on 127.0.0.1:$HTTP_PORT with {"status": WORD} where WORD is
the first line of $STATUS_FILE (read on every request): 200 for healthy and degraded,
503 for anything else, so the supervisor's message can carry any text the test wants
(markup included). SIGTERM ends it at once.
"""
import http.server
import json
import os
import signal
import sys

STATUS_FILE = os.environ["STATUS_FILE"]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            with open(STATUS_FILE) as f:
                word = f.readline().rstrip("\n")
        except OSError:
            word = "unhealthy"
        body = json.dumps({"status": word}).encode()
        self.send_response(200 if word in ("healthy", "degraded") else 503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
http.server.HTTPServer(("127.0.0.1", int(os.environ["HTTP_PORT"])), Handler).serve_forever()
