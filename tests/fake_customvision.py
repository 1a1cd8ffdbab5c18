"""A loopback fake of the Custom Vision Training REST API v3.3, with recorded response shapes.

Bodies follow docs/research/apis.md §1.3-1.5: Project / Iteration / Tag / Domain objects, flat
service errors {"code", "message"}, and gateway errors wrapped in {"error": {...}} (401, 403, 429
with Retry-After). Used by the tests and by bench/status_sweep.py.
"""

from __future__ import annotations

import json
import re
import threading
import time
import zlib
from collections import deque
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from loopback import LoopbackServer, QuietHandler

API = "/customvision/v3.3/training"
KEY = "k123-training-key"
TOKEN = "good-entra-token"
TOKEN_WITHOUT_ROLE = "token-without-role"
GENERAL_CLASSIFICATION = "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31"
GENERAL_DETECTION = "da2e3a8a-40a5-4171-82f4-58522f70fbc1"

PROXY_LOGIN_PAGE = (b"<!DOCTYPE html><html><head><title>Corporate Proxy - Sign in</title></head>"
                    b"<body><form action='/login'>user <input name=u></form></body></html>")

GATEWAY_401 = {
    "error": {
        "code": "401",
        "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
        "valid key for an active subscription and use a correct regional API endpoint for your resource.",
    }
}
RBAC_403 = {
    "error": {
        "code": "PermissionDenied",
        "message": "The principal `6d1b…` lacks the required data action "
        "`Microsoft.CognitiveServices/accounts/CustomVision/projects/read` to perform "
        "`GET /customvision/v3.3/training/projects` operation.",
    }
}


def gateway_429(seconds: int) -> dict[str, Any]:
    return {"error": {"code": "429", "message": f"Rate limit is exceeded. Try again in {seconds} seconds."}}


def project(pid: str, name: str, domain: str = GENERAL_CLASSIFICATION, ctype: str | None = "Multiclass") -> dict[str, Any]:
    return {
        "id": pid,
        "name": name,
        "description": "",
        "settings": {
            "domainId": domain,
            "classificationType": ctype,
            "targetExportPlatforms": [],
            "useNegativeSet": True,
            "detectionParameters": None,
            "imageProcessingSettings": {"augmentationMethods": {}},
        },
        "created": "2024-04-01T08:00:00Z",
        "lastModified": "2024-05-01T10:00:00Z",
        "thumbnailUri": "https://irisprodwetraining.blob.core.windows.net/i-x/thumb.jpg",
        "drModeEnabled": False,
        "status": "Succeeded",
    }


def iteration(iid: str, pid: str, name: str, status: str, created: str, trained: str | None = None) -> dict[str, Any]:
    return {
        "id": iid,
        "name": name,
        "status": status,
        "created": created,
        "lastModified": trained or created,
        "trainedAt": trained,
        "projectId": pid,
        "exportable": False,
        "exportableTo": [],
        "domainId": GENERAL_CLASSIFICATION,
        "classificationType": "Multiclass",
        "trainingType": "Regular",
        "reservedBudgetInHours": 0,
        "trainingTimeInMinutes": 0,
        "publishName": "",
        "originalPublishResourceId": None,
    }


def tag(name: str, count: int, kind: str = "Regular") -> dict[str, Any]:
    return {"id": f"00000000-0000-4000-8000-{zlib.crc32(name.encode()):012d}", "name": name, "description": None,
            "type": kind, "imageCount": count}


DOMAINS = {
    GENERAL_CLASSIFICATION: {"id": GENERAL_CLASSIFICATION, "name": "General", "type": "Classification",
                             "exportable": False, "enabled": True},
    GENERAL_DETECTION: {"id": GENERAL_DETECTION, "name": "General", "type": "ObjectDetection",
                        "exportable": False, "enabled": True},
}

WIDGETS = "64b822c5-8082-4b36-a426-27225f4aa18c"
DEFECTS = "3f2c9a10-1b2c-4d5e-8f90-a1b2c3d4e5f6"
IT_OK = "fe1e83c4-6f50-4899-9544-6bb08cf0e15a"
IT_FAILED = "0d6c6e7b-2b4a-4c1e-9a57-5f7f2c3e9b11"
IT_DEFECTS = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


def route(resource: Any, path: str) -> tuple[int, Any]:
    """The answer of a resource (anything with projects, iterations, tags and domains) to a GET of path."""
    if not path.startswith(API):
        return 404, {"error": {"code": "404", "message": "Resource not found"}}
    rest = path[len(API):]
    if rest == "/projects":
        return 200, list(resource.projects.values())
    m = re.fullmatch(r"/projects/([^/]+)(/iterations|/tags)?", rest)
    if m:
        pid, sub = m.group(1), m.group(2)
        if pid not in resource.projects:
            return 404, {"code": "NotFoundProject", "message": "Project not found"}
        if sub == "/iterations":
            return 200, resource.iterations.get(pid, [])
        if sub == "/tags":
            return 200, resource.tags.get(pid, [])
        return 200, resource.projects[pid]
    if rest == "/domains":
        return 200, list(resource.domains.values())
    m = re.fullmatch(r"/domains/([^/]+)", rest)
    if m:
        if m.group(1) in resource.domains:
            return 200, resource.domains[m.group(1)]
        return 404, {"code": "NotFoundDomain", "message": "Domain not found"}
    return 404, {"code": "NotFound", "message": "Resource not found"}


class FakeCustomVision(LoopbackServer):
    """Serve a Custom Vision training resource on 127.0.0.1:<random port>; record every request."""

    def __init__(self, key: str | None = KEY, delay: float = 0.0, tls: tuple[Any, Any] | None = None) -> None:
        self.key = key
        self.delay = delay
        self.barrier: threading.Barrier | None = None  # set to prove callers overlap (see test_status)
        self.barrier_paths = re.compile(r"/projects$")  # the requests that wait at the barrier
        self.answering = threading.Event()  # clear() holds every request until set() again: a slow resource, without timing
        self.answering.set()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.projects: dict[str, dict[str, Any]] = {}
        self.iterations: dict[str, list[dict[str, Any]]] = {}
        self.tags: dict[str, list[dict[str, Any]]] = {}
        self.domains = dict(DOMAINS)
        self._queued: deque[tuple[re.Pattern[str], int, Any, dict[str, str]]] = deque()
        self._lock = threading.Lock()
        self._serve(self._handler(), tls=tls)

    def queue(self, path_regex: str, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        """Answer the next request whose path matches with this response, once.

        status 0 stalls for `body` seconds; bytes bodies are sent raw (text/html unless headers say)."""
        with self._lock:
            self._queued.append((re.compile(path_regex), status, body, headers or {}))

    def seed_standard(self) -> None:
        """Two projects: 'widgets' (classification, one Failed iteration, a tag with 3 images),
        'defects' (object detection, trained fine)."""
        self.projects[WIDGETS] = project(WIDGETS, "widgets")
        self.projects[DEFECTS] = project(DEFECTS, "defects", GENERAL_DETECTION, None)
        self.iterations[WIDGETS] = [
            iteration(IT_OK, WIDGETS, "Iteration 1", "Completed", "2024-04-20T09:00:00Z", "2024-04-20T09:40:00Z"),
            iteration(IT_FAILED, WIDGETS, "Iteration 2", "Failed", "2024-05-01T10:00:00Z"),
        ]
        self.iterations[DEFECTS] = [
            iteration(IT_DEFECTS, DEFECTS, "Iteration 1", "Completed", "2024-04-02T09:00:00Z", "2024-04-02T09:50:00Z"),
        ]
        self.tags[WIDGETS] = [tag("cat", 3), tag("dog", 40), tag("Negative", 0, "Negative")]
        self.tags[DEFECTS] = [tag("scratch", 60), tag("dent", 75)]

    def paths(self) -> list[str]:
        return [p for _, p, _ in self.requests]

    # ---- request handling -------------------------------------------------------------------

    def _route(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        return route(self, path)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                with fake._lock:
                    fake.requests.append(("GET", url.path, dict(self.headers)))
                if fake.delay:
                    time.sleep(fake.delay)
                fake.answering.wait(60)
                if fake.barrier is not None and fake.barrier_paths.search(url.path):
                    try:
                        fake.barrier.wait()
                    except threading.BrokenBarrierError:
                        return self._send(500, {"code": "ErrorUnknown", "message": "calls did not overlap"}, {})
                with fake._lock:
                    queued = next((q for q in fake._queued if q[0].search(url.path)), None)
                    if queued:
                        fake._queued.remove(queued)
                if queued:
                    _, status, body, headers = queued
                    if status == 0:  # stall: never answer in time
                        time.sleep(float(body))
                        return self._send(200, [], {})
                    return self._send(status, body, headers)
                auth = self._auth()
                if auth:
                    return self._send(*auth, {})
                status, body = fake._route(url.path, parse_qs(url.query))
                self._send(status, body, {})

            def _auth(self) -> tuple[int, Any] | None:
                if fake.key is not None:
                    return None if self.headers.get("Training-Key") == fake.key else (401, GATEWAY_401)
                bearer = self.headers.get("Authorization", "")
                if bearer == f"Bearer {TOKEN}":
                    return None
                if bearer == f"Bearer {TOKEN_WITHOUT_ROLE}":
                    return 403, RBAC_403
                return 401, GATEWAY_401

            def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
                # bytes are sent as they are (a proxy's HTML page); anything else as JSON
                raw = isinstance(body, bytes)
                data = body if raw else json.dumps(body).encode()
                headers = dict(headers)
                ctype = headers.pop("Content-Type", "text/html; charset=utf-8" if raw else "application/json; charset=utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        return Handler
