"""`triage watch status`: how the watcher is, read from the store alone (any host can ask)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from bot.config import Settings
from bot.store import Store
from bot.watch.lease import holder

DEFAULT_MAX_AGE_S = 600.0


@dataclass
class WatchStatus:
    lease: dict[str, Any] | None
    targets: list[dict[str, Any]]
    outbox: dict[str, Any]
    max_age_s: float
    healthy: bool
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")


def _age(iso: str | None, now: float) -> float | None:
    if not iso:
        return None
    try:
        return round(now - datetime.fromisoformat(iso).timestamp(), 1)
    except ValueError:
        return None


def watch_status(settings: Settings, store: Store, *, now: float, max_age_s: float = DEFAULT_MAX_AGE_S) -> WatchStatus:
    """The lease holder, each target's last successful poll, the outbox backlog and its oldest entry."""
    problems: list[str] = []
    row = holder(store)
    lease = None
    if row is not None:
        expires = float(row["expires_at"])
        lease = {"owner": row["owner"], "expires_at": _iso(expires), "expires_in_s": round(expires - now, 1), "live": expires > now}
    watched = {r["target"]: r for r in store.query("select target, since, last_ok from watched_targets")}
    health = {r["target"]: r for r in store.query("select target, failing_since, error from target_health")}
    targets = []
    for svc in ("customvision", "azureml", "rekognition"):
        for t in settings.config.targets(svc):
            key = f"{svc}:{t.name}"
            w, h = watched.get(key) or {}, health.get(key) or {}
            targets.append({"service": svc, "target": t.name, "watched_since": w.get("since"), "last_ok": w.get("last_ok"),
                            "last_ok_age_s": _age(w.get("last_ok"), now), "unreachable_since": h.get("failing_since"),
                            "error": h.get("error")})
    pending = store.query("select id, op, channel, created, attempts, last_error from outbox where posted_at is null order by id")
    oldest = pending[0]["created"] if pending else None
    errors: dict[tuple[str, str], int] = {}
    for p in pending:
        if p["last_error"]:
            errors[(p["channel"], p["last_error"])] = errors.get((p["channel"], p["last_error"]), 0) + 1
    outbox = {"pending": len(pending), "oldest": oldest, "oldest_age_s": _age(oldest, now),
              "failing": [{"channel": c, "error": e, "entries": n} for (c, e), n in sorted(errors.items())]}
    age = outbox["oldest_age_s"]
    if age is not None and age > max_age_s:
        problems.append(f"the oldest unsent outbox entry is {age:.0f} s old (threshold {max_age_s:.0f} s)")
    return WatchStatus(lease=lease, targets=targets, outbox=outbox, max_age_s=max_age_s, healthy=not problems, problems=problems)


def render(status: WatchStatus) -> str:
    lines = []
    lease = status.lease
    if lease is None:
        lines.append("lease: nobody holds it (no watcher running)")
    else:
        state = f"expires in {lease['expires_in_s']:.0f} s" if lease["live"] else f"expired {-lease['expires_in_s']:.0f} s ago"
        lines.append(f"lease: {lease['owner']} until {lease['expires_at']} ({state})")
    lines.append("targets:")
    for t in status.targets:
        last = f"last good poll {t['last_ok']} ({t['last_ok_age_s']:.0f} s ago)" if t["last_ok"] else "never polled successfully"
        down = f"; unreachable since {t['unreachable_since']}: {t['error']}" if t["unreachable_since"] else ""
        lines.append(f"  {t['service']}:{t['target']}: {last}{down}")
    o = status.outbox
    if o["pending"]:
        lines.append(f"outbox: {o['pending']} unsent, oldest from {o['oldest']} ({o['oldest_age_s']:.0f} s ago)")
        for f in o["failing"]:
            lines.append(f"  {f['entries']} to {f['channel']}: {f['error']}")
    else:
        lines.append("outbox: empty")
    lines.append("healthy" if status.healthy else "UNHEALTHY: " + "; ".join(status.problems))
    return "\n".join(lines)
