"""GETs of one REST endpoint on urllib3 directly: what `requests` does for a provider, at a third of the CPU.

A status sweep of 100 Custom Vision resources makes 600 to 700 calls at once; through
`requests.Session` each cost about 0.6 ms of CPU on this machine (1.5 ms with new connections and
a hundred threads), so the sweep was bound by the client's CPU, not by the cloud. urllib3 (what
requests runs on) costs about 0.2 ms. What requests did for us is kept: the proxy from
HTTPS_PROXY / HTTP_PROXY / ALL_PROXY unless NO_PROXY names the host (credentials in the proxy URL
sent as Proxy-Authorization), the CA bundle from REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE else
certifi's, gzip and deflate accepted and decoded, the same timeout for connecting and reading.
Redirects are not followed: the APIs we call do not redirect, and a proxy's redirect to its login
page is reported as the answer that is not JSON it is.
"""

from __future__ import annotations

import json
import os.path
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError
from urllib3.exceptions import TimeoutError as _TimeoutError

from bot import __version__
from bot.errors import ConfigError

USER_AGENT = f"triage/{__version__}"


class Timeout(Exception):
    """No answer (or no connection) within the timeout."""


class Unreachable(Exception):
    """No HTTP answer at all: refused, reset, unresolvable, TLS or proxy failure."""


class Response:
    """The parts of an answer the providers read (the names requests uses)."""

    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: Any, content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers  # case-insensitive (urllib3's HTTPHeaderDict)
        self.content = content

    @property
    def text(self) -> str:
        ctype = self.headers.get("Content-Type") or ""
        charset = next((p.split("=", 1)[1].strip(' "') for p in ctype.split(";")[1:] if p.strip().lower().startswith("charset=")),
                       "utf-8")
        try:
            return self.content.decode(charset, "replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not (as requests raises). A UTF-8 byte order mark,
        which some Azure front ends put before JSON, is skipped as requests does."""
        try:
            return json.loads(self.content.removeprefix(b"\xef\xbb\xbf"))
        except UnicodeDecodeError as e:
            raise ValueError(str(e)) from None


def _variable(env: Mapping[str, str], name: str) -> tuple[str, str]:
    """(the variable's name as set, its value) of a proxy variable, lower case first (as urllib and curl read them)."""
    for key in (name.lower(), name.upper()):
        value = (env.get(key) or "").strip()
        if value:
            return key, value
    return name.upper(), ""


def proxy_for(url: str, env: Mapping[str, str]) -> tuple[str, str] | None:
    """(variable, proxy URL) the environment names for this URL, as requests and curl read them (None: go direct)."""
    parts = urlsplit(url)
    found = _variable(env, f"{parts.scheme}_proxy")
    if not found[1]:
        found = _variable(env, "all_proxy")
    if not found[1]:
        return None
    no_proxy = _variable(env, "no_proxy")[1]
    if no_proxy:
        import urllib.request  # 8 ms of start-up: only when a proxy and a NO_PROXY are set

        host = parts.hostname or ""
        if urllib.request.proxy_bypass_environment(host if parts.port is None else f"{host}:{parts.port}", {"no": no_proxy}):
            return None
    return found


def _proxy_manager(variable: str, proxy: str, connections: int, tls: dict[str, Any]) -> urllib3.ProxyManager:
    """A pool manager through the proxy; a proxy URL we cannot use is a ConfigError naming the variable
    (never its value: it may hold a password)."""
    p = urlsplit(proxy if "://" in proxy else "http://" + proxy)
    try:
        port = p.port
    except ValueError:
        port = -1
    if p.scheme not in ("http", "https") or not p.hostname or port == -1:
        raise ConfigError(f"${variable} is not a proxy URL triage can use",
                          hint="give http://[user:password@]host:port (or https://); SOCKS proxies are not supported")
    headers = None
    if p.username:
        headers = urllib3.util.make_headers(proxy_basic_auth=f"{unquote(p.username)}:{unquote(p.password or '')}")
    host = f"[{p.hostname}]" if ":" in p.hostname else p.hostname
    return urllib3.ProxyManager(f"{p.scheme}://{host}" + (f":{port}" if port else ""), proxy_headers=headers,
                                num_pools=2, maxsize=connections, **tls)


def ca_bundle(env: Mapping[str, str]) -> str:
    found = env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE")
    if found:
        return found
    import certifi

    return certifi.where()


class Client:
    """GETs of URLs under one endpoint, over a pool of at most `connections` kept-alive connections;
    `env` (the settings' environment) names the proxy and the CA bundle."""

    def __init__(self, endpoint: str, connections: int, timeout_s: float, env: Mapping[str, str]) -> None:
        self.timeout = urllib3.Timeout(connect=timeout_s, read=timeout_s)
        tls: dict[str, Any] = {}
        if endpoint.lower().startswith("https:"):
            bundle = ca_bundle(env)
            tls = {"ca_cert_dir": bundle} if os.path.isdir(bundle) else {"ca_certs": bundle}
        proxy = proxy_for(endpoint, env)
        if proxy:
            self.manager: urllib3.PoolManager = _proxy_manager(*proxy, connections, tls)
        else:
            self.manager = urllib3.PoolManager(num_pools=2, maxsize=connections, **tls)
        self.base_headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"}

    def get(self, url: str, headers: dict[str, str], params: dict[str, str] | None = None) -> Response:
        """One GET; raises Timeout or Unreachable when no answer came, whatever its status otherwise."""
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        try:
            r = self.manager.request("GET", url, headers={**self.base_headers, **headers}, timeout=self.timeout,
                                     retries=False, redirect=False)
        except NewConnectionError as e:  # a subclass of urllib3's TimeoutError, but a refusal, not a wait
            raise Unreachable(type(e).__name__) from None
        except _TimeoutError as e:
            raise Timeout(type(e).__name__) from None
        except HTTPError as e:
            raise Unreachable(type(e).__name__) from None
        return Response(r.status, r.headers, r.data)
