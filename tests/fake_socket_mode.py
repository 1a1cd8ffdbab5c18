"""A fake Slack Socket Mode server on 127.0.0.1: the WebSocket end of `apps.connections.open`.

It accepts the app's connection, says `hello`, sends envelopes in Slack's wire shape
(`envelope_id`, `type`, `payload`, `accepts_response_payload`, `retry_attempt`, `retry_reason`),
records every acknowledgement (`{"envelope_id": …, "payload"?: …}`) and can drop the connection:
with a close frame, as Slack does when it refreshes a link, abruptly (no close frame, a reset),
as a load balancer does, or silently (no more pongs), as a lost network does.
"""

from __future__ import annotations

import itertools
import json
import socket
import struct
import threading
import time
import uuid
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve


class FakeSocketMode:
    """`url()` is what apps.connections.open hands out (one ticket per call); `connections` counts
    the WebSocket connections accepted, `acks` the acknowledgements received, in order."""

    def __init__(self, app_id: str = "A1") -> None:
        self.app_id = app_id
        self.tickets: list[str] = []  # every URL handed out
        self.used: set[str] = set()  # a URL is good for one connection
        self.connections = 0  # connections that got their `hello`
        self.acks: list[dict[str, Any]] = []
        self.other: list[Any] = []  # anything else the app sent (should stay empty)
        self._current: ServerConnection | None = None
        self._cond = threading.Condition()
        self._seq = itertools.count(1)
        self.server: Server = serve(self._session, "127.0.0.1", 0, ping_interval=None, close_timeout=1)
        self.port = self.server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    # -- what apps.connections.open answers -------------------------------------------------------

    def url(self) -> str:
        ticket = uuid.uuid4().hex
        with self._cond:
            self.tickets.append(ticket)
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    # -- the server side of one connection --------------------------------------------------------

    def _session(self, conn: ServerConnection) -> None:
        ticket = (conn.request.path.partition("ticket=")[2] if conn.request else "").split("&")[0]
        with self._cond:
            fresh = ticket in self.tickets and ticket not in self.used
            self.used.add(ticket)
        if not fresh:  # a link it did not issue, or one already used
            conn.close(code=1008, reason="invalid ticket")
            return
        conn.send(json.dumps({"type": "hello", "num_connections": 1,
                              "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
                              "connection_info": {"app_id": self.app_id}}))
        with self._cond:
            self._current = conn
            self.connections += 1
            self._cond.notify_all()
        try:
            for raw in conn:
                try:
                    message = json.loads(raw)
                except (TypeError, ValueError):
                    message = raw
                with self._cond:
                    if isinstance(message, dict) and "envelope_id" in message:
                        self.acks.append(message)
                    else:
                        self.other.append(message)
                    self._cond.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                if self._current is conn:
                    self._current = None
                self._cond.notify_all()

    # -- driving it from a test -------------------------------------------------------------------

    def wait_connected(self, count: int = 1, timeout: float = 20.0) -> None:
        """Until the `count`-th connection got its hello (and is still open)."""
        self._wait(lambda: self.connections >= count and self._current is not None, timeout,
                   lambda: f"{self.connections} connections, wanted {count}; tickets issued: {len(self.tickets)}")

    def send(self, kind: str, payload: dict[str, Any], *, accepts_response_payload: bool = False,
             retry_attempt: int = 0) -> str:
        """Send one envelope on the open connection; returns its envelope_id."""
        envelope_id = f"{uuid.uuid4()}"
        envelope: dict[str, Any] = {"envelope_id": envelope_id, "payload": payload, "type": kind,
                                    "accepts_response_payload": accepts_response_payload}
        if kind == "events_api":
            envelope |= {"retry_attempt": retry_attempt, "retry_reason": "timeout" if retry_attempt else ""}
        with self._cond:
            conn = self._current
        if conn is None:
            raise AssertionError("no open Socket Mode connection to send on")
        conn.send(json.dumps(envelope))
        return envelope_id

    def ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The app's acknowledgement of one envelope, once it came."""
        def found() -> dict[str, Any] | None:
            return next((a for a in self.acks if a.get("envelope_id") == envelope_id), None)
        self._wait(lambda: found() is not None, timeout, lambda: f"no ack for {envelope_id}; acks: {self.acks}")
        with self._cond:
            return found()  # type: ignore[return-value]

    def acks_for(self, envelope_id: str) -> list[dict[str, Any]]:
        with self._cond:
            return [a for a in self.acks if a.get("envelope_id") == envelope_id]

    def refresh(self) -> None:
        """Slack's own way to move an app: a `disconnect` message, then the close frame."""
        with self._cond:
            conn = self._current
        if conn is not None:
            conn.send(json.dumps({"type": "disconnect", "reason": "refresh_requested", "debug_info": {"host": "applink-fake"}}))

    def go_silent(self) -> None:
        """The open connection goes half-open, as behind a dead NAT: it stays up, but pings get no pong
        and nothing is sent (the app's frames are still read and recorded)."""
        with self._cond:
            conn = self._current
        if conn is None:
            raise AssertionError("no open Socket Mode connection to silence")
        conn.protocol.send_frame = lambda frame: None  # type: ignore[method-assign]  # its pong answers go nowhere
        conn.send = lambda *args, **kwargs: None  # type: ignore[method-assign]
        with self._cond:
            self._current = None  # envelopes go to the next connection
            self._cond.notify_all()

    def drop(self, *, abrupt: bool = False) -> None:
        """Close the open connection: with a close frame (1001), or `abrupt`ly (a TCP reset, no frame)."""
        with self._cond:
            conn = self._current
        if conn is None:
            raise AssertionError("no open Socket Mode connection to drop")
        if abrupt:
            sock: socket.socket = conn.socket
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
            conn.close_socket()  # closes the socket under the connection and wakes its reader, no close frame
        else:
            conn.close(code=1001, reason="going away")
        self._wait(lambda: self._current is not conn, 10.0, lambda: "the dropped connection is still open")

    def _wait(self, ok: Any, timeout: float, why: Any) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not ok():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(why())
                self._cond.wait(min(left, 0.1))

    def close(self) -> None:
        with self._cond:
            conn = self._current
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass
        self.server.shutdown()
        self._thread.join(5)
