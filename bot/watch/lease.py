"""The watch lease: one watcher polls and posts at a time; a standby takes over when it goes silent."""

from __future__ import annotations

from collections.abc import Callable

from bot.store import Store, Tx

LEASE = "watch"


class Lease:
    """This watcher's hold on the lease row: taken, renewed, released; knows how long it has left."""

    def __init__(self, store: Store, owner: str, ttl: float, clock: Callable[[], float]) -> None:
        self.store = store
        self.owner = owner
        self.ttl = ttl
        self.clock = clock
        self.renewed = float("-inf")

    def take(self, db: Tx) -> bool:
        """Take or renew inside `db`'s transaction; False while another live watcher holds it."""
        now = self.clock()
        if not db.take_lease(LEASE, self.owner, now=now, ttl=self.ttl):
            return False
        self.renewed = now
        return True

    def acquire(self) -> bool:
        with self.store.transaction() as db:
            return self.take(db)

    def release(self) -> None:
        with self.store.transaction() as db:
            db.release_lease(LEASE, self.owner)
        self.renewed = float("-inf")

    def left(self) -> float:
        """Seconds until the lease, as last renewed, expires (negative once it has)."""
        return self.renewed + self.ttl - self.clock()

    def keep(self, need: float = 0.0) -> bool:
        """Make sure the lease has more than `need` seconds left: renew when a third of it has gone by
        or when less than `need` is left; False when it is lost (or renewing leaves too little)."""
        if self.clock() - self.renewed <= self.ttl / 3 and self.left() > need:
            return True
        return self.acquire() and self.left() > need


def holder(store: Store) -> dict[str, object] | None:
    """Who holds the lease now and until when (epoch seconds), or None."""
    return store.tx().one("select owner, expires_at from leases where name = ?", [LEASE])
