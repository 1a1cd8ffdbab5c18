"""The watcher: the lease, the poller and the outbox tied into one loop."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from bot.config import Settings, Target
from bot.diagnosis import Diagnosis, Evidence, engine, localize
from bot.errors import TriageError
from bot.failures import Failure
from bot.store import Store, StoreError, StoreFault
from bot.watch.lease import Lease
from bot.watch.outbox import Outbox, Sink, enqueue
from bot.watch.polling import CycleReport, Poller

log = logging.getLogger("triage.watch")

NOTE_CLAIM_S = 60.0
"""How long an acknowledgement's outbox entries belong to the Slack app before the watcher sends them."""
STORE_RETRY_S, STORE_RETRY_MAX_S = 1.0, 30.0
"""While the store fails, the loop retries after 1 s, 2 s, 4 s … up to 30 s."""
MAX_BACKOFF = 8
"""While a cloud keeps throttling, the loop waits up to this many intervals between polls."""


def failure_from_json(doc: dict[str, Any], lang: str = "en") -> Failure:
    """Rebuild a stored Failure (for tickets and logs buttons on an alert)."""
    eng = engine(None)
    matches: list[Diagnosis] = []
    for m in doc.get("matches", []):
        i = eng.by_id.get(m["id"])
        if i is not None:
            evidence = [Evidence(e["line"], e["text"], e.get("role", "match")) for e in m["evidence"]]
            matches.append(localize(eng.playbooks[i], score=m["score"], lang=lang, evidence=evidence, facts=m.get("facts") or {}))
    return Failure(service=doc["service"], target=doc["target"], kind=doc["kind"], key=doc["key"], status=doc["status"],
                   message=doc.get("message", ""), fields=doc.get("fields", {}), matches=matches, log_excerpt=doc.get("log_excerpt", ""),
                   details=doc.get("details", {}))


def open_waiting(open_store: Callable[[], Store], *, once: bool = False, sleep: Callable[[float], None] = time.sleep) -> Store:
    """Open the store, waiting out a fault (locked, read-only, full) with a growing pause; other store
    errors (a wrong path, a schema newer than this triage) end the process with their named error."""
    wait = STORE_RETRY_S
    while True:
        try:
            return open_store()
        except StoreFault as e:
            if once:
                raise
            log.warning("store fault, retrying in %g s: %s%s", wait, e.message, f" ({e.hint})" if e.hint else "")
            sleep(wait)
            wait = min(wait * 2, STORE_RETRY_MAX_S)


class Watcher:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        sink: Sink,
        *,
        poll: Callable[[str, Target], list[Failure]] | None = None,
        owner: str | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        post_baseline: bool | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.sink = sink
        self.clock = clock
        self.sleep = sleep
        watch = settings.config.watch
        self.interval = watch.interval_s
        self.lease = Lease(store, owner or f"watch-{uuid.uuid4().hex[:8]}", watch.lease_ttl(), clock)
        self.poller = Poller(settings, poll, watch.post_baseline if post_baseline is None else post_baseline)
        self.outbox = Outbox(store, sink, self.lease, alert=self.alert, clock=clock, sleep=sleep, call_s=watch.slack_call_s())

    @property
    def owner(self) -> str:
        return self.lease.owner

    @property
    def lease_ttl(self) -> float:
        return self.lease.ttl

    def acquire(self) -> bool:
        """Take or renew the lease; False while another live watcher holds it."""
        return self.lease.acquire()

    def release(self) -> None:
        self.lease.release()

    def channel_for(self, target: str) -> str:
        return self.poller.channel_for(target)

    def cycle(self) -> CycleReport:
        """One poll of every target, recorded under the lease, then the outbox drained.

        Does nothing but poll when another live watcher holds the lease (it took over while we polled).
        """
        started = self.clock()
        report = CycleReport(targets=len(self.poller.targets()))
        results = self.poller.poll_all()
        with self.store.transaction() as db:
            if not self.lease.take(db):
                log.warning("another watcher took the lease during this poll; leaving the results to it")
                report.lease_lost = True
                report.seconds = self.clock() - started
                return report
            self.poller.record_all(db, results, report)
        report.posted, _ = self.drain()
        report.deferred = self.outbox.deferred
        report.pending, report.refused = self.outbox.unsent(), self.outbox.refused()
        report.seconds = self.clock() - started
        return report

    def drain(self, batch: int = 500, *, only: list[int] | None = None) -> tuple[int, int]:
        return self.outbox.drain(batch, only=only)

    # -- events from the Slack buttons -----------------------------------------------------
    def note(self, fingerprint: str, text: str, *, user: str | None = None, **changes: Any) -> None:
        """Record an acknowledgement or a drafted ticket, then put it in the thread and update the root.

        `{user}` in `text` stands for `user`, whom the sink may mention (the rest is shown as text).

        Runs in the Slack app, beside the watcher: it sends only its own two entries, claimed for
        NOTE_CLAIM_S so the watcher's drain leaves them alone (and sends them if this process dies).
        """
        with self.store.transaction() as db:
            row = db.one("select channel from alerts where fingerprint = ?", [fingerprint], for_update=True)
            if row is None:
                raise TriageError("this alert is no longer known to triage")
            db.update("alerts", {"fingerprint": fingerprint}, changes)
            until = self.clock() + NOTE_CLAIM_S
            payload = {"text": text, "user": user} if user else {"text": text}
            ids = [enqueue(db, fingerprint, "reply", row["channel"], payload, until),
                   enqueue(db, fingerprint, "update", row["channel"], {}, until)]
        self.drain(only=ids)

    def alert(self, fingerprint: str) -> dict[str, Any] | None:
        row = self.store.tx().one("select * from alerts where fingerprint = ?", [fingerprint])
        if row is None:
            return None
        row = dict(row)
        row["failure"] = json.loads(row["failure"] or "{}")
        row["mention"] = self.settings.config.slack.oncall_group
        return row

    # -- the loop ------------------------------------------------------------------------------
    def run(self, *, once: bool = False, stop: Callable[[], bool] = lambda: False) -> None:
        """Poll forever (or once): wait for the lease, poll, drain, sleep the interval (renewing the lease).

        A store that stops answering (a database restart or failover) is waited out: what was
        recorded stays in the outbox, and the lease decides again who polls when it is back.
        """
        state = {"backoff": 1, "holding": None}
        wait = STORE_RETRY_S
        while not stop():
            try:
                if self._turn(once, stop, state):
                    return
                wait = STORE_RETRY_S
            except StoreError as e:
                # locked past the busy timeout, read-only, disk full, a failover: what was recorded stays
                # recorded (each transaction is whole or absent); wait, longer each time, and try again
                if once:
                    raise
                log.warning("store fault, retrying in %g s: %s%s", wait, e.message, f" ({e.hint})" if e.hint else "")
                state["holding"] = None
                self.sleep(wait)
                wait = min(wait * 2, STORE_RETRY_MAX_S)

    def _turn(self, once: bool, stop: Callable[[], bool], state: dict[str, Any]) -> bool:
        """One turn of the loop; True when the watcher is done (`once`)."""
        if not self.acquire():
            if once:
                log.info("another watcher holds the lease; nothing to do")
                return True
            if state["holding"] is not False:
                log.info("watcher %s waits: another watcher holds the lease", self.owner)
            state["holding"] = False
            self.sleep(min(10.0, self.lease_ttl / 3))
            return False
        if not state["holding"]:
            log.info("watcher %s holds the lease", self.owner)
            state["holding"] = True
        report = self.cycle()
        log.info("cycle: %s", json.dumps(report.to_json()))
        if once:
            return True
        # A cloud that keeps throttling slows the whole loop down, up to MAX_BACKOFF intervals.
        state["backoff"] = min(state["backoff"] * 2, MAX_BACKOFF) if report.throttled else 1
        self._idle(self.interval * state["backoff"] if not report.deferred else max(1.0, self.interval / 4), stop)
        return False

    def _idle(self, seconds: float, stop: Callable[[], bool]) -> None:
        """Wait between cycles, renewing the lease so a standby watcher does not take over."""
        end = self.clock() + seconds
        while not stop():
            left = end - self.clock()
            if left <= 0:
                return
            self.sleep(min(left, self.lease_ttl / 3))
            if not self.acquire():
                return
