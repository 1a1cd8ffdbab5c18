"""The Slack app's composition root: one Bolt App, sync, lazy listeners on a thread pool."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, App, BoltRequest, BoltResponse, Respond
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import Settings
from bot.errors import CloudError, ConfigError, InputError, TriageError
from bot.redact import redact
from bot.slack import blocks as B
from bot.slack.access import Access
from bot.slack.alerts import resolve_alert, snooze_alert
from bot.slack.handlers import Handlers
from bot.slack.parse import parse, usage
from bot.store import Store, StoreError, open_store

log = logging.getLogger("triage.slack")

LOCALE_TTL_S = 3600.0
REPLAY_WINDOW_S = 300.0  # Slack's signature window: a signature seen inside it is refused the second time
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
    h = Handlers(settings, store, access, locales, overrides=overrides)
    app._triage_handlers = h  # type: ignore[attr-defined]  # tests drive a rendering path directly

    seen = Once(store)

    @app.middleware
    def once(req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        """A signed request replayed inside the window is refused; an event Slack resends (X-Slack-Retry-Num) runs once.

        Checked in the store, by whichever worker gets the request: a store that cannot be written
        refuses with 503 (Slack retries events) rather than let a replay through."""
        signature = (req.headers.get("x-slack-signature") or [""])[0]
        event_id = req.body.get("event_id") if isinstance(req.body, dict) else None
        try:
            if signature and not seen.first(f"sig:{signature}", REPLAY_WINDOW_S):
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

    pool = ThreadPoolExecutor(max_workers=slack.workers, thread_name_prefix="triage-work")

    def later(fn: Callable[..., None], *args: Any) -> None:
        """Run slow work after the ack, on our own pool (Bolt's lazy listeners deep-copy every request)."""

        def run() -> None:
            try:
                fn(*args)
            except TriageError as e:
                log.warning("%s: %s", fn.__name__, redact(e.message))
            except Exception as e:  # a worker thread must log, not die silently
                log.error("%s failed: %s: %s", fn.__name__, type(e).__name__, redact(str(e)))

        pool.submit(run)

    @app.command(slack.command)
    def on_command(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        """Answer inside Slack's 3 s: parse only; the work runs on the pool and answers via response_url."""
        user, channel, raw = body.get("user_id", ""), body.get("channel_id", ""), body.get("text", "")
        try:
            request = parse(raw)
        except InputError as e:
            ack(response_type="ephemeral", text=B.mrkdwn(f"{e.message}\n{e.hint or usage()}"))
            later(h.audit_raw, user, channel, "rejected", raw, f"rejected: {e.message}")
            return
        if request.verb == "help":
            ack(response_type="ephemeral", text=B.mrkdwn(usage()))
            later(h.audit_raw, user, channel, "help", raw, "ok")
            return
        # the language already known for this user (no users.info before the ack); the result follows the locale
        ack(response_type="ephemeral", text=B.mrkdwn(B.L[locales.peek(user)]["working"] + f" `{request.verb}`"))
        later(h.command, request, body, respond, client)

    @app.message_shortcut("diagnose_message")
    def on_shortcut(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        later(h.shortcut_diagnose, body, client, respond)

    @app.action("switch_lang")
    def on_switch(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        later(h.switch_lang, body, respond)

    @app.action("show_logs")
    def on_logs(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        later(h.show_logs, body, client, respond)

    @app.action("acknowledge")
    def on_acknowledge(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        later(h.acknowledge, body, client, respond)

    @app.action("draft_ticket")
    def draft_ticket(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        view_id = h.open_loading(body, client, respond)  # the trigger_id expires in 3 s: open first, fill later
        later(h.fill_ticket_modal, body, client, respond, view_id)

    @app.action("resolve_alert")
    def on_resolve(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        later(resolve_alert, h, body, client, respond)

    @app.action(re.compile(r"^snooze_alert_"))
    def on_snooze(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        later(snooze_alert, h, body, client, respond)

    @app.shortcut("lookup_ids")
    def on_lookup_ids(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body.get("trigger_id", ""), view=h.ids_modal(body.get("user", {}).get("id", "")))

    @app.view("ids_modal")
    def on_ids_submit(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        later(h.submit_ids, body, client)

    @app.action("share_result")
    def share_result(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        later(h.share, body, client, respond)

    @app.view("ticket_modal")
    def ticket_submit(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        h.submit_ticket(ack, body, client)

    @app.event("app_home_opened")
    def home(event: dict[str, Any], client: WebClient) -> None:
        h.publish_home(event, client)

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse | None:
        # Named errors are answered where they happen; anything else is logged without the body (secrets).
        if not isinstance(error, TriageError):
            log.error("unhandled %s in a Slack listener: %s", type(error).__name__, redact(str(error)))
        return None

    return app


def check_slack(client: WebClient) -> None:
    """auth.test before serving: an unreachable Slack or a bad token is said plainly, naming Slack and the URL."""
    url = client.base_url
    try:
        client.auth_test()
    except SlackApiError as e:
        error = e.response.get("error") if isinstance(e.response.data, dict) else f"HTTP {e.response.status_code}"
        if error in ("invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"):
            raise ConfigError(f"Slack at {url} refused SLACK_BOT_TOKEN: {error}",
                              hint="copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page") from None
        raise CloudError(f"Slack at {url} answered auth.test with {error}") from None
    except (OSError, SlackClientError) as e:
        reason = getattr(e, "reason", None) or e
        raise CloudError(f"cannot reach Slack at {url}: {reason}",
                         hint="check the network or proxy; SLACK_API_URL overrides the Web API URL (for a local stand-in)") from None


def serve(settings: Settings, *, http: bool = False, host: str = "0.0.0.0", port: int = 3000, workers: int = 1,
          threads: int | None = None) -> None:
    """Run the app: Socket Mode by default, or HTTP (gunicorn, `workers` processes) behind a load balancer."""
    if http:
        from bot.slack.http import THREADS, serve_http

        serve_http(settings, host=host, port=port, workers=workers, threads=threads or THREADS)
        return
    store = open_store(settings.store_location(), settings.config.store.busy_timeout_s)
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    app_token = settings.env.get("SLACK_APP_TOKEN", "")
    if not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN is not set (an app-level token xapp-… with connections:write)",
                          hint="or run `triage serve --http --port N` with SLACK_SIGNING_SECRET")
    app = build_app(settings, store, socket_mode=True)
    check_slack(app.client)
    log.info("triage: Socket Mode")
    SocketModeHandler(app, app_token=app_token).start()
