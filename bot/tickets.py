"""Support-ticket drafts: fields, completeness, the subscription gate, and their SQLite storage."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from bot.errors import InputError, TriageError
from bot.failures import Failure
from bot.playbooks.fields import TICKET_FIELDS
from bot.redact import redact
from bot.store import MAX_ID, Store, dumps, utcnow

STATUSES = ("draft", "ready", "sent")

REQUIRED: dict[str, tuple[str, ...]] = {
    # seed 000: Project Id, Iteration Id, Resource ID, from the same subscription; retry first.
    "customvision": ("project_id", "iteration_id", "resource_id", "subscription_id", "region", "failure_time", "retries_done"),
    "azureml-endpoint": (
        "subscription_id", "resource_group", "workspace", "region", "endpoint", "deployment",
        "instance_type", "instance_count", "error_code", "error_message", "log_excerpt",
    ),
    "azureml-job": ("subscription_id", "resource_group", "workspace", "job_name", "compute", "error_code", "error_message", "log_excerpt"),
    "rekognition": ("project_arn", "version_arn", "region", "status_message"),
    "azureml": ("subscription_id", "resource_group", "workspace", "error_code", "error_message"),
}
OPTIONAL: dict[str, tuple[str, ...]] = {
    "customvision": ("project_type", "images_per_tag"),
    "azureml-endpoint": ("request_id", "correlation_id", "model", "environment"),
    "azureml-job": ("request_id", "correlation_id", "experiment", "studio_url"),
    "rekognition": ("aws_account_id", "manifest_summary", "dataset_arn", "output_location"),
    "azureml": ("request_id", "correlation_id"),
}
TEMPLATE_SERVICE = {"customvision": "customvision", "rekognition": "rekognition"}  # azureml* share one template

_SUB_IN_ID = re.compile(r"/subscriptions/([0-9a-fA-F-]{36})(/|$)", re.IGNORECASE)
_FIELD_VALUE_MAX = 20_000


class TicketNotFound(TriageError):
    """No ticket has that number."""


class TicketStateError(TriageError):
    """The ticket cannot move to that status yet."""


@dataclass
class Warning_:
    code: str
    message: str
    blocking: bool

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "blocking": self.blocking}


@dataclass
class Ticket:
    fingerprint: str
    service: str
    title: str
    lang: str = "en"
    fields: dict[str, str] = field(default_factory=dict)
    waivers: dict[str, str] = field(default_factory=dict)
    edited: list[str] = field(default_factory=list)
    tried: list[dict[str, str]] = field(default_factory=list)
    playbooks: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    filing_subscription: str | None = None
    source: str = ""
    status: str = "draft"
    id: int | None = None
    created: str | None = None
    updated: str | None = None

    # -- completeness ---------------------------------------------------------------------
    @property
    def required(self) -> tuple[str, ...]:
        base = REQUIRED.get(self.service, ())
        return base

    @property
    def recommended(self) -> tuple[str, ...]:
        extra = [f for pb in self.playbooks for f in pb.get("collect", [])]
        seen = set(self.required)
        out = []
        for name in list(OPTIONAL.get(self.service, ())) + extra:
            if name not in seen:
                seen.add(name)
                out.append(name)
        return tuple(out)

    @property
    def missing(self) -> list[str]:
        return [f for f in self.required if not self.fields.get(f) and f not in self.waivers]

    @property
    def missing_recommended(self) -> list[str]:
        return [f for f in self.recommended if not self.fields.get(f) and f not in self.waivers]

    @property
    def resource_subscription(self) -> str | None:
        for name in ("resource_id", "workspace_resource_id"):
            m = _SUB_IN_ID.search(self.fields.get(name, ""))
            if m:
                return m.group(1).lower()
        sub = self.fields.get("subscription_id")
        return sub.lower() if sub else None

    @property
    def warnings(self) -> list[Warning_]:
        out: list[Warning_] = []
        if self.service.startswith("azureml") or self.service == "customvision":
            resource_sub = self.resource_subscription
            filing = (self.filing_subscription or "").lower() or None
            if filing is None:
                out.append(Warning_(
                    "filing_subscription_unknown",
                    "Say which subscription the ticket is filed from ([defaults] subscription_id in triage.toml or "
                    "--subscription): Azure support can only investigate a resource from a ticket filed in the "
                    "subscription that contains it.",
                    blocking="subscription_id" not in self.waivers,
                ))
            elif resource_sub and resource_sub != filing:
                out.append(Warning_(
                    "subscription_mismatch",
                    f"The resource is in subscription {resource_sub} but the ticket would be filed from {filing}. "
                    "Azure support cannot investigate a resource outside the subscription the ticket is filed from "
                    "(stricter security checks at ticket creation); file it from subscription "
                    f"{resource_sub}.",
                    blocking=True,
                ))
        for name in self.missing:
            out.append(Warning_("missing_field", f"{name}: {TICKET_FIELDS.get(name, name)} has no value", blocking=True))
        return out

    @property
    def blocking(self) -> list[Warning_]:
        return [w for w in self.warnings if w.blocking]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "fingerprint": self.fingerprint,
            "service": self.service,
            "status": self.status,
            "title": self.title,
            "lang": self.lang,
            "fields": dict(self.fields),
            "missing": self.missing,
            "missing_recommended": self.missing_recommended,
            "waivers": dict(self.waivers),
            "warnings": [w.to_json() for w in self.warnings],
            "tried": list(self.tried),
            "playbooks": list(self.playbooks),
            "evidence": list(self.evidence),
            "filing_subscription": self.filing_subscription,
            "source": self.source,
            "created": self.created,
            "updated": self.updated,
        }


def _clean(value: Any) -> str:
    text = redact(str(value)).strip()
    return text[:_FIELD_VALUE_MAX]


def from_failure(failure: Failure, *, lang: str = "en", filing_subscription: str | None = None, tried: list[str] | None = None) -> Ticket:
    """A draft prefilled from a failure the bot found (lookups) and its matched playbooks."""
    fields = {k: _clean(v) for k, v in failure.fields.items() if k in TICKET_FIELDS and v not in (None, "")}
    if failure.message:
        fields.setdefault("error_message", _clean(failure.message))
    if failure.occurred_at and "failure_time" not in fields:
        fields["failure_time"] = failure.occurred_at.isoformat()
    if failure.log_excerpt and "log_excerpt" not in fields:
        fields["log_excerpt"] = _clean(failure.log_excerpt)
    service = failure.service
    if service == "azureml":
        service = "azureml-job" if failure.kind == "job" else "azureml-endpoint"
    playbooks = [{"id": m.id, "title": m.title, "summary": m.summary, "collect": m.collect,
                  "steps": [s.as_text() for s in m.steps], "retryable": m.retryable} for m in failure.matches]
    title = failure.matches[0].title if failure.matches else f"{failure.kind} {failure.status}"
    evidence = [_clean(f"line {e.line}: {e.text}") for m in failure.matches[:1] for e in m.evidence]
    ticket = Ticket(
        fingerprint=failure.fingerprint,
        service=service,
        title=_clean(f"{title} — {failure.kind} {failure.key}"),
        lang=lang,
        fields=fields,
        playbooks=playbooks,
        evidence=evidence,
        filing_subscription=filing_subscription,
        source=f"{failure.service}:{failure.target}:{failure.kind}:{failure.key}",
    )
    ticket.tried = already_tried(ticket, extra=tried or [])
    return ticket


_TEXT_FIELDS: list[tuple[str, re.Pattern[str]]] = [
    ("subscription_id", re.compile(r"(?i)(?:/subscriptions/|subscription(?:\s*id)?[\s:=\"']+)([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")),
    ("resource_group", re.compile(r"(?i)(?:/resourceGroups/|--resource-group[ =]|-g )([\w.()-]{1,90})")),
    ("workspace", re.compile(r"(?i)(?:/workspaces/|--workspace-name[ =]|-w )([\w-]{2,33})")),
    ("endpoint", re.compile(r"(?i)(?:/onlineEndpoints/|--endpoint-name[ =]|endpoint[ :=]+)([a-z][a-z0-9-]{2,31})\b")),
    ("deployment", re.compile(r"(?i)(?:/deployments/|--deployment-name[ =]|online-deployment \w+ .*?--name[ =])([a-z][a-z0-9-]{2,31})\b")),
    ("instance_type", re.compile(r"\b(Standard_[A-Z][A-Za-z0-9_]+)\b")),
    ("error_code", re.compile(r"^\s*(?:Code|\"code\")\s*[:=]\s*\"?([A-Za-z][\w.]{2,60})")),
    ("error_code", re.compile(r"\((ResourceNotReady|OutOfQuota|OutOfCapacity|ImageBuildFailure|BadArgument|ResourceNotFound|AuthorizationFailed|RequestDisallowedByPolicy|InternalServerError)\)")),
    ("request_id", re.compile(r"(?i)(?:x-ms-client-request-id|x-ms-request-id|x-amzn-requestid|request[ _-]?id)[\"':= ]+([0-9a-f]{8}-[0-9a-f-]{27})")),
    ("correlation_id", re.compile(r"(?i)correlation[ _-]?id[\"':= ]+([0-9a-f]{8}-[0-9a-f-]{27})")),
    ("project_arn", re.compile(r"(arn:aws:rekognition:[a-z0-9-]+:\d{12}:project/[^/\s\"']+/\d+)(?!/version)")),
    ("version_arn", re.compile(r"(arn:aws:rekognition:[a-z0-9-]+:\d{12}:project/[^/\s\"']+/version/[^/\s\"']+/\d+)")),
    ("region", re.compile(r"arn:aws:rekognition:([a-z]{2}(?:-[a-z]+)+-\d):")),
    ("project_id", re.compile(r"(?i)projects/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")),
    ("iteration_id", re.compile(r"(?i)iterations/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")),
    ("resource_id", re.compile(r"(?i)(/subscriptions/[0-9a-f-]{36}/resourceGroups/[^/\s]+/providers/Microsoft\.CognitiveServices/accounts/[\w-]+)")),
]


def extract_fields(text: str) -> dict[str, str]:
    """IDs and names a pasted text holds anywhere (first occurrence wins), so the requester types less."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        for name, pattern in _TEXT_FIELDS:
            if name not in out:
                m = pattern.search(line)
                if m:
                    out[name] = m.group(1)
        if len(out) == _FIELD_NAMES:
            break
    return out


_FIELD_NAMES = len({name for name, _ in _TEXT_FIELDS})
EXCERPT_HEAD = 1_500  # characters: the command and the first context lines
EXCERPT_TAIL = 2_500  # characters: where the error usually is


def excerpt(text: str, head: int = EXCERPT_HEAD, tail: int = EXCERPT_TAIL) -> str:
    """The redacted head and tail of a long text, cut on line breaks, the cut marked on a line of its own.

    Redacts the whole text first, so no cut can split a secret into parts the redactor
    no longer recognises.
    """
    text = redact(text)
    if len(text) <= head + tail + 200:
        return text
    first = text[:head]
    if (nl := first.rfind("\n")) > head // 2:
        first = first[: nl + 1]
    last = text[-tail:]
    if 0 <= (nl := last.find("\n")) < tail // 2:
        last = last[nl + 1 :]
    if not first.endswith("\n"):
        first += "\n"
    middle = text[len(first) : len(text) - len(last)]
    lines = middle.count("\n")
    return f"{first}[… {lines:,} line{'s' if lines != 1 else ''} ({len(middle):,} characters) cut …]\n{last}"


def paste_record(text: str) -> tuple[str, dict[str, str]]:
    """What is kept of a pasted text for a later ticket: its redacted excerpt and the IDs found anywhere in it."""
    clean = redact(text)
    return excerpt(clean), extract_fields(clean)


def already_tried(ticket: Ticket, extra: list[str]) -> list[dict[str, str]]:
    """The playbook's first steps (retry, data check) with their outcome when the bot knows it."""
    out: list[dict[str, str]] = []
    if ticket.playbooks:
        steps = ticket.playbooks[0]["steps"][:2]
        known = {
            0: ticket.fields.get("retries_done"),
            1: ticket.fields.get("images_per_tag") if ticket.service == "customvision" else None,
        }
        for i, step in enumerate(steps):
            out.append({"step": step.split("\n", 1)[0], "outcome": known.get(i) or "not recorded"})
    out += [{"step": _clean(t), "outcome": "reported by the requester"} for t in extra if t.strip()]
    return out


# -- storage ------------------------------------------------------------------------------

def _schema(db: Database) -> None:
    db["tickets"].create(
        {"id": int, "fingerprint": str, "service": str, "status": str, "title": str, "lang": str,
         "body": str, "created": str, "updated": str, "sent_at": str},
        pk="id",
        not_null={"fingerprint", "status"},
        if_not_exists=True,
    )
    db["tickets"].create_index(["fingerprint"], unique=True, if_not_exists=True)
    db["ticket_history"].create(
        {"id": int, "ticket_id": int, "at": str, "actor": str, "action": str, "change": str},
        pk="id",
        foreign_keys=[("ticket_id", "tickets", "id")],
        if_not_exists=True,
    )


_BODY_KEYS = ("fields", "waivers", "edited", "tried", "playbooks", "evidence", "filing_subscription", "source")


def _row_to_ticket(row: dict[str, Any]) -> Ticket:
    body = json.loads(row["body"])
    return Ticket(
        fingerprint=row["fingerprint"], service=row["service"], title=row["title"], lang=row["lang"],
        status=row["status"], id=row["id"], created=row["created"], updated=row["updated"],
        **{k: body[k] for k in _BODY_KEYS if k in body},
    )


def _body(t: Ticket) -> str:
    return dumps({k: getattr(t, k) for k in _BODY_KEYS})


class TicketStore:
    """Drafts in SQLite: one ticket per failure fingerprint, with an edit history."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.ensure(_schema)

    def save_draft(self, draft: Ticket, *, actor: str) -> tuple[Ticket, bool]:
        """Insert, or update the ticket of the same failure. Returns (ticket, created)."""
        with self.store.transaction() as db:
            rows = list(db.query("select * from tickets where fingerprint = ?", [draft.fingerprint]))
            now = utcnow()
            if not rows:
                draft.created = draft.updated = now
                draft.status = "draft"
                db["tickets"].insert({
                    "fingerprint": draft.fingerprint, "service": draft.service, "status": "draft", "title": draft.title,
                    "lang": draft.lang, "body": _body(draft), "created": now, "updated": now, "sent_at": None,
                })
                draft.id = int(next(iter(db.query("select id from tickets where fingerprint = ?", [draft.fingerprint])))["id"])
                self._history(db, draft.id, actor, "created", {"source": draft.source})
                return draft, True
            current = _row_to_ticket(rows[0])
            changes = {}
            for name, value in draft.fields.items():
                if name in current.edited:
                    continue  # a person's edit wins over a fresh lookup
                if current.fields.get(name) != value:
                    changes[name] = {"from": current.fields.get(name), "to": value}
                    current.fields[name] = value
            current.playbooks, current.evidence, current.tried = draft.playbooks, draft.evidence, _merge_tried(current.tried, draft.tried)
            current.filing_subscription = draft.filing_subscription or current.filing_subscription
            current.lang, current.title = draft.lang, draft.title
            self._write(db, current, actor, "redrafted", changes)
            return current, False

    def _write(self, db: Database, t: Ticket, actor: str, action: str, change: dict[str, Any]) -> None:
        if t.status == "ready" and t.blocking:
            t.status = "draft"  # an edit that reopens a gap sends the ticket back to draft
        t.updated = utcnow()
        db["tickets"].update(t.id, {"status": t.status, "title": t.title, "lang": t.lang, "body": _body(t), "updated": t.updated})
        self._history(db, t.id, actor, action, change)

    def _history(self, db: Database, ticket_id: int, actor: str, action: str, change: dict[str, Any]) -> None:
        db["ticket_history"].insert({"ticket_id": ticket_id, "at": utcnow(), "actor": actor, "action": action, "change": dumps(change)})

    def get(self, ticket_id: int) -> Ticket:
        _check_id(ticket_id)
        rows = list(self.store.db.query("select * from tickets where id = ?", [ticket_id]))
        if not rows:
            raise TicketNotFound(f"no ticket #{ticket_id}", hint="`triage ticket list` shows the tickets")
        return _row_to_ticket(rows[0])

    def find(self, fingerprint: str) -> Ticket | None:
        rows = list(self.store.db.query("select * from tickets where fingerprint = ?", [fingerprint]))
        return _row_to_ticket(rows[0]) if rows else None

    def list(self, status: str | None = None, limit: int = 50) -> list[Ticket]:
        if status is not None and status not in STATUSES:
            raise InputError(f"unknown status {status!r}", hint=f"use one of: {', '.join(STATUSES)}")
        sql = "select * from tickets" + (" where status = ?" if status else "") + " order by updated desc, id desc limit ?"
        return [_row_to_ticket(r) for r in self.store.db.query(sql, ([status] if status else []) + [limit])]

    def history(self, ticket_id: int) -> list[dict[str, Any]]:
        return list(self.store.db.query("select at, actor, action, change from ticket_history where ticket_id = ? order by id", [ticket_id]))

    def edit(self, ticket_id: int, *, actor: str, set_fields: dict[str, str] | None = None,
             waive: dict[str, str] | None = None, unwaive: list[str] | None = None,
             filing_subscription: str | None = None, lang: str | None = None) -> Ticket:
        """Fill or change fields, waive a required field with a reason, or take a waiver back."""
        set_fields, waive, unwaive = set_fields or {}, waive or {}, unwaive or []
        for name in list(set_fields) + list(waive) + unwaive:
            if name not in TICKET_FIELDS:
                raise InputError(f"unknown field {name!r}", hint="fields: " + ", ".join(sorted(TICKET_FIELDS)))
        for name, reason in waive.items():
            if len(reason.strip()) < 5:
                raise InputError(f"waiving {name} needs a reason (a few words support can read)")
        if lang is not None and lang not in ("en", "ja"):
            raise InputError(f"unknown language {lang!r}", hint="use en or ja")
        with self.store.transaction() as db:
            t = self._get_in(db, ticket_id)
            if t.status == "sent":
                raise TicketStateError(f"ticket #{ticket_id} was already sent; draft a new one for a new failure")
            change: dict[str, Any] = {}
            for name, value in set_fields.items():
                value = _clean(value)
                change[name] = {"from": t.fields.get(name), "to": value}
                if value:
                    t.fields[name] = value
                else:
                    t.fields.pop(name, None)
                if name not in t.edited:
                    t.edited.append(name)
            for name, reason in waive.items():
                t.waivers[name] = _clean(reason)
                change[f"waive:{name}"] = t.waivers[name]
            for name in unwaive:
                if t.waivers.pop(name, None) is not None:
                    change[f"unwaive:{name}"] = True
            if filing_subscription is not None:
                change["filing_subscription"] = {"from": t.filing_subscription, "to": filing_subscription}
                t.filing_subscription = filing_subscription
            if lang is not None:
                t.lang = lang
            self._write(db, t, actor, "edited", change)
            return t

    def mark(self, ticket_id: int, status: str, *, actor: str) -> Ticket:
        """draft → ready (only when complete and the gate passes) → sent."""
        if status not in ("ready", "sent"):
            raise InputError(f"cannot mark a ticket {status!r}", hint="use ready or sent")
        with self.store.transaction() as db:
            t = self._get_in(db, ticket_id)
            if t.blocking:
                reasons = "; ".join(w.message for w in t.blocking)
                raise TicketStateError(f"ticket #{ticket_id} is still a draft: {reasons}",
                                       hint="fill fields with `triage ticket edit N --set FIELD=VALUE` or waive them with --waive FIELD --reason …")
            if status == "sent" and t.status == "sent":
                return t
            t.status = status
            if status == "sent":
                db["tickets"].update(t.id, {"sent_at": utcnow()})
            self._write(db, t, actor, f"marked {status}", {"status": status})
            return t

    def _get_in(self, db: Database, ticket_id: int) -> Ticket:
        _check_id(ticket_id)
        rows = list(db.query("select * from tickets where id = ?", [ticket_id]))
        if not rows:
            raise TicketNotFound(f"no ticket #{ticket_id}", hint="`triage ticket list` shows the tickets")
        return _row_to_ticket(rows[0])


def _merge_tried(old: list[dict[str, str]], new: list[dict[str, str]]) -> list[dict[str, str]]:
    by_step = {t["step"]: t for t in old}
    for t in new:
        if t["step"] not in by_step or t["outcome"] != "not recorded":
            by_step[t["step"]] = t
    return list(by_step.values())


def _check_id(ticket_id: int) -> None:
    if not 1 <= ticket_id <= MAX_ID:
        raise TicketNotFound(f"no ticket #{ticket_id}: ticket numbers are 1 or more", hint="`triage ticket list` shows the tickets")
