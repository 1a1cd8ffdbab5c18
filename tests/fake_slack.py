"""A fake Slack Web API on 127.0.0.1 that records every call (bolt-python's own test pattern)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


class FakeSlack:
    """Records every call. Channel history: top-level chat.postMessage messages (with their metadata)
    come back from conversations.history, newest first. `hang[path]` simulates a crash window: the
    call is recorded, the message posted ("after") or not ("before"), and the answer never comes
    (the connection is dropped when the fake closes or `release()` is called)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.throttle: dict[str, int] = {}  # path -> how many 429s to answer first
        self.hang: dict[str, str] = {}  # path -> "before" | "after" (posted, then no answer) | "drop" (posted, connection closed)
        self.retry_after = "0"  # the Retry-After header of throttled answers
        self.refuse: dict[str, str] = {}  # channel -> Slack error (not_in_channel …) for posts and updates there
        self.messages: dict[str, list[dict[str, Any]]] = {}  # channel -> top-level messages, oldest first
        self.replies: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (channel, thread ts) -> replies, oldest first
        self.page_size = 0  # > 0: history and replies answer at most this many messages a page, whatever the limit asked
        self._ts = 0
        self._released = threading.Event()
        self.locale = "en-US"
        self.groups: dict[str, list[str]] = {}
        self.not_member: set[str] = set()  # channels the bot is not in: posts there answer not_in_channel
        self.expired_triggers: set[str] = set()  # trigger_ids older than Slack's 3 s
        self.users_retry_after: str | None = None  # users.info answers 429 with this Retry-After once
        self._views = 0
        self.files: dict[str, bytes] = {}  # /files/<name> -> content, served to the bot token only
        self.app_token = "xapp-test-token"  # the app-level token apps.connections.open accepts
        self.open_errors: list[str] = []  # Slack errors apps.connections.open answers first, one a call
        self.socket_mode: Any = None  # a tests.fake_socket_mode.FakeSocketMode: apps.connections.open hands out its URLs
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype:
                    body = json.loads(raw or "{}")
                elif "multipart" in ctype:
                    body = {"_multipart": len(raw)}
                else:
                    body = {k: v[0] for k, v in parse_qs(raw).items()}
                if self.command == "GET" and self.path.startswith("/files/"):
                    with fake.lock:
                        fake.calls.append((self.path, {"authorization": self.headers.get("Authorization", "")}))
                    content = fake.files.get(self.path)
                    ctype = "text/plain"
                    if content is None or self.headers.get("Authorization") != "Bearer xoxb-test-token":
                        content, ctype = b"<html>sign in</html>", "text/html"  # what Slack serves to a token without files:read
                    self.send_response(200)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                    return None
                self.path, _, query = self.path.partition("?")  # GET methods (conversations.history) send a query
                body.update({k: v[0] for k, v in parse_qs(query).items()})
                if self.path.endswith("/apps.connections.open"):  # the app-level token comes in the header
                    body["token"] = self.headers.get("Authorization", "").removeprefix("Bearer ")
                with fake.lock:
                    fake.calls.append((self.path, body))
                    left = fake.throttle.get(self.path, 0)
                    if left:
                        fake.throttle[self.path] = left - 1
                if left:
                    return self._send(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": fake.retry_after})
                refused = fake.refuse.get(str(body.get("channel", "")))
                if refused and self.path.endswith(("/chat.postMessage", "/chat.update")):
                    return self._send(200, {"ok": False, "error": refused})
                mode = fake.hang.get(self.path)
                if mode:
                    if mode in ("after", "drop"):
                        fake.answer(self.path, body)
                    if mode != "drop":
                        fake._released.wait(60)
                    self.close_connection = True  # no answer: the client sees the connection closed
                    return None
                if self.path.endswith("/users.info") and fake.users_retry_after:
                    after, fake.users_retry_after = fake.users_retry_after, None
                    return self._send(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": after})
                if self.path.startswith("/response_url/") or self.path.startswith("/upload/"):
                    return self._send(200, "ok")
                self._send(200, fake.answer(self.path, body))

            do_GET = do_POST

            def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(payload, str) else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        blocks = body.get("blocks") or (body.get("view") or {}).get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if blocks is not None and not valid_blocks(blocks):
            return {"ok": False, "error": "invalid_blocks"}
        if path.endswith(("/chat.postMessage", "/files.completeUploadExternal")):
            channel = body.get("channel") or body.get("channel_id") or ""
            if channel in self.not_member:
                return {"ok": False, "error": "not_in_channel"}
        if path.endswith("/views.open"):
            if body.get("trigger_id") in self.expired_triggers:
                return {"ok": False, "error": "expired_trigger_id"}
            with self.lock:
                self._views += 1
                return {"ok": True, "view": {"id": f"V{self._views}"}}
        if path.endswith("/views.update"):
            return {"ok": True, "view": {"id": body.get("view_id")}}
        if path.endswith("/apps.connections.open"):
            if body.get("token") != self.app_token:
                return {"ok": False, "error": "invalid_auth"}
            with self.lock:
                error = self.open_errors.pop(0) if self.open_errors else None
            if error:
                return {"ok": False, "error": error}
            if self.socket_mode is None:
                return {"ok": False, "error": "fake_has_no_socket_mode_server"}  # not a Slack error: the test set none up
            return {"ok": True, "url": self.socket_mode.url()}
        if path.endswith("/auth.test"):
            return {"ok": True, "team_id": "T1", "user_id": "UBOT", "bot_id": "BBOT", "url": "https://x.slack.com/", "team": "t", "user": "bot"}
        if path.endswith("/users.info"):
            return {"ok": True, "user": {"id": body.get("user"), "locale": self.locale}}
        if path.endswith("/usergroups.users.list"):
            return {"ok": True, "users": self.groups.get(body.get("usergroup", ""), [])}
        if path.endswith("/files.getUploadURLExternal"):
            return {"ok": True, "upload_url": f"{self.base}/upload/F1", "file_id": "F1"}
        if path.endswith("/files.completeUploadExternal"):
            return {"ok": True, "files": [{"id": "F1", "title": "triage.txt"}]}
        if path.endswith("/chat.postMessage"):
            with self.lock:
                self._ts += 1
                ts = f"{int(time.time())}.{self._ts:06d}"
                message = {"type": "message", "ts": ts, "text": body.get("text", ""), "bot_id": "BBOT"}
                if body.get("metadata"):
                    message["metadata"] = body["metadata"] if isinstance(body["metadata"], dict) else json.loads(body["metadata"])
                if not body.get("thread_ts"):
                    self.messages.setdefault(body.get("channel", ""), []).append(message)
                else:
                    message["thread_ts"] = body["thread_ts"]
                    self.replies.setdefault((body.get("channel", ""), body["thread_ts"]), []).append(message)
            return {"ok": True, "channel": body.get("channel"), "ts": ts}
        if path.endswith("/chat.update"):
            return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts")}
        if path.endswith("/conversations.history"):
            with self.lock:
                found = list(reversed(self.messages.get(body.get("channel", ""), [])))
            oldest = float(body.get("oldest") or 0)
            found = [m for m in found if float(m["ts"]) > oldest]
            return self._page(found, body)
        if path.endswith("/conversations.replies"):
            with self.lock:
                channel, ts = body.get("channel", ""), body.get("ts", "")
                parent = [m for m in self.messages.get(channel, []) if m["ts"] == ts]
                found = parent + list(self.replies.get((channel, ts), []))
            return self._page(found, body)
        return {"ok": True}

    def _page(self, found: list[dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
        """One page of messages, continued by an opaque cursor (an offset here)."""
        if str(body.get("include_all_metadata")).lower() not in ("true", "1"):
            found = [{k: v for k, v in m.items() if k != "metadata"} for m in found]
        start = int(body.get("cursor") or 0)
        size = int(body.get("limit") or 100)
        if self.page_size:
            size = min(size, self.page_size)
        page, more = found[start:start + size], start + size < len(found)
        answer: dict[str, Any] = {"ok": True, "messages": page, "has_more": more}
        if more:
            answer["response_metadata"] = {"next_cursor": str(start + size)}
        return answer

    def calls_in_order(self) -> list[str]:
        with self.lock:
            return [p.rsplit("/", 1)[-1] for p, _ in self.calls]

    def release(self) -> None:
        """Let hung calls go (their connections are dropped without an answer)."""
        self._released.set()

    def paths(self) -> list[str]:
        with self.lock:
            return [p for p, _ in self.calls]

    def bodies(self, suffix: str) -> list[dict[str, Any]]:
        with self.lock:
            return [b for p, b in self.calls if p.endswith(suffix) or p.startswith(suffix)]

    def wait_for(self, suffix: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = self.bodies(suffix)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{suffix} called {len(self.bodies(suffix))} times, wanted {count}; calls: {self.paths()}")

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


def valid_blocks(blocks: list[dict[str, Any]]) -> bool:
    """Slack's Block Kit limits the app must respect: 50 blocks (100 in a modal), section text 3000, header 150, button value 2000."""
    if len(blocks) > 100:
        return False
    for b in blocks:
        text = (b.get("text") or {}).get("text", "")
        if b.get("type") == "section" and len(text) > 3000:
            return False
        if b.get("type") == "header" and len(text) > 150:
            return False
        for e in b.get("elements") or []:
            if len(str(e.get("value", ""))) > 2000 or len(str(e.get("text", ""))) > 3000:
                return False
    return True
