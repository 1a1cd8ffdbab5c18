"""`triage watch`: poll the targets, detect new failures, alert once through an outbox.

Guarantees: an alert is recorded (alert row + outbox entry, one transaction) before it is posted
and marked posted after; a crash between the two is healed on restart by asking the sink whether
the message is already there. A lease lets one watcher poll at a time; a second one waits and
takes over when the first stops renewing. A target's first answer is its baseline: what already
fails then is recorded, not posted. Nothing in here imports Slack: the sink does.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.diagnosis import Diagnosis, Evidence, engine, localize
from bot.config import Settings, Target
from bot.errors import CloudThrottled, ConfigError, TriageError
from bot.failures import Failure
from bot.pool import pmap
from bot.redact import redact
from bot.store import Store, StoreError, Tx, dumps, utcnow

log = logging.getLogger("triage.watch")

LEASE = "watch"
MAX_WORKERS = 32
NOTE_CLAIM_S = 60.0
"""How long an acknowledgement's outbox entries belong to the Slack app before the watcher sends them."""
MAX_BACKOFF = 8
"""While a cloud keeps throttling, the loop waits up to this many intervals between polls."""
REMINDER_TEXT = ":alarm_clock: Still failing and nobody has acknowledged it yet."
RECOVERED_TEXT = ":white_check_mark: No longer failing (retried and succeeded, or removed)."


class SinkThrottled(TriageError):
    """The chat service asked us to slow down; retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Sink(Protocol):
    """Where alerts go (Slack in production, a recorder in tests)."""

    def post(self, channel: str, alert: dict[str, Any]) -> str: ...

    def update(self, channel: str, ts: str, alert: dict[str, Any]) -> None: ...

    def reply(self, channel: str, thread_ts: str, text: str, user: str | None = None) -> None: ...

    def find_posted(self, channel: str, fingerprint: str, since: str) -> str | None: ...


@dataclass
class CycleReport:
    targets: int = 0
    failures: int = 0
    new: int = 0
    recovered: int = 0
    baseline: int = 0
    unreachable: list[str] = field(default_factory=list)
    throttled: list[str] = field(default_factory=list)
    posted: int = 0
    pending: int = 0
    seconds: float = 0.0
    lease_lost: bool = False

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def failure_from_json(doc: dict[str, Any], lang: str = "en") -> Failure:
    """Rebuild a stored Failure (for tickets and logs buttons on an alert)."""
    eng = engine(None)
    matches: list[Diagnosis] = []
    for m in doc.get("matches", []):
        i = eng.by_id.get(m["id"])
        if i is not None:
            matches.append(localize(eng.playbooks[i], score=m["score"], lang=lang, evidence=[Evidence(e["line"], e["text"], e.get("role", "match")) for e in m["evidence"]],
                                        facts=m.get("facts") or {}))
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
        watch = settings.config.watch
        self.interval = watch.interval_s
        self.lease_ttl = watch.lease_s if watch.lease_s is not None else max(30.0, 3 * self.interval)
        self.post_baseline = watch.post_baseline if post_baseline is None else post_baseline
        self._poll = poll if poll is not None else self._poll_provider
        self._renewed = float("-inf")
        for _, t in self._targets():
            self.channel_for(t.name)  # every target must route somewhere before the first poll

    # -- lease ------------------------------------------------------------------------------
    def acquire(self) -> bool:
        """Take or renew the lease; False while another live watcher holds it."""
        with self.store.transaction() as db:
            return self._take(db)

    def _take(self, db: Tx) -> bool:
        now = self.clock()
        if not db.take_lease(LEASE, self.owner, now=now, ttl=self.lease_ttl):
            return False
        self._renewed = now
        return True

    def release(self) -> None:
        with self.store.transaction() as db:
            db.release_lease(LEASE, self.owner)

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
        """One poll of every target, recorded under the lease, then the outbox drained.

        Does nothing but poll when another live watcher holds the lease (it took over while we polled).
        """
        started = self.clock()
        report = CycleReport()
        targets = self._targets()
        report.targets = len(targets)

        def one(pair: tuple[str, Target]) -> tuple[str, Target, list[Failure] | None, TriageError | None]:
            svc, t = pair
            try:
                return svc, t, self._poll(svc, t), None
            except TriageError as e:
                return svc, t, None, e
            except Exception as e:  # a provider bug must not stop the other targets
                return svc, t, None, TriageError(f"{type(e).__name__}: {e}")

        results = pmap(one, targets, MAX_WORKERS)
        with self.store.transaction() as db:
            if not self._take(db):
                log.warning("another watcher took the lease during this poll; leaving the results to it")
                report.lease_lost = True
                report.seconds = self.clock() - started
                return report
            now = utcnow()
            watched = {r["target"] for r in db.query("select target from watched_targets")}
            health = {r["target"]: r for r in db.query("select target, failing_since from target_health")}
            active: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
            for r in db.query("select fingerprint, service, target, state, channel from alerts where state != 'recovered'"):
                active.setdefault((r["service"], r["target"]), {})[r["fingerprint"]] = r
            for svc, t, failures, error in results:
                key = f"{svc}:{t.name}"
                self._health(db, key, t.name, error, health.get(key), report)
                if failures is None:
                    continue
                report.failures += len(failures)
                first = key not in watched
                if first:  # this target's first answer: what fails already is the baseline
                    db.insert("watched_targets", {"target": key, "since": now}, returning_id=False)
                self._record(db, svc, t.name, failures, first and not self.post_baseline, active.get((svc, t.name), {}), now, report)
            self._remind(db, now)
        report.posted, report.pending = self.drain()
        report.seconds = self.clock() - started
        return report

    def _remind(self, db: Tx, now: str) -> None:
        """One reminder in the thread of an alert nobody acknowledged after remind_after_s (or after its snooze)."""
        after = self.settings.config.watch.remind_after_s
        if not after:
            return
        from datetime import datetime, timedelta

        cutoff = (datetime.fromisoformat(now) - timedelta(seconds=after)).isoformat()
        rows = db.query("select fingerprint, channel, first_seen, snoozed_until from alerts where state = 'open' and acked_by is null "
                        "and reminded_at is null and baseline = 0")
        for r in rows:
            due = r["first_seen"] <= cutoff if not r["snoozed_until"] else r["snoozed_until"] <= now
            if not due:
                continue
            db.update("alerts", {"fingerprint": r["fingerprint"]}, {"reminded_at": now})
            mention = self.settings.config.slack.oncall_group
            self._enqueue(db, r["fingerprint"], "reply", r["channel"], {"text": REMINDER_TEXT, **({"group": mention} if mention else {})})

    def _health(self, db: Tx, key: str, target: str, error: TriageError | None, row: dict[str, Any] | None,
                report: CycleReport) -> None:
        """A target that keeps failing to answer is reported once, and once more when it is back."""
        if error is not None:
            report.unreachable.append(target)
            if isinstance(error, CloudThrottled):
                report.throttled.append(target)
            if row is None:
                message = redact(error.message)[:500]
                db.insert("target_health", {"target": key, "failing_since": utcnow(), "reported": 1, "error": message}, returning_id=False)
                self._enqueue(db, f"health:{key}", "notice", self.channel_for(target),
                              {"text": f":warning: triage cannot read target `{target}`: {message}. "
                                       "Reported once; polling goes on and will say when it answers again."})
        elif row is not None:
            db.execute("delete from target_health where target = ?", [key])
            self._enqueue(db, f"health:{key}", "notice", self.channel_for(target),
                          {"text": f":white_check_mark: target `{target}` answers again (unreachable since {row['failing_since']})."})

    def _record(self, db: Tx, service: str, target: str, failures: list[Failure], baseline: bool,
                active: dict[str, dict[str, Any]], now: str, report: CycleReport) -> None:
        """New failures become alerts (or the baseline); open alerts no longer seen have recovered."""
        channel = self.channel_for(target)
        by_fp: dict[str, Failure] = {}
        for f in failures:
            by_fp.setdefault(f.fingerprint, f)
        fresh = {fp: f for fp, f in by_fp.items() if fp not in active}
        still = [(now, fp) for fp in by_fp if fp in active]
        if still:
            db.executemany("update alerts set last_seen = ? where fingerprint = ?", still)
        known: set[str] = set()  # recovered alerts failing again
        fps = list(fresh)
        for i in range(0, len(fps), 500):
            chunk = fps[i:i + 500]
            marks = ", ".join("?" * len(chunk))
            known.update(r["fingerprint"] for r in db.query(f"select fingerprint from alerts where fingerprint in ({marks})", chunk))
        for fp, f in fresh.items():
            top = f.matches[0] if f.matches else None
            doc = {"service": service, "target": target, "kind": f.kind, "key": f.key, "status": f.status,
                   "title": redact(top.title if top else f"{f.kind} {f.status}"), "playbook": top.id if top else None,
                   "channel": channel, "last_seen": now, "failure": dumps(_redacted_failure(f))}
            if fp in known:  # failed again after a recovery: a new alert (a new root message)
                doc |= {"state": "open", "baseline": 0, "first_seen": now, "acked_by": None, "acked_at": None, "ticket_id": None}
                db.execute(f"update alerts set {', '.join(f'{k} = ?' for k in doc)} where fingerprint = ?", [*doc.values(), fp])
            else:
                db.insert("alerts", doc | {"fingerprint": fp, "message_ts": None, "state": "baseline" if baseline else "open",
                                             "baseline": int(baseline), "first_seen": now, "acked_by": None, "acked_at": None,
                                             "ticket_id": None}, returning_id=False)
                if baseline:
                    report.baseline += 1
                    continue
            self._enqueue(db, fp, "post", channel, {})
            report.new += 1
        # alerts of this target that no longer fail: retried and succeeded, or removed
        for fp, row in active.items():
            if fp in by_fp:
                continue
            db.execute("update alerts set state = 'recovered', last_seen = ? where fingerprint = ?", [now, fp])
            if row["state"] == "baseline":
                continue  # never posted: nothing to update; failing again later is a new alert
            self._enqueue(db, fp, "reply", row["channel"], {"text": RECOVERED_TEXT})
            self._enqueue(db, fp, "update", row["channel"], {})
            report.recovered += 1

    def _enqueue(self, db: Tx, fingerprint: str, op: str, channel: str, payload: dict[str, Any],
                 claimed_until: float | None = None) -> int:
        return int(db.insert("outbox", {"fingerprint": fingerprint, "op": op, "channel": channel, "payload": dumps(payload),
                                        "created": utcnow(), "posted_at": None, "attempts": 0, "last_error": None,
                                        "claimed_until": claimed_until}) or 0)

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
            ids = [self._enqueue(db, fingerprint, "reply", row["channel"], payload, until),
                   self._enqueue(db, fingerprint, "update", row["channel"], {}, until)]
        self.drain(only=ids)

    # -- outbox --------------------------------------------------------------------------------
    def drain(self, batch: int = 500, *, only: list[int] | None = None) -> tuple[int, int]:
        """Send pending outbox entries in order; stop (nothing dropped) when the sink throttles.

        Returns (sent, left unsent because of throttling or a lost lease). The watcher drains under
        its lease (renewed as it goes; if it is lost, it stops). `only` sends just those entries
        (note() in the Slack app); on failure they go back to the watcher.
        """
        posted, after = 0, 0
        blocked: set[str] = set()  # alerts whose root post failed: their replies must not land in an older thread
        while True:
            if only is None:
                pending = self.store.query(
                    "select * from outbox where posted_at is null and (claimed_until is null or claimed_until < ?) and id > ? "
                    "order by id limit ?", [self.clock(), after, batch])
            else:
                pending = self.store.query(
                    f"select * from outbox where posted_at is null and id in ({', '.join('?' * len(only))}) order by id", only)
            for entry in pending:
                if only is None and self.clock() - self._renewed > self.lease_ttl / 3 and not self.acquire():
                    log.warning("lost the lease while draining; the other watcher sends the rest")
                    return posted, self._unsent()
                if entry["fingerprint"] in blocked:
                    continue
                try:
                    self._send(entry)
                except SinkThrottled as e:
                    self._failed(entry, f"throttled, retry after {e.retry_after:.0f} s", release=only is not None)
                    if only is None:
                        self.sleep(min(e.retry_after, 60.0))
                    return posted, self._unsent()
                except TriageError as e:
                    self._failed(entry, e.message, release=only is not None)
                    if entry["op"] == "post":
                        blocked.add(entry["fingerprint"])
                    continue
                posted += 1
            if only is not None or len(pending) < batch:
                return posted, 0
            after = pending[-1]["id"]

    def _unsent(self) -> int:
        return int(self.store.scalar("select count(*) as n from outbox where posted_at is null"))

    def _failed(self, entry: dict[str, Any], error: str, release: bool = False) -> None:
        self.store.execute("update outbox set last_error = ?, claimed_until = case when ? then null else claimed_until end where id = ?",
                              [redact(error)[:500], release, entry["id"]])

    def _send(self, entry: dict[str, Any]) -> None:
        payload = json.loads(entry["payload"])
        op, channel = entry["op"], entry["channel"]
        # Counted before sending: an entry with attempts > 0 may have reached Slack before a crash.
        self.store.execute("update outbox set attempts = attempts + 1 where id = ?", [entry["id"]])
        if op == "notice":
            self.sink.reply(channel, "", payload["text"])
            self._mark(entry["id"])
            return
        alert = self.alert(entry["fingerprint"])
        if alert is None:
            self._mark(entry["id"])
            return
        if op == "post":
            ts = None
            if entry["attempts"]:  # a crash or a timeout between post and mark: the message may be there already
                ts = self.sink.find_posted(channel, alert["fingerprint"], entry["created"])
                if ts is not None and ts == alert.get("message_ts"):
                    ts = None  # the root message from before a recovery, not this alert's
            ts = ts or self.sink.post(channel, alert)
            with self.store.transaction() as db:
                db.execute("update alerts set message_ts = ?, channel = ? where fingerprint = ?", [ts, channel, alert["fingerprint"]])
                db.execute("update outbox set posted_at = ? where id = ?", [utcnow(), entry["id"]])
            return
        ts = alert.get("message_ts")
        if not ts:
            if alert.get("baseline"):
                self._mark(entry["id"])  # no root message to update for a baseline failure
                return
            raise TriageError("root message not posted yet")
        if op == "reply":
            group = {"group": payload["group"]} if payload.get("group") else {}  # the on-call group, mentioned again in a reminder
            self.sink.reply(channel, ts, payload["text"], payload.get("user"), **group)
        elif op == "update":
            self.sink.update(channel, ts, alert)
        self._mark(entry["id"])

    def _mark(self, entry_id: int) -> None:
        self.store.execute("update outbox set posted_at = ? where id = ?", [utcnow(), entry_id])

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
        while not stop():
            try:
                if self._turn(once, stop, state):
                    return
            except StoreError as e:
                if once:
                    raise
                log.warning("store unavailable, retrying: %s", e.message)
                state["holding"] = None
                self.sleep(min(10.0, self.lease_ttl / 3))

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
        self._idle(self.interval * state["backoff"] if not report.pending else max(1.0, self.interval / 4), stop)
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


def _redacted_failure(f: Failure) -> dict[str, Any]:
    doc = f.to_json()
    doc["message"] = redact(doc["message"])
    doc["log_excerpt"] = redact(doc["log_excerpt"])[-4000:]
    doc["fields"] = {k: redact(str(v)) for k, v in doc["fields"].items()}
    return doc
