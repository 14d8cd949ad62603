"""A static file server that requires HTTP basic auth, for the end-to-end
tests of private indexes: a PEP 503 index, a conda channel and an apt
repository are all directories of files behind it.

    python3 auth_http.py BIND PORT DIR USER PASSWORD LOG

Every request is appended to LOG as "<status> <path>", so a test can tell
that the build really came in with credentials.
"""

import base64
import functools
import http.server
import sys

import files_http  # beside this file: the server with a real backlog


def main():
    bind, port, root, user, password, log = sys.argv[1:7]
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def _authorized(self):
            return self.headers.get("Authorization") == expected

        def _record(self, status):
            with open(log, "a") as f:
                f.write(f"{status} {self.path}\n")

        def _refuse(self):
            self._record(401)
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="envd-test"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):
            if not self._authorized():
                return self._refuse()
            self._record(200)
            return super().do_GET()

        def do_HEAD(self):
            if not self._authorized():
                return self._refuse()
            return super().do_HEAD()

        def log_message(self, *args):
            pass

    handler = functools.partial(Handler, directory=root)
    files_http.Server((bind, int(port)), handler).serve_forever()


if __name__ == "__main__":
    main()
