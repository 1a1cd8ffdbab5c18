"""What every listener needs, built once by app.py: settings, store, access, locales, the worker pool, the audit."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.config import Settings
from bot.errors import TriageError
from bot.redact import redact
from bot.slack.access import Access
from bot.store import Store
from bot.tickets import TicketStore

log = logging.getLogger("triage.slack")


class Languages(Protocol):
    def peek(self, user: str) -> str: ...

    def lang(self, user: str) -> str: ...


@dataclass
class Deps:
    settings: Settings
    store: Store
    access: Access
    locales: Languages
    overrides: dict[str, dict[str, Any]] | None = None
    workers: int = 4
    tickets: TicketStore = field(init=False)
    pool: ThreadPoolExecutor = field(init=False)
    kept: dict[str, Any] = field(default_factory=dict)  # per-app state of a listener module (Share answers, project lists)
    _kept_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.tickets = TicketStore(self.store)
        self.pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="triage-work")

    def keep(self, name: str, make: Callable[[], Any]) -> Any:
        """One object per app for a listener module (made on first use)."""
        with self._kept_lock:
            if name not in self.kept:
                self.kept[name] = make()
            return self.kept[name]

    def later(self, fn: Callable[..., None], *args: Any) -> None:
        """Run slow work after the ack, on our own pool (Bolt's lazy listeners deep-copy every request)."""

        def run() -> None:
            try:
                fn(*args)
            except TriageError as e:
                log.warning("%s: %s", fn.__name__, redact(e.message))
            except Exception as e:  # a worker thread must log, not die silently
                log.error("%s failed: %s: %s", fn.__name__, type(e).__name__, redact(str(e)))

        self.pool.submit(run)

    def audit(self, user: str, channel: str, action: str, args: str, result: str) -> None:
        self.store.audit(actor=user, source="slack", channel=channel, action=action, args=redact(args), result=redact(result))

    def audit_raw(self, user: str, channel: str, action: str, raw: str, result: str) -> None:
        """Audit what was answered at the ack (help, rejected input): redacted first, then cut."""
        self.audit(user, channel, action, redact(raw)[:500], result)
