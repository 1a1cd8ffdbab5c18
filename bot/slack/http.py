"""HTTP mode: the Bolt app behind gunicorn, several worker processes on one port.

The master checks the store and Slack once, then forks; each worker builds its own app, store
connections, thread pool and Web API client after the fork, so nothing that holds a socket or a
thread crosses it. Workers share the listening socket; one that dies is replaced by the master.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

from gunicorn.app.base import BaseApplication

from bot.config import Settings

log = logging.getLogger("triage.slack")

WSGI = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

THREADS = 8  # per worker: an ack is ~1 ms of CPU, more threads only queue on the GIL (bench/ack_latency.py)
BACKLOG = 2048  # connections the kernel holds while every thread is busy: a burst waits, it is not refused


def healthz(wsgi_app: WSGI) -> WSGI:
    """GET /healthz for the load balancer, saying which worker process answered."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            body = json.dumps({"ok": True, "pid": os.getpid()}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return wsgi_app(environ, start_response)

    return app


class Server(BaseApplication):
    """gunicorn embedded: its settings from a dict, the WSGI app built by `load` in each worker."""

    def __init__(self, load: Callable[[], WSGI], options: dict[str, Any]) -> None:
        self._load, self.options = load, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> WSGI:
        return self._load()


def options(*, host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    """gunicorn's settings for triage: gthread workers, no control socket (several servers share a host)."""
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "backlog": BACKLOG,
        "proc_name": "triage",
        "control_socket_disable": True,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
    }


def serve_http(settings: Settings, *, host: str, port: int, workers: int, threads: int = THREADS) -> None:
    """Check once (store schema, configuration, Slack's auth.test), then serve with `workers` processes."""
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    from bot.slack.app import build_app, check_slack
    from bot.store import open_store

    location, busy = settings.store_location(), settings.config.store.busy_timeout_s
    store = open_store(location, busy)  # creates or upgrades the schema once, before any worker opens it
    try:
        check_slack(build_app(settings, store).client)  # a missing secret or an unreachable Slack: one line, before forking
    finally:
        store.close()

    def load() -> WSGI:
        return healthz(SlackRequestHandler(build_app(settings, open_store(location, busy))))

    log.info("triage: HTTP mode on %s:%d/slack/events, %d worker(s) x %d threads", host, port, workers, threads)
    Server(load, options(host=host, port=port, workers=workers, threads=threads)).run()
