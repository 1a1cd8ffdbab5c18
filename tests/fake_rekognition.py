"""A loopback stand-in for Rekognition Custom Labels (JSON 1.1) and S3 (path-style GetObject).

One server answers both: a POST with `X-Amz-Target: RekognitionService.<Operation>` is a
Rekognition call, a GET /<bucket>/<key> an S3 read. Faults are queued per operation (or S3 key):
a status with a JSON error, a raw body (a proxy's login page), or a stall that outlasts the
client's timeout. Every request is recorded, so tests count what was really sent.
"""

from __future__ import annotations

import datetime
import json
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from loopback import LoopbackServer, QuietHandler


def _jsonable(value: Any) -> Any:
    """Timestamps as epoch seconds, as the service sends them."""
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


class FakeRekognition(LoopbackServer):
    """Serve Custom Labels projects / versions and S3 objects on 127.0.0.1:<random port>."""

    def __init__(self) -> None:
        self.projects: list[dict[str, Any]] = []
        self.versions: dict[str, list[dict[str, Any]]] = {}
        self.objects: dict[tuple[str, str], bytes] = {}
        self.requests: list[tuple[str, str]] = []  # (operation or "s3:GetObject", detail)
        self._queued: deque[tuple[re.Pattern[str], int, Any, dict[str, str]]] = deque()
        self._lock = threading.Lock()
        self._serve(self._handler())

    def queue(self, what: str, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        """Answer the next request for `what` (an operation name, or "s3:" + a key regex) this way, once.

        status 0 stalls `body` seconds; bytes are sent raw (text/html unless headers say otherwise).
        """
        with self._lock:
            pattern = f"s3:.*{what[3:]}.*" if what.startswith("s3:") else re.escape(what)
            self._queued.append((re.compile(pattern), status, body, headers or {}))

    def count(self, what: str) -> int:
        return sum(1 for op, _ in self.requests if op == what)

    def put_object(self, bucket: str, key: str, data: bytes | str) -> None:
        self.objects[(bucket, key)] = data.encode() if isinstance(data, str) else data

    # ---- the API ---------------------------------------------------------------------------

    def _operation(self, op: str, params: dict[str, Any]) -> tuple[int, Any]:
        if op == "DescribeProjects":
            names = params.get("ProjectNames")
            found = [p for p in self.projects if not names or p["ProjectArn"].split(":project/", 1)[1].split("/")[0] in names]
            return 200, {"ProjectDescriptions": found}
        if op == "DescribeProjectVersions":
            arn = params.get("ProjectArn", "")
            if not any(p["ProjectArn"] == arn for p in self.projects):
                return 400, {"__type": "ResourceNotFoundException", "Message": f"Project {arn} not found"}
            return 200, {"ProjectVersionDescriptions": self.versions.get(arn, [])}
        return 400, {"__type": "InvalidParameterException", "Message": f"the stand-in does not serve {op}"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def _queued(self, what: str) -> tuple[int, Any, dict[str, str]] | None:
                with fake._lock:
                    q = next((q for q in fake._queued if q[0].fullmatch(what)), None)
                    if q:
                        fake._queued.remove(q)
                return (q[1], q[2], q[3]) if q else None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                op = (self.headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
                with fake._lock:
                    fake.requests.append((op, raw.decode("utf-8", "replace")))
                queued = self._queued(op)
                if queued:
                    return self._fault(*queued)
                status, body = fake._operation(op, json.loads(raw or b"{}"))
                self._send(status, json.dumps(_jsonable(body)).encode(), {"Content-Type": "application/x-amz-json-1.1"})

            def do_GET(self) -> None:
                path = unquote(urlsplit(self.path).path)
                bucket, _, key = path.lstrip("/").partition("/")
                with fake._lock:
                    fake.requests.append(("s3:GetObject", f"{bucket}/{key}"))
                queued = self._queued(f"s3:{key}")
                if queued:
                    return self._fault(*queued)
                data = fake.objects.get((bucket, key))
                if data is None:
                    xml = (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code>"
                           b"<Message>The specified key does not exist.</Message></Error>")
                    return self._send(404, xml, {"Content-Type": "application/xml"})
                self._send(200, data, {"Content-Type": "application/octet-stream", "ETag": '"0"'})

            def _fault(self, status: int, body: Any, headers: dict[str, str]) -> None:
                if status == 0:  # stall past the client's timeout
                    time.sleep(float(body))
                    return self._send(200, b"{}", {"Content-Type": "application/x-amz-json-1.1"})
                if isinstance(body, bytes):
                    return self._send(status, body, {"Content-Type": "text/html; charset=utf-8", **headers})
                return self._send(status, json.dumps(body or {}).encode(), {"Content-Type": "application/x-amz-json-1.1", **headers})

            def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("x-amzn-RequestId", "11111111-2222-3333-4444-555555555555")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        return Handler
