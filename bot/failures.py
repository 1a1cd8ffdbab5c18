"""A failure the bot found or was told about: what lookups produce and tickets and alerts consume."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.diagnosis import Diagnosis


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


def images_per_tag_lines(check: dict[str, Any], kind: str | None, lang: str = "en") -> list[str]:
    """The images-per-tag finding as evidence lines (triage counted them; nobody said it in words)."""
    kind = kind or ("このプロジェクトの種類" if lang == "ja" else "this project type")
    counts, minimum, rec = check.get("counts") or {}, check.get("minimum"), check.get("recommended")
    if not counts:
        if lang == "ja":
            return [f"プロジェクトにタグがありません。{kind} ではタグごとに {minimum} 枚以上のタグ付き画像が必要です"]
        return [f"the project has no tags; at least {minimum} tagged images per tag are needed for {kind}"]
    if lang == "ja":
        out = [f"タグ {name!r}: タグ付き画像 {counts[name]} 枚、{kind} の最低は {minimum} 枚 (推奨 {rec} 枚以上)"
               for name in check.get("below_minimum") or [] if name in counts]
        out += [f"タグ {name!r}: タグ付き画像 {counts[name]} 枚、推奨の {rec} 枚未満"
                for name in check.get("below_recommended") or [] if name in counts]
        return out
    out = [f"tag {name!r}: {counts[name]} tagged images, minimum {minimum} for {kind} ({rec}+ recommended)"
           for name in check.get("below_minimum") or [] if name in counts]
    out += [f"tag {name!r}: {counts[name]} tagged images, below the recommended {rec}"
            for name in check.get("below_recommended") or [] if name in counts]
    return out
