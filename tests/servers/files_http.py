"""Serves a directory over plain HTTP, as `python3 -m http.server` does,
with a listen backlog like a real server's.

http.server listens with a backlog of 5. uv, rattler and BuildKit open
dozens of connections at once (http.server speaks HTTP/1.0, one request a
connection), the kernel drops the connections beyond the backlog, and the
clients wait seconds to retry: builds against the test server stalled for
up to half a minute where a real index or channel answers at once.

Usage: files_http.py BIND PORT DIRECTORY; request lines go to stderr.
"""
import functools
import http.server
import sys


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024


def main():
    bind, port, root = sys.argv[1:4]
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
    Server((bind, int(port)), handler).serve_forever()


if __name__ == "__main__":
    main()
