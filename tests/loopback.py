"""A stand-in server on 127.0.0.1:<random port>, in a daemon thread: the lifecycle every fake shares."""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class LoopbackServer:
    """Subclasses give `_handler()` (a BaseHTTPRequestHandler class); `tls=(cert, key)` serves HTTPS."""

    scheme = "http"

    def _serve(self, handler: type[BaseHTTPRequestHandler], tls: tuple[Path, Path] | None = None) -> None:
        # listen(5), http.server's default, drops the SYNs of a burst of new connections (a sweep
        # opens one per call in flight) and the client retries after 1 s: no cloud front end does.
        ThreadingHTTPServer.request_queue_size = 128
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, no access log on stderr, TCP_NODELAY."""

    protocol_version = "HTTP/1.1"
    # The handler writes the headers and the body in two sends; with Nagle on, the body waits for
    # the client's delayed ACK of the headers (about 40 ms on Linux) on every keep-alive request
    # after the first, a latency no cloud front end adds.
    disable_nagle_algorithm = True

    def log_message(self, *args: object) -> None:
        pass
