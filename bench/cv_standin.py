"""Many Custom Vision resources served by one asyncio loop: a stand-in cheap enough to measure a sweep.

tests/fake_customvision.py runs a thread per connection and parses with http.server: about half a
millisecond of CPU per request, which at 700 requests is more than the sweep it serves may take
on this 2-core machine. This one answers the same routes with the same bodies (its `route`) from
one event loop, with TCP_NODELAY, HTTP/1.1 keep-alive, the Training-Key check, and `delay`
seconds before every answer (a timer, not a thread).
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fake_customvision import DOMAINS, GATEWAY_401, route  # noqa: E402

REASONS = {200: "OK", 401: "Unauthorized", 404: "Not Found"}


class Resource:
    """One Custom Vision training resource: what `route` reads."""

    def __init__(self) -> None:
        self.projects: dict[str, dict[str, Any]] = {}
        self.iterations: dict[str, list[dict[str, Any]]] = {}
        self.tags: dict[str, list[dict[str, Any]]] = {}
        self.domains = dict(DOMAINS)
        self.requests = 0


def response(status: int, body: Any) -> bytes:
    data = json.dumps(body).encode()
    head = (f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(data)}\r\n\r\n")
    return head.encode() + data


class Connection(asyncio.Protocol):
    def __init__(self, resource: Resource, key: str, delay: float) -> None:
        self.resource, self.key, self.delay = resource, key, delay
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:  # GETs only: a request ends with its headers
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1].split("?")[0]
            key = next((v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
                        if k.strip().lower() == "training-key"), None)
            self.resource.requests += 1
            answer = response(*route(self.resource, path)) if key == self.key else response(401, GATEWAY_401)
            asyncio.get_running_loop().call_later(self.delay, self._send, answer)

    def _send(self, answer: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


class Standin:
    """`resources` served on their own ports of 127.0.0.1 by one loop in the calling thread."""

    def __init__(self, resources: list[Resource], key: str, delay: float) -> None:
        self.resources, self.key, self.delay = resources, key, delay
        self.loop = asyncio.new_event_loop()
        self.servers = [
            self.loop.run_until_complete(self.loop.create_server(
                lambda r=r: Connection(r, key, delay), "127.0.0.1", 0, backlog=1024))
            for r in resources
        ]

    @property
    def endpoints(self) -> list[str]:
        return [f"http://127.0.0.1:{s.sockets[0].getsockname()[1]}" for s in self.servers]

    def requests(self) -> int:
        return sum(r.requests for r in self.resources)
