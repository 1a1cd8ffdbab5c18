"""Support-ticket drafts: fields, completeness, the subscription gate, and their storage."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from bot.errors import InputError, TriageError
from bot.failures import Failure, images_per_tag_lines
from bot.playbooks.fields import TICKET_FIELDS
from bot.redact import redact
from bot.store import MAX_ID, Store, Tx, dumps, utcnow
from bot.ticket_words import (
    JA_FIELD_LABELS,
    KIND,
    REQUESTER,
    WARN,
    evidence_line,
    failed_attempts,
    known_attempts,
    relabel,
    retries_text,
    status_text,
)

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
    fix: str | None = None
    """The exact command that clears it."""

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "blocking": self.blocking, "fix": self.fix}


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
    facts: dict[str, Any] = field(default_factory=dict)
    """What triage itself read (failed iterations, images per tag, the manifest analysis): the only
    source of "already tried" entries and of the retry verdict besides the requester's own words."""
    follows: int | None = None
    """The sent ticket this one follows up (a sent ticket is never rewritten)."""
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
        w = WARN[self.lang if self.lang in WARN else "en"]
        n = self.id if self.id is not None else "N"
        out: list[Warning_] = []
        if self.service.startswith("azureml") or self.service == "customvision":
            resource_sub = self.resource_subscription
            filing = (self.filing_subscription or "").lower() or None
            if filing is None:
                out.append(Warning_(
                    "filing_subscription_unknown", w["filing_unknown"],
                    blocking="subscription_id" not in self.waivers,
                    fix=f"triage ticket edit {n} --subscription {resource_sub or '<subscription-id>'}",
                ))
            elif resource_sub and resource_sub != filing:
                out.append(Warning_(
                    "subscription_mismatch", w["mismatch"].format(resource=resource_sub, filing=filing),
                    blocking=True, fix=f"triage ticket edit {n} --subscription {resource_sub}",
                ))
        for name in self.missing:
            label = TICKET_FIELDS.get(name, name) if self.lang != "ja" else JA_FIELD_LABELS.get(name, name)
            out.append(Warning_("missing_field", w["missing"].format(name=name, label=label), blocking=True,
                                fix=f'triage ticket edit {n} --set {name}="…"'))
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
            "tried": known_attempts(self.facts, self.lang) + list(self.tried),
            "failed_attempts": failed_attempts(self.facts),
            "validation_analysis": self.facts.get("manifest"),
            "follows": self.follows,
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


def _playbook_views(matches: list[Any], lang: str) -> list[dict[str, Any]]:
    """The matched playbooks in the ticket's language (title, summary, steps from the playbook's own text)."""
    from bot.diagnosis import engine, localize

    eng = engine(None)
    out = []
    for m in matches:
        i = eng.by_id.get(m.id)
        d = localize(eng.playbooks[i], score=m.score, evidence=m.evidence, lang=lang) if i is not None else m
        out.append({"id": d.id, "title": d.title, "summary": d.summary, "collect": d.collect,
                    "steps": [s.as_text() for s in d.steps], "retryable": d.retryable})
    return out


def _relocalize_view(view: dict[str, Any], lang: str) -> dict[str, Any]:
    from bot.diagnosis import engine, localize

    eng = engine(None)
    i = eng.by_id.get(view.get("id", ""))
    if i is None:
        return view
    d = localize(eng.playbooks[i], score=0, evidence=[], lang=lang)
    return view | {"title": d.title, "summary": d.summary, "steps": [s.as_text() for s in d.steps]}


def _title(facts: dict[str, Any], playbooks: list[dict[str, Any]], lang: str) -> str:
    kind, key, status = facts.get("kind", ""), facts.get("key", ""), facts.get("status", "")
    kind_label = KIND.get(lang, {}).get(kind, kind)
    head = playbooks[0]["title"] if playbooks else f"{kind_label} {status}"
    return _clean(f"{head} — {kind_label} {key}")


def relocalize(ticket: Ticket, lang: str) -> None:
    """Switch a ticket's words to `lang`: playbook text, title, evidence labels, the retry field triage wrote."""
    ticket.lang = lang
    ticket.playbooks = [_relocalize_view(pb, lang) for pb in ticket.playbooks]
    ticket.evidence = [relabel(e, lang) for e in ticket.evidence]
    check = ticket.facts.get("images_per_tag")
    if ticket.playbooks and ticket.playbooks[0]["id"] == "customvision.insufficient_training_images" and isinstance(check, dict):
        # the evidence is triage's own count: say it in the ticket's language
        lines = images_per_tag_lines(check, ticket.facts.get("domain_type"), lang)
        ticket.evidence = [_clean(evidence_line(n, text, lang)) for n, text in enumerate(lines, 1)]
    if ticket.facts.get("key"):
        ticket.title = _title(ticket.facts, ticket.playbooks, lang)
    retried = retries_text(ticket.facts, lang)
    if retried and "retries_done" not in ticket.edited:
        ticket.fields["retries_done"] = retried
    if ticket.facts.get("error_message_status") and "error_message" not in ticket.edited:
        ticket.fields["error_message"] = status_text(ticket.facts["error_message_status"], lang)


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
    facts = _facts(failure)
    playbooks = _playbook_views(failure.matches, lang)
    evidence = [_clean(evidence_line(e.line, e.text, lang)) for m in failure.matches[:1] for e in m.evidence]
    ticket = Ticket(
        fingerprint=failure.fingerprint,
        service=service,
        title=_title(facts, playbooks, lang),
        lang=lang,
        fields=fields,
        playbooks=playbooks,
        evidence=evidence,
        filing_subscription=filing_subscription,
        source=f"{failure.service}:{failure.target}:{failure.kind}:{failure.key}",
        facts=facts,
        tried=[{"step": _clean(t), "outcome": REQUESTER[lang if lang in REQUESTER else "en"]} for t in tried or [] if t.strip()],
    )
    relocalize(ticket, lang)
    return ticket


def _facts(failure: Failure) -> dict[str, Any]:
    """What the lookup itself established, kept so the ticket can say it in any language."""
    d = failure.details or {}
    facts: dict[str, Any] = {"kind": failure.kind, "key": failure.key, "status": failure.status}
    if isinstance(d.get("failed_attempts"), list):
        facts["failed_attempts"] = d["failed_attempts"]
        facts["superseded"] = bool(d.get("superseded"))
    elif failure.fields.get("retries_done"):
        facts["retries_reported"] = _clean(failure.fields["retries_done"])
    if isinstance(d.get("images_per_tag"), dict):
        facts["images_per_tag"] = d["images_per_tag"]
        if d.get("domain_type"):
            facts["domain_type"] = d["domain_type"]
    if failure.service == "customvision" and str(failure.fields.get("error_message", "")).startswith("iteration status "):
        facts["error_message_status"] = failure.fields["error_message"].removeprefix("iteration status ")
    manifest = d.get("manifest")
    if isinstance(manifest, dict) and (manifest.get("validation") or manifest.get("line_errors") or manifest.get("problems")):
        facts["manifest"] = {
            "summary": manifest.get("summary_line") or "",
            "validation": manifest.get("validation") or {},
            "line_errors": [
                {k: row.get(k) for k in ("code", "dataset", "lines", "count", "message", "example_lines", "playbook", "location")}
                for row in manifest.get("line_errors") or []
            ],
            "problems": list(manifest.get("problems") or []),
        }
    return facts


_TEXT_FIELDS: list[tuple[str, re.Pattern[str]]] = [
    ("subscription_id", re.compile(r"(?i)(?:/subscriptions/|subscription(?:\s*id)?[\s:=\"']+)([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")),
    ("resource_group", re.compile(r"(?i)(?:/resourceGroups/|--resource-group[ =]|-g )([\w.()-]{1,90})")),
    # a workspace's resource ID or CLI flag; not an authorization action (.../workspaces/computes/read)
    ("workspace", re.compile(r"(?i)(?:(?:/providers/Microsoft\.MachineLearningServices|/resourcegroups/[\w.()-]{1,90})/workspaces/|--workspace-name[ =]|-w )([\w-]{2,33})")),
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


# -- storage ------------------------------------------------------------------------------

_BODY_KEYS = ("fields", "waivers", "edited", "tried", "playbooks", "evidence", "filing_subscription", "source", "facts", "follows")


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
    """Drafts in the store: one open ticket per failure fingerprint (a unique index), with an edit history."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def save_draft(self, draft: Ticket, *, actor: str) -> tuple[Ticket, bool]:
        """Insert, or update the open ticket of the same failure. Returns (ticket, created).

        A ticket marked sent is never rewritten: the same failure drafted again opens a follow-up
        that links to it, and its history records every field that differs, old and new.
        """
        with self.store.transaction() as db:
            now = utcnow()
            # One statement decides, whichever process or host drafts the same failure at the same time.
            if self._insert(db, draft, now):
                self._history(db, draft.id, actor, "created", {"source": draft.source})
                return draft, True
            chain = self._chain(db, draft.fingerprint)
            current = chain[0]
            if current.status == "sent":
                root = draft.fingerprint.split("+", 1)[0]
                draft.fingerprint = f"{root}+{len(chain)}"
                draft.follows = current.id
                if not self._insert(db, draft, now):  # raced by another host: it made the follow-up
                    raise TicketStateError(f"a follow-up of ticket #{current.id} was just opened elsewhere",
                                           hint="draft again to update it")
                changes = _differences(current, draft)
                self._history(db, draft.id, actor, f"follow-up of #{current.id}",
                              {"follows": current.id, "changed": changes})
                return draft, True
            changes = {}
            for name, value in draft.fields.items():
                if name in current.edited:
                    continue  # a person's edit wins over a fresh lookup
                if current.fields.get(name) != value:
                    changes[name] = {"from": current.fields.get(name), "to": value}
                    current.fields[name] = value
            current.playbooks, current.evidence, current.tried = draft.playbooks, draft.evidence, _merge_tried(current.tried, draft.tried)
            current.facts = draft.facts
            current.filing_subscription = draft.filing_subscription or current.filing_subscription
            current.lang, current.title = draft.lang, draft.title
            self._write(db, current, actor, "redrafted", changes)
            return current, False

    def _chain(self, db: Tx, fingerprint: str) -> list[Ticket]:
        """A failure's tickets, newest first and locked: the first one and its follow-ups (fingerprint+N)."""
        root = fingerprint.split("+", 1)[0]
        rows = db.query("select * from tickets where fingerprint = ? or fingerprint like ? order by id desc",
                        [root, root + "+%"], for_update=True)
        return [_row_to_ticket(r) for r in rows]

    def _insert(self, db: Tx, draft: Ticket, now: str) -> bool:
        """Insert the draft unless its fingerprint exists; True when it was inserted."""
        new_id = db.scalar(
            "insert into tickets (fingerprint, service, status, title, lang, body, created, updated, sent_at) "
            "values (?, ?, 'draft', ?, ?, ?, ?, ?, null) on conflict (fingerprint) do nothing returning id",
            [draft.fingerprint, draft.service, draft.title, draft.lang, _body(draft), now, now])
        if new_id is None:
            return False
        draft.created = draft.updated = now
        draft.status = "draft"
        draft.id = int(new_id)
        return True

    def _write(self, db: Tx, t: Ticket, actor: str, action: str, change: dict[str, Any]) -> None:
        if t.status == "ready" and t.blocking:
            t.status = "draft"  # an edit that reopens a gap sends the ticket back to draft
        t.updated = utcnow()
        db.update("tickets", {"id": t.id}, {"status": t.status, "title": t.title, "lang": t.lang, "body": _body(t), "updated": t.updated})
        self._history(db, t.id, actor, action, change)

    def _history(self, db: Tx, ticket_id: int, actor: str, action: str, change: dict[str, Any]) -> None:
        db.insert("ticket_history", {"ticket_id": ticket_id, "at": utcnow(), "actor": actor, "action": action, "change": dumps(change)})

    def get(self, ticket_id: int) -> Ticket:
        return self._get_in(self.store.tx(), ticket_id)

    def find(self, fingerprint: str) -> Ticket | None:
        """The newest ticket of a failure (a follow-up when the first was sent)."""
        root = fingerprint.split("+", 1)[0]
        row = self.store.tx().one("select * from tickets where fingerprint = ? or fingerprint like ? order by id desc limit 1",
                                  [root, root + "+%"])
        return _row_to_ticket(row) if row else None

    def list(self, status: str | None = None, limit: int = 50) -> list[Ticket]:
        if status is not None and status not in STATUSES:
            raise InputError(f"unknown status {status!r}", hint=f"use one of: {', '.join(STATUSES)}")
        sql = "select * from tickets" + (" where status = ?" if status else "") + " order by updated desc, id desc limit ?"
        return [_row_to_ticket(r) for r in self.store.query(sql, ([status] if status else []) + [limit])]

    def history(self, ticket_id: int) -> list[dict[str, Any]]:
        return self.store.query("select at, actor, action, change from ticket_history where ticket_id = ? order by id", [ticket_id])

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
            t = self._get_in(db, ticket_id, lock=True)
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
            if lang is not None and lang != t.lang:
                change["lang"] = {"from": t.lang, "to": lang}
                relocalize(t, lang)
            self._write(db, t, actor, "edited", change)
            return t

    def mark(self, ticket_id: int, status: str, *, actor: str) -> Ticket:
        """draft → ready (only when complete and the gate passes) → sent."""
        if status not in ("ready", "sent"):
            raise InputError(f"cannot mark a ticket {status!r}", hint="use ready or sent")
        with self.store.transaction() as db:
            t = self._get_in(db, ticket_id, lock=True)
            if t.status == "sent":
                if status == "sent":
                    return t
                raise TicketStateError(f"ticket #{ticket_id} was already sent; it is kept as it was sent",
                                       hint="draft the failure again to open a follow-up linked to it")
            if t.blocking:
                reasons = "; ".join(w.message for w in t.blocking)
                fixes = [w.fix for w in t.blocking if w.fix]
                raise TicketStateError(f"ticket #{ticket_id} is still a draft: {reasons}",
                                       hint="run: " + " ; ".join(f"`{f}`" for f in fixes) if fixes else None)
            t.status = status
            if status == "sent":
                db.update("tickets", {"id": t.id}, {"sent_at": utcnow()})
            self._write(db, t, actor, f"marked {status}", {"status": status})
            return t

    def _get_in(self, db: Tx, ticket_id: int, *, lock: bool = False) -> Ticket:
        """The ticket; `lock` holds its row until the transaction ends (read-modify-write from several hosts)."""
        _check_id(ticket_id)
        row = db.one("select * from tickets where id = ?", [ticket_id], for_update=lock)
        if row is None:
            raise TicketNotFound(f"no ticket #{ticket_id}", hint="`triage ticket list` shows the tickets")
        return _row_to_ticket(row)


def _differences(old: Ticket, new: Ticket) -> dict[str, dict[str, Any]]:
    """Every field (and the title) that differs between a sent ticket and its follow-up, old and new."""
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(old.fields) | set(new.fields)):
        if old.fields.get(name) != new.fields.get(name):
            out[name] = {"from": old.fields.get(name), "to": new.fields.get(name)}
    if old.title != new.title:
        out["title"] = {"from": old.title, "to": new.title}
    return out


def _merge_tried(old: list[dict[str, str]], new: list[dict[str, str]]) -> list[dict[str, str]]:
    by_step = {t["step"]: t for t in old}
    for t in new:
        if t["step"] not in by_step or t["outcome"] != "not recorded":
            by_step[t["step"]] = t
    return list(by_step.values())


def _check_id(ticket_id: int) -> None:
    if not 1 <= ticket_id <= MAX_ID:
        raise TicketNotFound(f"no ticket #{ticket_id}: ticket numbers are 1 or more", hint="`triage ticket list` shows the tickets")
