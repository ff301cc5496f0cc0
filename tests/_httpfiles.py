"""A small HTTP/1.1 file server for the tests that read captures through fsspec's http://:
range requests (which fsspec's HTTPFile reads by), and servers that misbehave on purpose.

    python _httpfiles.py DIR HOST PORT       (serves until killed; prints "ready" once bound)

URL paths (NAME a file in DIR):
- ``/files/NAME``: the file, honest, ``Range: bytes=a-b`` answered with 206;
- ``/drop/N/NAME``: as honest, but a response reaching file offset N sends the bytes before
  it and then resets the connection (RST): a server or link lost mid-file;
- ``/short/N/NAME``: the same bytes, then a clean close (FIN) under a ``Content-Length``
  that claimed the whole range: a short body;
- ``/longer/N/NAME``: ``HEAD`` says the file is N bytes longer than it is (a ``Content-Length``
  that lies), ranges past its real end answered with what there is.

Only ever bound to the address given (a loopback or a lab namespace's private address).
"""
from __future__ import annotations

import os
import re
import socket
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = "."

    def log_message(self, *args: object) -> None:  # quiet: the tests read their own output
        pass

    def _target(self) -> tuple[str, int | None, str] | None:
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        if len(parts) == 2 and parts[0] == "files":
            mode, n, name = "files", None, parts[1]
        elif len(parts) == 3 and parts[0] in ("drop", "short", "longer") and parts[1].isdigit():
            mode, n, name = parts[0], int(parts[1]), parts[2]
        else:
            return None
        path = os.path.join(self.root, os.path.basename(name))
        return (path, n, mode) if os.path.isfile(path) else None

    def _not_found(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:
        t = self._target()
        if t is None:
            return self._not_found()
        path, n, mode = t
        size = os.path.getsize(path) + (n if mode == "longer" and n else 0)
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()

    def do_GET(self) -> None:
        t = self._target()
        if t is None:
            return self._not_found()
        path, n, mode = t
        size = os.path.getsize(path)
        start, end = 0, size  # [start, end)
        m = _RANGE.match(self.headers.get("Range", ""))
        if m:
            start = int(m.group(1))
            end = min(size, int(m.group(2)) + 1) if m.group(2) else size
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.server.ranges.append((self.path, start))
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end - 1, size))
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(end - start))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        with open(path, "rb") as f:
            f.seek(start)
            body = f.read(end - start)
        cut = n if mode in ("drop", "short") and n is not None and start <= n < end else None
        if cut is None:
            self.wfile.write(body)
            return
        self.wfile.write(body[: cut - start])
        self.wfile.flush()
        if mode == "drop":  # reset, not a clean close
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()  # the descriptor goes (RST) once the handler's files close
        self.close_connection = True


def serve(root: str, host: str, port: int) -> ThreadingHTTPServer:
    handler = type("RootHandler", (Handler,), {"root": root})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    server.ranges = []  # the 206 answers (list.append: thread-safe)
    return server


if __name__ == "__main__":
    srv = serve(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    print("ready", flush=True)
    srv.serve_forever()
