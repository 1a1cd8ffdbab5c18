"""The Slack app's composition root: one Bolt App, sync, lazy listeners on a thread pool."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import Settings
from bot.errors import ConfigError, TriageError
from bot.redact import redact
from bot.slack import listeners
from bot.slack.access import Access
from bot.slack.deps import Deps
from bot.slack.webapi import startup_error
from bot.store import Store, StoreError, open_store

log = logging.getLogger("triage.slack")


class _ClientIsOurs(logging.Filter):
    """Bolt warns that the token goes unused whenever SLACK_BOT_TOKEN is set and a client is given: we
    give the client on purpose (SLACK_API_URL, our timeouts and retries), so the warning only alarms."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


logging.getLogger("slack_bolt.App").addFilter(_ClientIsOurs())

LOCALE_TTL_S = 3600.0
REPLAY_WINDOW_S = 300.0  # Slack's signature window: a signature seen inside it is refused the second time
# Bolt accepts a timestamp up to the window either side of our clock, so a signature first seen now
# (stamped up to 5 min ahead of us) stays acceptable for up to twice the window: remember it that long.
SIGNATURE_MEMORY_S = 2 * REPLAY_WINDOW_S
EVENT_MEMORY_S = 3600.0  # Slack retries an event for about an hour


class Once:
    """Signatures already accepted and event IDs already handled, kept in the store so that every
    worker process and replica refuses what another one accepted."""

    SWEEP_S = 60.0  # expired keys are deleted at most this often by each process

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store, self.clock = store, clock  # wall time: the processes that share the store share no other clock
        self._next_sweep = 0.0

    def first(self, key: str, ttl: float) -> bool:
        """True the first time `key` is seen inside `ttl` seconds by any process, False after."""
        now = self.clock()
        tx = self.store.tx()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_S
            tx.forget_expired(now)
        return tx.claim_once(key, now=now, ttl=ttl)


def api_base(url: str | None) -> str | None:
    """SLACK_API_URL as the SDK wants it (with its trailing slash), whether or not it was written with one."""
    if not url:
        return None
    return url.rstrip("/") + "/"


def web_client(token: str, base_url: str | None = None) -> WebClient:
    """Slack Web API client that retries 429 (honouring Retry-After), 5xx and connection errors, boundedly."""
    base_url = api_base(base_url)
    kwargs: dict[str, Any] = {"base_url": base_url} if base_url else {}
    return WebClient(
        token=token,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
        timeout=15,
        **kwargs,
    )


class Locales:
    """The user's Slack locale picks Japanese or English; looked up once an hour per user."""

    def __init__(self, client: WebClient, default: str) -> None:
        self.client, self.default = client, default
        self._cache: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def peek(self, user: str) -> str:
        """The user's language if already known, else the default: for answers that cannot wait for users.info."""
        with self._lock:
            hit = self._cache.get(user)
        return hit[1] if hit else self.default

    def lang(self, user: str) -> str:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(user)
            if hit and now - hit[0] < LOCALE_TTL_S:
                return hit[1]
        lang = self.default
        try:
            info = self.client.users_info(user=user, include_locale=True)
            locale = (info.get("user") or {}).get("locale") or ""
            lang = "ja" if locale.lower().startswith("ja") else "en" if locale else self.default
        except SlackApiError as e:  # missing users:read scope: fall back to the configured language
            log.warning("users.info failed for a user: %s", e.response.get("error"))
        with self._lock:
            self._cache[user] = (now, lang)
        return lang


def build_app(
    settings: Settings,
    store: Store,
    *,
    client: WebClient | None = None,
    authorize: Callable[..., AuthorizeResult] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    socket_mode: bool = False,
) -> App:
    """Wire the listeners. Tokens come from the environment captured in `settings`."""
    slack = settings.config.slack
    token = settings.env.get("SLACK_BOT_TOKEN", "")
    if client is None:
        if not token:
            raise ConfigError("SLACK_BOT_TOKEN is not set", hint="export the bot token (xoxb-…) from your Slack app's OAuth page")
        client = web_client(token, settings.env.get("SLACK_API_URL"))
    signing_secret = settings.env.get("SLACK_SIGNING_SECRET", "")
    if not socket_mode and not signing_secret:
        raise ConfigError("SLACK_SIGNING_SECRET is not set", hint="HTTP mode verifies every request; copy it from Basic Information")
    app = App(
        client=client,
        signing_secret=signing_secret or None,
        token=None if authorize else (client.token or None),
        authorize=authorize,
        token_verification_enabled=False,
        request_verification_enabled=not socket_mode,
        # Listeners run on the request's own thread and only parse and ack; slow work goes to
        # `later`'s pool. Sharing one pool would queue acks behind slow cloud calls.
        process_before_response=True,
        name="triage",
    )
    access = Access(slack, lambda group: client.usergroups_users_list(usergroup=group).get("users", []))
    locales = Locales(client, settings.config.defaults.lang)
    deps = Deps(settings, store, access, locales, overrides=overrides, workers=slack.workers)
    app._triage_deps = deps  # type: ignore[attr-defined]  # tests drive a rendering path directly

    seen = Once(store)

    @app.middleware
    def once(req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        """A signed request replayed inside the window is refused; an event Slack resends (X-Slack-Retry-Num) runs once.

        Checked in the store, by whichever worker gets the request: a store that cannot be written
        refuses with 503 (Slack retries events) rather than let a replay through."""
        signature = (req.headers.get("x-slack-signature") or [""])[0]
        event_id = req.body.get("event_id") if isinstance(req.body, dict) else None
        try:
            if signature and not seen.first(f"sig:{signature}", SIGNATURE_MEMORY_S):
                log.warning("refused a replayed request (signature already seen)")
                return BoltResponse(status=401, body="replayed request")
            if event_id and not seen.first(f"event:{event_id}", EVENT_MEMORY_S):
                retry = (req.headers.get("x-slack-retry-num") or ["?"])[0]
                log.info("event %s already handled (Slack retry %s): acknowledged, not run again", event_id, retry)
                return BoltResponse(status=200, body="")
        except StoreError as e:
            log.warning("cannot check for replays: %s", redact(e.message))
            return BoltResponse(status=503, body="state store unavailable")
        return next()

    listeners.register(app, deps)

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse | None:
        # Named errors are answered where they happen; one that gets here was not, and neither was anything
        # else: logged without the body (secrets).
        if isinstance(error, TriageError):
            log.warning("%s in a Slack listener, not answered there: %s", type(error).__name__, redact(error.message))
        else:
            log.error("unhandled %s in a Slack listener: %s", type(error).__name__, redact(str(error)))
        return None

    return app


def check_slack(client: WebClient) -> None:
    """auth.test before serving: an unreachable Slack or a bad token is said plainly, naming Slack and the URL."""
    try:
        client.auth_test()
    except (OSError, SlackClientError) as e:
        raise startup_error(e, client.base_url, "auth.test", "SLACK_BOT_TOKEN",
                            "copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page") from None


def serve(settings: Settings, *, http: bool = False, host: str = "0.0.0.0", port: int = 3000, workers: int = 1,
          threads: int | None = None) -> None:
    """Run the app: Socket Mode by default, or HTTP (gunicorn, `workers` processes) behind a load balancer."""
    if http:
        from bot.slack.http import THREADS, serve_http

        serve_http(settings, host=host, port=port, workers=workers, threads=threads or THREADS)
        return
    store = open_store(settings.store_location(), settings.config.store.busy_timeout_s)
    app_token = settings.env.get("SLACK_APP_TOKEN", "")
    if not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN is not set (an app-level token xapp-… with connections:write)",
                          hint="or run `triage serve --http --port N` with SLACK_SIGNING_SECRET")
    app = build_app(settings, store, socket_mode=True)
    check_slack(app.client)
    from bot.slack import socket_mode

    socket_mode.connect(app, app_token)
    log.info("triage: Socket Mode")
    threading.Event().wait()  # the handler's threads serve; this one only keeps the process alive
