"""Options for the Look up IDs project picker: the chosen target's live project list, bounded and cached.

Slack waits 3 s for options. The list is fetched on a small pool of its own; the listener waits at most
OPTIONS_WAIT_S and otherwise answers with what is known (the last list, or none), while the fetch goes on
and fills the cache for the next keystroke. A list is kept LIST_TTL_S per target. A cloud error is logged
and answered with no options, never a 500.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from slack_bolt import Ack, App

from bot.commands.ids import project_names
from bot.errors import TriageError
from bot.redact import redact
from bot.slack.deps import Deps
from bot.slack.modals import OPTION_VALUE_MAX, SERVICES, option
from bot.slack.payload import picked, user_of

log = logging.getLogger("triage.slack")

OPTIONS_WAIT_S = 2.0  # Slack gives up on an options request after 3 s
LIST_TTL_S = 60.0
OPTIONS_MAX = 100  # Block Kit's limit for an external select's answer
FETCH_WORKERS = 4

Key = tuple[str, str]  # (service, target)


class ProjectLists:
    """Each target's project names, fetched at most once at a time and kept LIST_TTL_S."""

    def __init__(self, fetch: Callable[[str, str], list[str]], clock: Callable[[], float] = time.monotonic) -> None:
        self.fetch, self.clock = fetch, clock
        self._lists: dict[Key, tuple[float, list[str]]] = {}
        self._fetching: dict[Key, Future[list[str]]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=FETCH_WORKERS, thread_name_prefix="triage-options")

    def names(self, keys: list[Key], wait_s: float) -> list[str]:
        """The names of these targets' projects: fresh ones, or what is known once `wait_s` has passed."""
        known: dict[Key, list[str]] = {}
        pending: dict[Key, Future[list[str]]] = {}
        now = self.clock()
        with self._lock:
            for key in keys:
                hit = self._lists.get(key)
                if hit is not None:
                    known[key] = hit[1]
                    if now - hit[0] < LIST_TTL_S:
                        continue
                if key not in self._fetching:
                    self._fetching[key] = self._pool.submit(self._refresh, key)
                pending[key] = self._fetching[key]
        wait(list(pending.values()), timeout=wait_s)
        for key, future in pending.items():
            if future.done() and future.exception() is None:
                known[key] = future.result()
        return [name for key in keys for name in known.get(key, [])]

    def _refresh(self, key: Key) -> list[str]:
        try:
            names = self.fetch(*key)
        except Exception as e:
            with self._lock:
                self._fetching.pop(key, None)
            if isinstance(e, TriageError):
                log.warning("listing the projects of %s target %s failed: %s", key[0], key[1], redact(e.message))
            else:  # the pool's thread must log, not lose it
                log.error("listing the projects of %s target %s failed: %s: %s", key[0], key[1], type(e).__name__, redact(str(e)))
            raise
        with self._lock:
            self._lists[key] = (self.clock(), names)
            self._fetching.pop(key, None)
        return names


def register(app: App, deps: Deps) -> None:
    def lists() -> ProjectLists:
        return deps.keep("project_lists", lambda: ProjectLists(
            lambda service, target: project_names(deps.settings, service, target, overrides=deps.overrides)))

    @app.options("ids_project")
    def on_project_options(ack: Ack, body: dict[str, Any]) -> None:
        ack(options=project_options(deps, lists(), body))


def project_options(deps: Deps, lists: ProjectLists, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Options for what the user typed: the picked target's (or the picked service's) projects containing it."""
    user = user_of(body)
    try:
        allowed = deps.access.allowed("read", user, None)
    except TriageError as e:  # the user groups of [slack.read] cannot be read now: not known to be allowed
        log.warning("options: cannot check [slack.read] for a user: %s", redact(e.message))
        deps.later(deps.audit, user, "", "options:ids_project", "", f"error: {e.message}")
        return []
    if not allowed:
        deps.later(deps.audit, user, "", "options:ids_project", "", "denied")
        return []
    view = body.get("view") or {}
    service, target = picked(view, "service"), picked(view, "target")
    config = deps.settings.config
    keys = [(s, t.name) for s in ([service] if service in SERVICES else SERVICES) for t in config.targets(s)
            if target is None or t.name == target]
    typed = str(body.get("value") or "").strip().casefold()
    names = dict.fromkeys(n for n in lists.names(keys, OPTIONS_WAIT_S) if typed in n.casefold() and len(n) <= OPTION_VALUE_MAX)
    return [option(n) for n in list(names)[:OPTIONS_MAX]]
