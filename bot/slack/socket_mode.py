"""Socket Mode: the app's one WebSocket to Slack, opened with the app-level token and kept open.

Bolt's websocket-client handler, not the SDK's built-in one. Both run the same sync App; but
websocket-client ends its session on a close frame or a reset and the handler reconnects at once
(apps.connections.open, then the new URL), while the built-in client skips that reconnect as long
as its old socket is still set (its monitor does it a ping interval later) and, after a reset,
goes on reading the dead socket until five pings in a row failed (50 s with its 10 s default).
What websocket-client lacks, noticing a peer that went silent (a half-open connection), is given
here: a pong must come within PONG_WAIT_S of each ping. tests/test_socket_mode.py drops the
connection all three ways.
"""

from __future__ import annotations

import logging
import time

from slack_bolt import App
from slack_bolt.adapter.socket_mode.websocket_client import SocketModeHandler
from slack_sdk.errors import SlackClientError
from slack_sdk.socket_mode.websocket_client import SocketModeClient

from bot.slack.webapi import startup_error

log = logging.getLogger("triage.slack")

PING_S = 5.0  # a ping every 5 s; also how often a session that could not reconnect is tried again
PONG_WAIT_S = 3.0  # no pong within this after a ping: the connection is dead, open a new one


class Client(SocketModeClient):
    """The SDK's websocket-client Socket Mode client, with a pong timeout, and a new session left
    one ping interval to open before the monitor calls it closed (else every start and reconnect
    raced it: a second apps.connections.open, the first URL thrown away). A session that ended is
    not run again on its old URL: after a failed apps.connections.open the monitor asks again,
    once a ping interval."""

    _connected_at = float("-inf")
    _last_run: object = None

    def connect(self) -> None:
        self._connected_at = time.monotonic()
        super().connect()

    def _monitor_current_session(self) -> None:
        if time.monotonic() - self._connected_at >= self.ping_interval:
            super()._monitor_current_session()

    def _run_current_session(self) -> None:
        session = self.current_session
        if session is None or session is self._last_run:  # a URL is good for one connection: never run a session twice
            return
        self._last_run = session
        try:
            self.logger.info("Starting to receive messages from a new connection")
            # a timed-out pong ends run_forever like a close: on_close reconnects
            session.run_forever(ping_interval=self.ping_interval, ping_timeout=PONG_WAIT_S,
                                http_proxy_host=self.http_proxy_host, http_proxy_port=self.http_proxy_port,
                                http_proxy_auth=self.http_proxy_auth, proxy_type=self.proxy_type)
            self.logger.info("Stopped receiving messages from a connection")
        except Exception as e:  # the SDK's own runner does the same: log, close, let the monitor reconnect
            self.logger.error("Socket Mode session failed: %s: %s", type(e).__name__, e)
            session.close()


class Handler(SocketModeHandler):
    """Bolt's websocket-client handler on `Client`."""

    def __init__(self, app: App, app_token: str) -> None:  # noqa: D107  (the parent builds a client we replace)
        self.app, self.app_token = app, app_token
        self.client = Client(app_token=app_token, logger=app.logger, web_client=app.client, ping_interval=PING_S)
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]


def connect(app: App, app_token: str) -> Handler:
    """Open Socket Mode; a refused app token or an unreachable Slack is said plainly, naming Slack and the URL."""
    handler = Handler(app, app_token)
    try:  # the first apps.connections.open is ours: a refusal is one line, not the SDK's logged error
        handler.client.wss_uri = app.client.apps_connections_open(app_token=app_token)["url"]
    except (OSError, SlackClientError) as e:
        handler.close()
        raise startup_error(e, app.client.base_url, "apps.connections.open", "SLACK_APP_TOKEN",
                            "create an app-level token with connections:write under Basic Information → App-Level Tokens") from None
    handler.connect()  # the WebSocket opens on the client's own thread and reconnects from then on
    return handler
