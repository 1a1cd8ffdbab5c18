"""The providers' HTTP client (bot/providers/http.py) keeps what requests did for us: proxies from the
environment (with credentials, and NO_PROXY), the CA bundle from REQUESTS_CA_BUNDLE, compressed
answers, and a proxy's redirect reported as the page that is not JSON it is."""

from __future__ import annotations

import base64
import gzip
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fake_arm import _certificate
from fake_customvision import FakeCustomVision
from test_customvision import KEY, provider, settings_for

from bot.errors import CloudError, ConfigError



def through(fake: FakeCustomVision, **env: str):
    """The provider with these variables in the environment its settings were read with."""
    return provider(fake, settings=settings_for(fake.endpoint, {"CV_KEY": KEY, **env}))


class ForwardProxy:
    """A plain HTTP forward proxy on 127.0.0.1: records each request line and Proxy-Authorization, forwards it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.seen.append((self.path, self.headers.get("Proxy-Authorization")))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-authorization", "host")}
                with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                        urllib.request.Request(self.path, headers=headers)) as r:
                    body = r.read()
                    self.send_response(r.status)
                    self.send_header("Content-Type", r.headers.get("Content-Type", "application/json"))
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy():
    p = ForwardProxy()
    yield p
    p.stop()


def test_calls_go_through_the_proxy_the_environment_names_with_its_credentials(fake, proxy):
    assert through(fake, HTTP_PROXY=proxy.url.replace("http://", "http://alice:s%40cret@")).names() == ["defects", "widgets"]
    [(line, auth)] = proxy.seen
    assert line == f"{fake.endpoint}/customvision/v3.3/training/projects"
    assert auth == "Basic " + base64.b64encode(b"alice:s@cret").decode()
    assert fake.paths() == ["/customvision/v3.3/training/projects"]


def test_no_proxy_sends_the_host_direct_and_all_proxy_is_a_fallback(fake, proxy):
    assert through(fake, http_proxy=proxy.url, no_proxy="localhost,127.0.0.1").names() == ["defects", "widgets"]
    assert proxy.seen == [] and len(fake.requests) == 1
    assert through(fake, ALL_PROXY=proxy.url, NO_PROXY="example.com").names() == ["defects", "widgets"]
    assert len(proxy.seen) == 1 and len(fake.requests) == 2


def test_https_endpoint_is_trusted_through_requests_ca_bundle_and_refused_without_it(tmp_path):
    cert, key = _certificate(tmp_path)
    fake = FakeCustomVision(tls=(cert, key)).start()
    fake.seed_standard()
    try:
        assert fake.endpoint.startswith("https://")
        with pytest.raises(CloudError) as e:  # certifi's bundle does not hold a self-signed certificate
            provider(fake).names()
        assert "cannot reach Custom Vision" in e.value.message and "SSLError" in e.value.message
        assert fake.requests == []
        assert through(fake, REQUESTS_CA_BUNDLE=str(cert)).names() == ["defects", "widgets"]
    finally:
        fake.stop()


def test_json_after_a_byte_order_mark_is_read(fake):
    fake.queue(r"/projects$", 200, b"\xef\xbb\xbf" + json.dumps([{"id": "p1", "name": "bom"}]).encode(),
                 {"Content-Type": "application/json; charset=utf-8"})
    assert provider(fake).names() == ["bom"]


def test_a_compressed_answer_is_decoded_and_the_client_says_who_it_is(fake):
    body = gzip.compress(json.dumps([{"id": "p1", "name": "gzipped"}]).encode())
    fake.queue(r"/projects$", 200, body, {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert provider(fake).names() == ["gzipped"]
    headers = {k.lower(): v for k, v in fake.requests[0][2].items()}
    assert "gzip" in headers["accept-encoding"] and headers["user-agent"].startswith("triage/")


def test_a_redirect_to_a_login_page_is_an_answer_that_is_not_json(fake):
    fake.queue(r"/projects$", 302, b"<html><title>Sign in</title></html>", {"Location": "https://proxy.example/login"})
    with pytest.raises(CloudError) as e:
        provider(fake).names()
    assert "is not JSON (HTTP 302, text/html, starting 'Sign in')" in e.value.message
    assert len(fake.requests) == 1  # not followed


@pytest.mark.parametrize("value", ["http://alice:pw-s3cret@proxy.internal:notaport", "socks5://alice:pw-s3cret@proxy.internal:1080",
                                   "http://alice:pw-s3cret@:3128"])
def test_a_proxy_url_we_cannot_use_is_named_by_its_variable_never_by_its_password(fake, value):
    with pytest.raises(ConfigError) as e:
        through(fake, HTTPS_PROXY="", http_proxy=value).names()
    assert "$http_proxy is not a proxy URL" in e.value.message and "s3cret" not in e.value.message + e.value.hint
    assert fake.requests == []
