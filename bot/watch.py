"""`triage watch`: poll the targets, detect new failures, alert once through an outbox.

Guarantees: an alert is recorded (alert row + outbox entry, one transaction) before it is posted
and marked posted after; a crash between the two is healed on restart by asking the sink whether
the message is already there. A lease lets one watcher poll at a time; a second one waits and
takes over when the first stops renewing. Nothing in here imports Slack: the sink does.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlite_utils import Database

from bot.commands.diagnose import Diagnosis, Evidence, engine, localize
from bot.config import Settings, Target
from bot.errors import ConfigError, TriageError
from bot.failures import Failure
from bot.pool import pmap
from bot.redact import redact
from bot.store import Store, dumps, utcnow

log = logging.getLogger("triage.watch")

LEASE = "watch"
MAX_WORKERS = 32


class SinkThrottled(TriageError):
    """The chat service asked us to slow down; retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Sink(Protocol):
    """Where alerts go (Slack in production, a recorder in tests)."""

    def post(self, channel: str, alert: dict[str, Any]) -> str: ...

    def update(self, channel: str, ts: str, alert: dict[str, Any]) -> None: ...

    def reply(self, channel: str, thread_ts: str, text: str) -> None: ...

    def find_posted(self, channel: str, fingerprint: str, since: str) -> str | None: ...


def _schema(db: Database) -> None:
    db["alerts"].create(
        {"fingerprint": str, "service": str, "target": str, "kind": str, "key": str, "status": str, "title": str,
         "playbook": str, "channel": str, "message_ts": str, "state": str, "baseline": int, "first_seen": str,
         "last_seen": str, "acked_by": str, "acked_at": str, "ticket_id": int, "failure": str},
        pk="fingerprint", if_not_exists=True,
    )
    db["outbox"].create(
        {"id": int, "fingerprint": str, "op": str, "channel": str, "payload": str, "created": str, "posted_at": str,
         "attempts": int, "last_error": str},
        pk="id", if_not_exists=True,
    )
    db["outbox"].create_index(["posted_at"], if_not_exists=True)
    db["leases"].create({"name": str, "owner": str, "expires_at": float}, pk="name", if_not_exists=True)
    db["target_health"].create({"target": str, "failing_since": str, "reported": int, "error": str}, pk="target", if_not_exists=True)


@dataclass
class CycleReport:
    targets: int = 0
    failures: int = 0
    new: int = 0
    recovered: int = 0
    baseline: int = 0
    unreachable: list[str] = field(default_factory=list)
    posted: int = 0
    pending: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def failure_from_json(doc: dict[str, Any], lang: str = "en") -> Failure:
    """Rebuild a stored Failure (for tickets and logs buttons on an alert)."""
    eng = engine(None)
    matches: list[Diagnosis] = []
    for m in doc.get("matches", []):
        i = eng.by_id.get(m["id"])
        if i is not None:
            matches.append(localize(eng.playbooks[i], score=m["score"], lang=lang, evidence=[Evidence(e["line"], e["text"]) for e in m["evidence"]]))
    return Failure(service=doc["service"], target=doc["target"], kind=doc["kind"], key=doc["key"], status=doc["status"],
                   message=doc.get("message", ""), fields=doc.get("fields", {}), matches=matches, log_excerpt=doc.get("log_excerpt", ""),
                   details=doc.get("details", {}))


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
        self.owner = owner or f"watch-{uuid.uuid4().hex[:8]}"
        self.clock = clock
        self.sleep = sleep
        self.interval = settings.config.watch.interval_s
        self.lease_ttl = max(30.0, 3 * self.interval)
        self.post_baseline = settings.config.watch.post_baseline if post_baseline is None else post_baseline
        self._poll = poll or self._poll_provider
        store.ensure(_schema)
        for _, t in self._targets():
            self.channel_for(t.name)  # every target must route somewhere before the first poll

    # -- lease ------------------------------------------------------------------------------
    def acquire(self) -> bool:
        """Take or renew the lease; False while another live watcher holds it."""
        now = self.clock()
        with self.store.transaction() as db:
            rows = list(db.query("select owner, expires_at from leases where name = ?", [LEASE]))
            if rows and rows[0]["owner"] != self.owner and rows[0]["expires_at"] > now:
                return False
            db["leases"].upsert({"name": LEASE, "owner": self.owner, "expires_at": now + self.lease_ttl}, pk="name")
            return True

    def release(self) -> None:
        with self.store.transaction() as db:
            db.execute("delete from leases where name = ? and owner = ?", [LEASE, self.owner])

    # -- polling ------------------------------------------------------------------------------
    def _poll_provider(self, service: str, target: Target) -> list[Failure]:
        from bot.providers import get_provider

        return get_provider(service, target, self.settings).failures()

    def _targets(self) -> list[tuple[str, Target]]:
        c = self.settings.config
        return [(svc, t) for svc in ("customvision", "azureml", "rekognition") for t in c.targets(svc)]

    def channel_for(self, target: str) -> str:
        c = self.settings.config
        channel = c.watch.routes.get(target) or c.slack.alert_channel
        if not channel:
            raise ConfigError(f"no alert channel for target {target!r}", hint="set [slack] alert_channel or [watch.routes]")
        return channel

    def cycle(self) -> CycleReport:
        """One poll of every target, then the outbox drained. The caller holds the lease."""
        started = self.clock()
        report = CycleReport()
        targets = self._targets()
        report.targets = len(targets)

        def one(pair: tuple[str, Target]) -> tuple[str, Target, list[Failure] | None, str | None]:
            svc, t = pair
            try:
                return svc, t, self._poll(svc, t), None
            except TriageError as e:
                return svc, t, None, e.message
            except Exception as e:  # a provider bug must not stop the other targets
                return svc, t, None, f"{type(e).__name__}: {e}"

        results = pmap(one, targets, MAX_WORKERS)
        first_run = self.store.db["alerts"].count == 0 and self.store.db["outbox"].count == 0
        with self.store.transaction() as db:
            for svc, t, failures, error in results:
                self._health(db, t.name, error, report)
                if failures is None:
                    continue
                report.failures += len(failures)
                self._record(db, t.name, failures, first_run, report)
        report.posted, report.pending = self.drain()
        report.seconds = self.clock() - started
        return report

    def _health(self, db: Database, target: str, error: str | None, report: CycleReport) -> None:
        """A target that keeps failing to answer is reported once, and once more when it is back."""
        rows = list(db.query("select * from target_health where target = ?", [target]))
        row = rows[0] if rows else None
        if error is not None:
            report.unreachable.append(target)
            if row is None:
                db["target_health"].insert({"target": target, "failing_since": utcnow(), "reported": 1, "error": redact(error)[:500]})
                self._enqueue(db, f"health:{target}", "notice", self.channel_for(target),
                              {"text": f":warning: triage cannot read target `{target}`: {redact(error)[:500]}. "
                                       "Reported once; polling goes on and will say when it answers again."})
        elif row is not None:
            db.execute("delete from target_health where target = ?", [target])
            self._enqueue(db, f"health:{target}", "notice", self.channel_for(target),
                          {"text": f":white_check_mark: target `{target}` answers again (unreachable since {row['failing_since']})."})

    def _record(self, db: Database, target: str, failures: list[Failure], first_run: bool, report: CycleReport) -> None:
        now = utcnow()
        seen = set()
        for f in failures:
            fp = f.fingerprint
            seen.add(fp)
            existing = list(db.query("select fingerprint, state from alerts where fingerprint = ?", [fp]))
            if existing:
                db["alerts"].update(fp, {"last_seen": now})
                if existing[0]["state"] == "recovered":  # failed again after a recovery: a new alert
                    db["alerts"].update(fp, {"state": "open", "first_seen": now})
                    self._enqueue(db, fp, "post", self.channel_for(target), {})
                    report.new += 1
                continue
            baseline = first_run and not self.post_baseline
            top = f.matches[0] if f.matches else None
            db["alerts"].insert({
                "fingerprint": fp, "service": f.service, "target": target, "kind": f.kind, "key": f.key, "status": f.status,
                "title": redact(top.title if top else f"{f.kind} {f.status}"), "playbook": top.id if top else None,
                "channel": self.channel_for(target), "message_ts": None, "state": "baseline" if baseline else "open",
                "baseline": int(baseline), "first_seen": now, "last_seen": now, "acked_by": None, "acked_at": None,
                "ticket_id": None, "failure": dumps(_redacted_failure(f)),
            })
            if baseline:
                report.baseline += 1
            else:
                self._enqueue(db, fp, "post", self.channel_for(target), {})
                report.new += 1
        # open alerts of this target that no longer fail: retried and succeeded, or removed
        for row in db.query("select fingerprint, channel from alerts where target = ? and state in ('open', 'acked')", [target]):
            if row["fingerprint"] not in seen:
                db["alerts"].update(row["fingerprint"], {"state": "recovered", "last_seen": now})
                self._enqueue(db, row["fingerprint"], "reply", row["channel"],
                              {"text": ":white_check_mark: No longer failing (retried and succeeded, or removed)."})
                self._enqueue(db, row["fingerprint"], "update", row["channel"], {})
                report.recovered += 1

    def _enqueue(self, db: Database, fingerprint: str, op: str, channel: str, payload: dict[str, Any]) -> None:
        db["outbox"].insert({"fingerprint": fingerprint, "op": op, "channel": channel, "payload": dumps(payload),
                             "created": utcnow(), "posted_at": None, "attempts": 0, "last_error": None})

    # -- events from the Slack buttons -----------------------------------------------------
    def note(self, fingerprint: str, text: str, **changes: Any) -> None:
        """Record an acknowledgement or a drafted ticket, then put it in the thread and update the root."""
        with self.store.transaction() as db:
            rows = list(db.query("select channel from alerts where fingerprint = ?", [fingerprint]))
            if not rows:
                raise TriageError("this alert is no longer known to triage")
            if changes:
                db["alerts"].update(fingerprint, changes)
            self._enqueue(db, fingerprint, "reply", rows[0]["channel"], {"text": text})
            self._enqueue(db, fingerprint, "update", rows[0]["channel"], {})
        self.drain()

    # -- outbox --------------------------------------------------------------------------------
    def drain(self, limit: int = 500) -> tuple[int, int]:
        """Send pending outbox entries in order; stop (nothing dropped) when the sink throttles."""
        posted = 0
        pending = list(self.store.db.query("select * from outbox where posted_at is null order by id limit ?", [limit]))
        for i, entry in enumerate(pending):
            try:
                self._send(entry)
            except SinkThrottled as e:
                self._failed(entry, f"throttled, retry after {e.retry_after:.0f} s")
                self.sleep(min(e.retry_after, 60.0))
                return posted, len(pending) - i
            except TriageError as e:
                self._failed(entry, e.message)
                continue
            posted += 1
        return posted, 0

    def _failed(self, entry: dict[str, Any], error: str) -> None:
        self.store.db.execute("update outbox set attempts = attempts + 1, last_error = ? where id = ?", [redact(error)[:500], entry["id"]])

    def _send(self, entry: dict[str, Any]) -> None:
        payload = json.loads(entry["payload"])
        op, channel = entry["op"], entry["channel"]
        if op == "notice":
            self.sink.reply(channel, "", payload["text"])
            self._mark(entry["id"])
            return
        alert = self.alert(entry["fingerprint"])
        if alert is None:
            self._mark(entry["id"])
            return
        if op == "post":
            # Healing a crash between post and mark: the message may already be in the channel.
            ts = self.sink.find_posted(channel, alert["fingerprint"], entry["created"]) or self.sink.post(channel, alert)
            with self.store.transaction() as db:
                db["alerts"].update(alert["fingerprint"], {"message_ts": ts, "channel": channel})
                db.execute("update outbox set posted_at = ? where id = ?", [utcnow(), entry["id"]])
            return
        ts = alert.get("message_ts")
        if not ts:
            if alert.get("state") == "baseline":
                self._mark(entry["id"])  # no root message to update for a baseline failure
                return
            raise TriageError("root message not posted yet")
        if op == "reply":
            self.sink.reply(channel, ts, payload["text"])
        elif op == "update":
            self.sink.update(channel, ts, alert)
        self._mark(entry["id"])

    def _mark(self, entry_id: int) -> None:
        self.store.db.execute("update outbox set posted_at = ? where id = ?", [utcnow(), entry_id])

    def alert(self, fingerprint: str) -> dict[str, Any] | None:
        rows = list(self.store.db.query("select * from alerts where fingerprint = ?", [fingerprint]))
        if not rows:
            return None
        row = dict(rows[0])
        row["failure"] = json.loads(row["failure"] or "{}")
        row["mention"] = self.settings.config.slack.oncall_group
        return row

    # -- the loop ------------------------------------------------------------------------------
    def run(self, *, once: bool = False, stop: Callable[[], bool] = lambda: False) -> None:
        """Poll forever (or once): wait for the lease, poll, drain, sleep the interval."""
        while not stop():
            if not self.acquire():
                log.info("another watcher holds the lease; waiting")
                if once:
                    return
                self.sleep(min(10.0, self.lease_ttl / 3))
                continue
            report = self.cycle()
            log.info("cycle: %s", json.dumps(report.to_json()))
            if once:
                return
            self.sleep(self.interval if not report.pending else max(1.0, self.interval / 4))


def _redacted_failure(f: Failure) -> dict[str, Any]:
    doc = f.to_json()
    doc["message"] = redact(doc["message"])
    doc["log_excerpt"] = redact(doc["log_excerpt"])[-4000:]
    doc["fields"] = {k: redact(str(v)) for k, v in doc["fields"].items()}
    return doc
