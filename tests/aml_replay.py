"""Replay recorded Azure responses under the real azure-ai-ml MLClient (apis.md §2.4, Appendix A1).

A `requests` adapter serves canned responses per (method, URL regex) from tests/fixtures/azureml/
and records every request it saw; azure-core's RequestsTransport carries them. Nothing leaves the
process: an unrouted request gets a 404 naming the URL, so a missing route fails loudly.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import urllib3
from azure.core.credentials import AccessToken
from requests.adapters import BaseAdapter

from bot.providers.azureml import BoundedTransport

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "azureml"
SUB = "5f1c2a3b-7d4e-4f60-9a8b-1c2d3e4f5a6b"
RG = "ml-prod-rg"
WS = "vision-ws"
WSID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/{WS}"
ARM = f"https://management.azure.com{WSID}"


def fixture(name: str) -> Any:
    """A recorded response body: parsed JSON for .json files, text otherwise."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return json.loads(text) if name.endswith(".json") else text


@dataclass
class Reply:
    """One recorded response. body: a fixture file name, a dict (JSON) or str (text)."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> tuple[bytes, str]:
        body = self.body
        if isinstance(body, str) and "\n" not in body and len(body) < 200 and (FIXTURES / body).is_file():
            body = fixture(body)
        if isinstance(body, str):
            return body.encode("utf-8"), "text/plain; charset=utf-8"
        return json.dumps(body if body is not None else {}).encode("utf-8"), "application/json; charset=utf-8"


class ReplayAdapter(BaseAdapter):
    """(method, url regex) -> Reply, or a list of Replies served in turn (the last one repeats)."""

    def __init__(self, routes: Iterable[tuple[str, str, Reply | list[Reply]]]) -> None:
        super().__init__()
        self.routes = [(m, re.compile(p), r if isinstance(r, list) else [r]) for m, p, r in routes]
        self.calls: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.calls.append(request)
        for method, pattern, replies in self.routes:
            if request.method == method and pattern.search(request.url):
                reply = replies.pop(0) if len(replies) > 1 else replies[0]
                break
        else:
            reply = Reply(404, {"error": {"code": "NoFakeRoute", "message": f"no fake route for {request.method} {request.url}"}})
        data, ctype = reply.payload()
        headers = {"Content-Type": ctype, "Content-Length": str(len(data)), "x-ms-request-id": "req-0001", **reply.headers}
        resp = requests.Response()
        resp.status_code = reply.status
        # azure-core reads response.raw (enforce_content_length, streaming): give it a real urllib3 body.
        resp.raw = urllib3.HTTPResponse(
            body=io.BytesIO(data), headers=headers, status=reply.status, preload_content=False, decode_content=False
        )
        resp.headers = requests.structures.CaseInsensitiveDict(headers)
        resp.url, resp.request, resp.reason = request.url, request, "OK" if reply.status < 400 else "Error"
        return resp

    def close(self) -> None:
        pass

    def seen(self, method: str, pattern: str) -> list[requests.PreparedRequest]:
        return [c for c in self.calls if c.method == method and re.search(pattern, c.url)]


class FakeCredential:
    """A TokenCredential that never talks to Entra ID."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("fake-token", int(time.time()) + 3600)


def transport_for(adapter: ReplayAdapter, max_sleep: float = 0.05) -> BoundedTransport:
    """The production transport class over a session that replays; retry waits capped at max_sleep."""
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    # session_owner=False: MLClient shares one transport across ~20 clients; azure-core must not close it.
    return BoundedTransport(session=session, session_owner=False, max_sleep=max_sleep)


def workspace_routes() -> list[tuple[str, str, Reply]]:
    """The workspace and discovery documents run history needs (GET workspace -> discoveryUrl -> api)."""
    return [
        ("GET", rf"/workspaces/{WS}\?", Reply(body="workspace.json")),
        ("GET", r"api\.azureml\.ms/discovery", Reply(body="discovery.json")),
    ]


def standard_routes() -> list[tuple[str, str, Reply | list[Reply]]]:
    """The recorded workspace: two endpoints, one failed deployment, three jobs (one Failed)."""
    return [
        ("POST", r"/onlineEndpoints/image-classifier/deployments/green/getLogs\?", Reply(body="getlogs_green.json")),
        ("POST", r"/onlineEndpoints/[^/]+/deployments/[^/]+/getLogs\?", Reply(body={"content": ""})),
        ("GET", r"/onlineEndpoints/image-classifier/deployments/green\?", Reply(body="deployment_image-classifier_green.json")),
        ("GET", r"/onlineEndpoints/image-classifier/deployments\?", Reply(body="deployments_image-classifier.json")),
        ("GET", r"/onlineEndpoints/fraud-scorer/deployments\?", Reply(body="deployments_fraud-scorer.json")),
        ("GET", r"/onlineEndpoints/image-classifier\?", Reply(body="endpoint_image-classifier.json")),
        ("GET", r"/onlineEndpoints/fraud-scorer\?", Reply(body="endpoint_fraud-scorer.json")),
        ("GET", r"/onlineEndpoints\?", Reply(body="endpoints.json")),
        ("GET", r"/mfeOperationsStatus/odidp:", Reply(body="operation_green_failed.json")),
        ("GET", r"/jobs/quiet_lamp_x7k2m9\?", Reply(body="job_quiet_lamp_x7k2m9.json")),
        ("GET", r"/jobs\?", Reply(body="jobs.json")),
        ("GET", r"/history/v1\.0/.*/runs/quiet_lamp_x7k2m9/details", Reply(body="rundetails_quiet_lamp_x7k2m9.json")),
        ("GET", r"\.blob\.core\.windows\.net/.*quiet_lamp_x7k2m9/user_logs/std_log\.txt", Reply(body="std_log_quiet_lamp_x7k2m9.txt")),
        *workspace_routes(),
    ]


CONFIG = f"""
[defaults]
lang = "en"

[[azureml]]
name = "aml-prod"
subscription_id = "{SUB}"
resource_group = "{RG}"
workspace = "{WS}"
timeout_s = 5
"""


def settings_for(text: str = CONFIG) -> Any:
    from bot.config import Settings, parse

    return Settings(parse(text), {})


def make_provider(routes: Iterable[tuple[str, str, Reply | list[Reply]]], *, config: str = CONFIG, **overrides: Any) -> tuple[Any, ReplayAdapter, FakeCredential]:
    """The real AzureMLProvider (and MLClient) over a replaying transport; fast, bounded retries."""
    from bot.providers.azureml import AzureMLProvider

    adapter, cred = ReplayAdapter(routes), FakeCredential()
    settings = settings_for(config)
    seams = {"credential": cred, "transport": transport_for(adapter), "retry_total": 2, "retry_backoff_factor": 0.01,
             "retry_backoff_max": 0.05, **overrides}
    return AzureMLProvider(settings.config.azureml[0], settings, **seams), adapter, cred
