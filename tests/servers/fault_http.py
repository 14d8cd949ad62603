"""A static file server that fails on request, for the end-to-end tests of
flaky indexes and channels.

    python3 fault_http.py BIND PORT DIR LOG FAULTS

FAULTS is JSON: {"<path suffix>": {"kind": KIND, "times": N, ...}}. The
first N requests (GET or HEAD) of a path that ends with the suffix meet the
fault, the later ones are served (`times` left out: every request). A key
"HEAD <suffix>" matches only HEAD requests, and before the plain suffix:
{"HEAD .whl": {"kind": "status", "code": 501}} is an index that implements
only GET, as Python's own http.server does.

- `status`: answer `code` (500, 502, 503, ...);
- `drop`: send the headers and half the body, then close the connection;
- `stall`: wait `seconds`, then close without answering;
- `truncate`: serve the first half of the file as if it were all of it;
- `corrupt`: serve the file with its middle byte changed.

Every request is appended to LOG as "<seconds since start> <what> <path>",
so a test can tell how often and for how long a client tried.
"""

import http.server
import json
import os
import sys
import threading
import time

import files_http  # beside this file: the server with a real backlog


def main():
    bind, port, root, log, faults = sys.argv[1:6]
    faults = json.loads(faults)
    seen = {}
    lock = threading.Lock()
    start = time.monotonic()

    def record(what, path):
        with lock, open(log, "a") as f:
            f.write("%.2f %s %s\n" % (time.monotonic() - start, what, path))

    class Handler(http.server.SimpleHTTPRequestHandler):
        def fault(self, head):
            path = self.path.split("?")[0]
            keys = sorted(faults, key=lambda k: not k.startswith("HEAD "))
            for suffix in keys:
                fault = faults[suffix]
                if suffix.startswith("HEAD "):
                    if not head:
                        continue
                    match = path.endswith(suffix[len("HEAD ") :])
                else:
                    match = path.endswith(suffix)
                if match:
                    with lock:
                        seen[suffix] = seen.get(suffix, 0) + 1
                        count = seen[suffix]
                    if count <= fault.get("times", 1 << 30):
                        return fault
            return None

        def body(self):
            with open(self.translate_path(self.path), "rb") as f:
                return f.read()

        def answer(self, head):
            fault = self.fault(head)
            if fault is None:
                record("ok", self.path)
                return super().do_HEAD() if head else super().do_GET()
            kind = fault["kind"]
            record(("head-" if head else "") + kind, self.path)
            if kind == "status":
                self.send_error(fault["code"])
                return
            if kind == "stall":
                time.sleep(fault["seconds"])
                self.close_connection = True
                return
            data = self.body()
            if kind == "truncate":
                data = data[: len(data) // 2]
            elif kind == "corrupt":
                middle = len(data) // 2
                data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
            self.send_response(200)
            self.send_header("Content-Type", self.guess_type(self.path))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if head:
                return
            if kind == "drop":
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.wfile.write(data)

        def do_GET(self):
            self.answer(False)

        def do_HEAD(self):
            self.answer(True)

        def log_message(self, *args):
            pass

    files_http.Server((bind, int(port)), lambda *a: Handler(*a, directory=root)).serve_forever()


if __name__ == "__main__":
    main()
