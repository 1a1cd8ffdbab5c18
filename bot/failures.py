"""A failure the bot found or was told about: what lookups produce and tickets and alerts consume."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.commands.diagnose import Diagnosis


@dataclass
class Failure:
    """One failed thing: a Custom Vision iteration, an Azure ML job or deployment, a Rekognition model version.

    `key` is the failed object's stable identity (iteration ID, `endpoint/deployment`, job name,
    version ARN); `fields` holds ticket fields by the names in bot/playbooks/fields.py.
    """

    service: str
    target: str
    kind: str
    key: str
    status: str
    message: str = ""
    occurred_at: datetime | None = None
    fields: dict[str, str] = field(default_factory=dict)
    matches: list[Diagnosis] = field(default_factory=list)
    log_excerpt: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Same failure, same fingerprint: service, object and failed status (not the time seen)."""
        raw = "\x1f".join((self.service, self.target, self.kind, self.key, self.status))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:24]

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "target": self.target,
            "kind": self.kind,
            "key": self.key,
            "status": self.status,
            "message": self.message,
            "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
            "fingerprint": self.fingerprint,
            "fields": dict(self.fields),
            "matches": [m.to_json() for m in self.matches],
            "log_excerpt": self.log_excerpt,
            "details": self.details,
        }
