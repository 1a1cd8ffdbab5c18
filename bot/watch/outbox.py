"""The outbox: every message to Slack is recorded first, sent in order, marked sent after.

A crash between send and mark is healed by asking the sink whether the message is already there.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

from bot.errors import TriageError
from bot.redact import redact
from bot.store import Store, Tx, dumps, utcnow
from bot.watch.lease import Lease

log = logging.getLogger("triage.watch")


class SinkThrottled(TriageError):
    """The chat service asked us to slow down; retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Sink(Protocol):
    """Where alerts go (Slack in production, a recorder in tests)."""

    def post(self, channel: str, alert: dict[str, Any]) -> str: ...

    def update(self, channel: str, ts: str, alert: dict[str, Any]) -> None: ...

    def reply(self, channel: str, thread_ts: str, text: str, user: str | None = None, key: str | None = None,
              group: str | None = None) -> None: ...

    def find_posted(self, channel: str, fingerprint: str, since: str) -> str | None: ...

    def find_reply(self, channel: str, thread_ts: str, key: str, since: str) -> bool: ...


def enqueue(db: Tx, fingerprint: str, op: str, channel: str, payload: dict[str, Any], claimed_until: float | None = None) -> int:
    """Record one message to send (inside the transaction that decided it)."""
    return int(db.insert("outbox", {"fingerprint": fingerprint, "op": op, "channel": channel, "payload": dumps(payload),
                                    "created": utcnow(), "posted_at": None, "attempts": 0, "last_error": None,
                                    "claimed_until": claimed_until}) or 0)


class Outbox:
    def __init__(self, store: Store, sink: Sink, lease: Lease, *, alert: Callable[[str], dict[str, Any] | None],
                 clock: Callable[[], float], sleep: Callable[[float], None], call_s: float = 0.0) -> None:
        self.store = store
        self.sink = sink
        self.lease = lease
        self.alert = alert
        self.clock = clock
        self.sleep = sleep
        self.deferred = False
        self.call_s = call_s
        """The longest a sink call can take: the watcher sends only while its lease outlasts one."""

    def drain(self, batch: int = 500, *, only: list[int] | None = None) -> tuple[int, int]:
        """Send pending outbox entries in order; stop (nothing dropped) when the sink throttles.

        Returns (sent, left unsent because of throttling or a lost lease); `deferred` says whether
        the last drain stopped early. The watcher drains under
        its lease (renewed as it goes; if it is lost, it stops). `only` sends just those entries
        (note() in the Slack app); on failure they go back to the watcher.
        """
        posted, after = 0, 0
        self.deferred = False
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
                # Post only while the lease outlasts the slowest possible call, or a standby could take
                # over and send this very entry while our call is still on its way.
                if only is None and not self.lease.keep(self.call_s):
                    log.warning("lost the lease while draining; the other watcher sends the rest")
                    self.deferred = True
                    return posted, self.unsent()
                if entry["fingerprint"] in blocked:
                    continue
                try:
                    self._send(entry)
                except SinkThrottled as e:
                    self._failed(entry, f"throttled, retry after {e.retry_after:.0f} s", release=only is not None)
                    if only is None:
                        self.sleep(min(e.retry_after, 60.0))
                    self.deferred = True
                    return posted, self.unsent()
                except TriageError as e:
                    self._failed(entry, e.message, release=only is not None)
                    if entry["op"] == "post":
                        blocked.add(entry["fingerprint"])
                    continue
                posted += 1
            if only is not None or len(pending) < batch:
                return posted, 0
            after = pending[-1]["id"]

    def unsent(self) -> int:
        return int(self.store.scalar("select count(*) as n from outbox where posted_at is null"))

    def refused(self) -> int:
        """Unsent entries whose last attempt failed (refused by Slack, no answer, throttled)."""
        return int(self.store.scalar("select count(*) as n from outbox where posted_at is null and last_error is not null"))

    def _failed(self, entry: dict[str, Any], error: str, release: bool = False) -> None:
        if error != entry.get("last_error"):  # logged once per entry and error, not once per retry
            log.warning("could not send %s for %s to channel %s (attempt %d, kept in the outbox): %s", entry["op"], entry["fingerprint"],
                        entry["channel"], int(entry.get("attempts") or 0) + 1, redact(error))
        self.store.execute("update outbox set last_error = ?, claimed_until = case when ? then null else claimed_until end where id = ?",
                           [redact(error)[:500], release, entry["id"]])

    def _send(self, entry: dict[str, Any]) -> None:
        payload = json.loads(entry["payload"])
        op, channel = entry["op"], entry["channel"]
        key = f"outbox:{entry['id']}"  # carried by the message, so a retry after a crash finds it
        if op == "notice":
            self._attempt(entry)
            if not (entry["attempts"] and self.sink.find_reply(channel, "", key, entry["created"])):
                self.sink.reply(channel, "", payload["text"], key=key)
            self._mark(entry["id"])
            return
        alert = self.alert(entry["fingerprint"])
        if alert is None:
            self._mark(entry["id"])
            return
        if op == "post":
            self._attempt(entry)
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
        self._attempt(entry)
        if op == "reply":
            # a crash or a timeout between reply and mark: the reply may be in the thread already
            if not (entry["attempts"] and self.sink.find_reply(channel, ts, key, entry["created"])):
                group = {"group": payload["group"]} if payload.get("group") else {}  # the on-call group, mentioned again in a reminder
                self.sink.reply(channel, ts, payload["text"], payload.get("user"), key=key, **group)
        elif op == "update":
            self.sink.update(channel, ts, alert)  # idempotent: sending the same state again changes nothing
        self._mark(entry["id"])

    def _attempt(self, entry: dict[str, Any]) -> None:
        """Counted before sending: an entry with attempts > 0 may have reached Slack before a crash."""
        self.store.execute("update outbox set attempts = attempts + 1 where id = ?", [entry["id"]])

    def _mark(self, entry_id: int) -> None:
        self.store.execute("update outbox set posted_at = ? where id = ?", [utcnow(), entry_id])
