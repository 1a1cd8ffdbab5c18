"""A loopback HTTPS stand-in for Azure Resource Manager (and what an Azure ML workspace links to).

It serves the recorded responses of tests/fixtures/azureml/ (the routes of aml_replay) over real
TLS on 127.0.0.1, so the real CLI reaches it through `resource_manager_endpoint` exactly as it
would reach a sovereign cloud or a private gateway:

- Resource Manager paths (/subscriptions/…) are answered at the root;
- hosts the workspace points to (Run History, discovery, blob storage) are rewritten in every
  body to https://127.0.0.1:<port>/_h/<host>/…, so their routes match as recorded;
- /msi/token is an App Service managed-identity endpoint (IDENTITY_ENDPOINT / IDENTITY_HEADER),
  so DefaultAzureCredential gets a token without leaving the machine.

A self-signed certificate is made per server; clients trust it through REQUESTS_CA_BUNDLE.
Faults are routes put in front (`fail`), served in turn like aml_replay's Reply lists; a Reply with
status 0 stalls `body` seconds, a bytes body is sent raw as HTML.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from aml_replay import Reply, standard_routes
from loopback import LoopbackServer, QuietHandler

IDENTITY_HEADER = "stand-in-identity-header"
ARM_HOSTS = ("management.azure.com",)
LINKED_HOSTS = re.compile(r"https://([a-z0-9-]+\.(?:api\.azureml\.ms|experiments\.azureml\.net|blob\.core\.windows\.net))")


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and localhost)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "triage ARM stand-in")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "arm-standin.pem", directory / "arm-standin.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class FakeARM(LoopbackServer):
    """Serve the recorded workspace over HTTPS on 127.0.0.1:<random port>; record every request."""

    def __init__(self, routes: list[tuple[str, str, Reply | list[Reply]]] | None = None) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="arm-standin-"))
        self.cert, key = _certificate(self._dir)
        self.routes = [(m, re.compile(p), r if isinstance(r, list) else [r]) for m, p, r in (routes or standard_routes())]
        self.requests: list[tuple[str, str, bool]] = []  # (method, URL as routed, bearer token present)
        self.hosts: set[str] = set()  # Host headers seen: proves where the client really sent its requests
        self._lock = threading.Lock()
        self._serve(self._handler(), tls=(self.cert, key))

    def fail(self, method: str, pattern: str, replies: Reply | list[Reply]) -> None:
        """Answer requests matching (method, URL regex) with these replies first (the last one repeats)."""
        with self._lock:
            self.routes.insert(0, (method, re.compile(pattern), replies if isinstance(replies, list) else [replies]))

    def env(self) -> dict[str, str]:
        """What a process needs to reach the stand-in: trust its certificate, get tokens from it."""
        return {"REQUESTS_CA_BUNDLE": str(self.cert), "SSL_CERT_FILE": str(self.cert),
                "IDENTITY_ENDPOINT": f"{self.endpoint}/msi/token", "IDENTITY_HEADER": IDENTITY_HEADER}

    def seen(self, method: str, pattern: str) -> list[str]:
        return [u for m, u, _ in self.requests if m == method and re.search(pattern, u)]

    # ---- serving ---------------------------------------------------------------------------

    def _rewrite(self, data: bytes) -> bytes:
        text = data.decode("utf-8")
        for host in ARM_HOSTS:
            text = text.replace(f"https://{host}", self.endpoint)
        text = LINKED_HOSTS.sub(lambda m: f"{self.endpoint}/_h/{m.group(1)}", text)
        return text.encode("utf-8")

    def _answer(self, method: str, url: str) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            for m, pattern, replies in self.routes:
                if m == method and pattern.search(url):
                    reply = replies.pop(0) if len(replies) > 1 else replies[0]
                    break
            else:
                reply = Reply(404, {"error": {"code": "NoStandInRoute", "message": f"no stand-in route for {method} {url}"}})
        if reply.status == 0:  # stall past the client's timeout (body: seconds)
            time.sleep(float(reply.body))
            return 200, b"{}", {"Content-Type": "application/json"}
        if isinstance(reply.body, bytes):  # sent as it is: a proxy's HTML page
            return reply.status, reply.body, {"Content-Type": "text/html; charset=utf-8", **reply.headers}
        data, ctype = reply.payload()
        return reply.status, self._rewrite(data), {"Content-Type": ctype, **reply.headers}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                parts = urlsplit(self.path)
                if parts.path == "/msi/token":
                    return self._token()
                m = re.match(r"^/_h/([^/]+)(/.*)?$", parts.path)
                host, path = (m.group(1), m.group(2) or "/") if m else ("management.azure.com", parts.path)
                url = f"https://{host}{path}" + (f"?{parts.query}" if parts.query else "")
                with fake._lock:
                    fake.requests.append((method, url, self.headers.get("Authorization", "").startswith("Bearer ")))
                    fake.hosts.add(self.headers.get("Host", ""))
                status, data, headers = fake._answer(method, url)
                self._send(status, data, headers)

            def _token(self) -> None:
                if self.headers.get("X-IDENTITY-HEADER") != IDENTITY_HEADER:
                    return self._send(401, b'{"error": "bad identity header"}', {"Content-Type": "application/json"})
                body = {"access_token": "stand-in-token", "expires_on": str(int(time.time()) + 3600),
                        "resource": "https://management.azure.com", "token_type": "Bearer"}
                self._send(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        if k.lower() != "content-length":
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("x-ms-request-id", "11111111-2222-3333-4444-555555555555")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass

        return Handler
