"""Polling: ask every target for its failures, then record what is new, still failing or recovered."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.config import Settings, Target
from bot.errors import CloudThrottled, ConfigError, TriageError
from bot.failures import Failure
from bot.pool import pmap
from bot.redact import redact
from bot.store import Tx, dumps, utcnow
from bot.watch.outbox import enqueue

MAX_WORKERS = 32
GONE = "no longer listed as failed (retried and succeeded, or removed)"
RECOVERED_TEXT = f":white_check_mark: No longer failing: {GONE}."
REMINDER_TEXT = ":alarm_clock: Still failing and nobody has acknowledged it yet."

Result = tuple[str, Target, "list[Failure] | None", "TriageError | None"]


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
    """Outbox entries still unsent after the drain, for any reason (throttled, refused, no answer, lease lost)."""
    refused: int = 0
    """Of those, the ones whose last attempt failed (Slack's error is logged once and kept in the outbox)."""
    deferred: bool = False
    """The drain stopped early (throttled or the lease lost): the next cycle comes sooner."""
    seconds: float = 0.0
    lease_lost: bool = False

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Poller:
    def __init__(self, settings: Settings, poll: Callable[[str, Target], list[Failure]] | None, post_baseline: bool) -> None:
        self.settings = settings
        self.post_baseline = post_baseline
        self.poll = poll if poll is not None else self._poll_provider
        self._providers: dict[tuple[str, str], Any] = {}
        for _, t in self.targets():
            self.channel_for(t.name)  # every target must route somewhere before the first poll

    def _poll_provider(self, service: str, target: Target) -> list[Failure]:
        """Each target's provider (and its cloud clients) is built once and reused across polls."""
        from bot.providers import get_provider

        provider = self._providers.get((service, target.name))
        if provider is None:
            provider = self._providers[(service, target.name)] = get_provider(service, target, self.settings)
        found = provider.failures()
        markers = getattr(provider, "watch_markers", None)
        return found + markers() if markers is not None else found

    def targets(self) -> list[tuple[str, Target]]:
        c = self.settings.config
        return [(svc, t) for svc in ("customvision", "azureml", "rekognition") for t in c.targets(svc)]

    def channel_for(self, target: str) -> str:
        c = self.settings.config
        channel = c.watch.routes.get(target) or c.slack.alert_channel
        if not channel:
            raise ConfigError(f"no alert channel for target {target!r}", hint="set [slack] alert_channel or [watch.routes]")
        return channel

    def poll_all(self) -> list[Result]:
        def one(pair: tuple[str, Target]) -> Result:
            svc, t = pair
            try:
                return svc, t, self.poll(svc, t), None
            except TriageError as e:
                return svc, t, None, e
            except Exception as e:  # a provider bug must not stop the other targets
                return svc, t, None, TriageError(f"{type(e).__name__}: {e}")

        return pmap(one, self.targets(), MAX_WORKERS)

    def record_all(self, db: Tx, results: list[Result], report: CycleReport) -> None:
        """Record one poll's answers (under the lease, in one transaction)."""
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
                db.insert("watched_targets", {"target": key, "since": now, "last_ok": now}, returning_id=False)
            else:
                db.execute("update watched_targets set last_ok = ? where target = ?", [now, key])
            self._record(db, svc, t.name, failures, first and not self.post_baseline, active.get((svc, t.name), {}), now, report)
        self._remind(db, now)

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
            enqueue(db, r["fingerprint"], "reply", r["channel"], {"text": REMINDER_TEXT, **({"group": mention} if mention else {})})

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
                enqueue(db, f"health:{key}", "notice", self.channel_for(target),
                        {"text": f":warning: triage cannot read target `{target}`: {message}. "
                                 "Reported once; polling goes on and will say when it answers again."})
        elif row is not None:
            db.execute("delete from target_health where target = ?", [key])
            enqueue(db, f"health:{key}", "notice", self.channel_for(target),
                    {"text": f":white_check_mark: target `{target}` answers again (unreachable since {row['failing_since']})."})

    def _record(self, db: Tx, service: str, target: str, failures: list[Failure], baseline: bool,
                active: dict[str, dict[str, Any]], now: str, report: CycleReport) -> None:
        """New failures become alerts (or the baseline); open alerts no longer seen have recovered."""
        channel = self.channel_for(target)
        by_fp: dict[str, Failure] = {}
        retrained: dict[str, str] = {}  # still listed as failed, but a later training or run succeeded
        retrying: set[str] = set()  # being provisioned again: still failing until it settles, not new
        for f in failures:
            if f.details.get("recovered_by"):
                retrained.setdefault(f.fingerprint, str(f.details["recovered_by"]))
            elif f.details.get("in_progress"):
                retrying.add(f.fingerprint)
            else:
                by_fp.setdefault(f.fingerprint, f)
        fresh = {fp: f for fp, f in by_fp.items() if fp not in active}
        still = [(now, fp) for fp in {*by_fp, *retrying} if fp in active]
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
            enqueue(db, fp, "post", channel, {})
            report.new += 1
        # alerts of this target that no longer fail: retrained, retried and succeeded, or removed
        for fp, row in active.items():
            if fp in by_fp or fp in retrying:
                continue
            how = redact(retrained[fp]) if fp in retrained else GONE
            (doc,) = db.query("select failure from alerts where fingerprint = ?", [fp])
            failure = json.loads(doc["failure"] or "{}") | {"recovery": how}  # the root message says what recovered it
            db.execute("update alerts set state = 'recovered', last_seen = ?, failure = ? where fingerprint = ?", [now, dumps(failure), fp])
            if row["state"] == "baseline":
                continue  # never posted: nothing to update; failing again later is a new alert
            text = f":white_check_mark: Recovered: {how}." if fp in retrained else RECOVERED_TEXT
            enqueue(db, fp, "reply", row["channel"], {"text": text})
            enqueue(db, fp, "update", row["channel"], {})
            report.recovered += 1


def _redacted_failure(f: Failure) -> dict[str, Any]:
    doc = f.to_json()
    doc["message"] = redact(doc["message"])
    doc["log_excerpt"] = redact(doc["log_excerpt"])[-4000:]
    doc["fields"] = {k: redact(str(v)) for k, v in doc["fields"].items()}
    return doc
