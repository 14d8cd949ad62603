"""Serves a directory over plain HTTP, as `python3 -m http.server` does,
with a listen backlog like a real server's.

http.server listens with a backlog of 5. uv, rattler and BuildKit open
dozens of connections at once (http.server speaks HTTP/1.0, one request a
connection), the kernel drops the connections beyond the backlog, and the
clients wait seconds to retry: builds against the test server stalled for
up to half a minute where a real index or channel answers at once.

Usage: files_http.py BIND PORT DIRECTORY [no-head]; request lines go to
stderr. With `no-head`, HEAD is answered 501, as by a server that
implements only GET (http.server's BaseHTTPRequestHandler, some artifact
stores).
"""
import functools
import http.server
import sys


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024


class NoHead(http.server.SimpleHTTPRequestHandler):
    def do_HEAD(self):
        self.send_error(501, "Unsupported method ('HEAD')")


def main():
    bind, port, root = sys.argv[1:4]
    kind = NoHead if sys.argv[4:] == ["no-head"] else http.server.SimpleHTTPRequestHandler
    handler = functools.partial(kind, directory=root)
    Server((bind, int(port)), handler).serve_forever()


if __name__ == "__main__":
    main()
