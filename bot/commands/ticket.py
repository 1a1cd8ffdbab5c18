"""`ticket draft|list|show|edit|export|mark-sent`: support tickets support can send as they are."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable

from bot.commands.diagnose import diagnose_stream
from bot.diagnosis import Diagnosis, Evidence, engine, localize
from bot.playbooks.fields import FACT_TICKET_FIELDS
from bot.config import Settings
from bot.errors import InputError
from bot.failures import Failure
from bot.store import Store
from bot.tickets import Ticket, TicketStore, extract_fields, from_failure, paste_record

MAX_PASTE_BYTES = 10_000_000

FailureFinder = Callable[[Settings, str, str, str | None], Failure]


def find_failure(settings: Settings, service: str, key: str, target: str | None = None) -> Failure:
    """The failure of one object (iteration ID, endpoint/deployment, job name, version ARN), from the lookups."""
    from bot.providers import get_provider  # imported here: cloud SDKs load only when a cloud is asked

    targets = settings.config.targets(service)
    if target is not None:
        targets = [t for t in targets if t.name == target]
        if not targets:
            names = ", ".join(t.name for t in settings.config.targets(service)) or "none configured"
            raise InputError(f"no {service} target named {target!r}", hint=f"targets: {names}")
    if not targets:
        raise InputError(f"no {service} target in the config", hint="add one to triage.toml (see README: Configuration)")
    seen: list[str] = []
    for t in targets:
        for failure in get_provider(service, t, settings).failures():
            keys = {failure.key, failure.fields.get("iteration_id"), failure.fields.get("job_name"), failure.fields.get("version_arn")}
            if failure.fields.get("endpoint") and failure.fields.get("deployment"):
                keys.add(f"{failure.fields['endpoint']}/{failure.fields['deployment']}")
            if key in keys:
                return failure
            seen.append(failure.key)
    hint = ("failed now: " + ", ".join(seen[:10])) if seen else "nothing has failed in the configured targets"
    raise InputError(f"no failed {service} object {key!r} found", hint=hint)


@dataclass
class DraftResult:
    ticket: Ticket
    created: bool

    def to_json(self) -> dict[str, Any]:
        return {"created": self.created, "ticket": self.ticket.to_json()}


def draft(store: Store, failure: Failure, *, actor: str, lang: str, filing_subscription: str | None,
          tried: list[str] | None = None) -> DraftResult:
    ticket, created = TicketStore(store).save_draft(
        from_failure(failure, lang=lang, filing_subscription=filing_subscription, tried=tried), actor=actor
    )
    return DraftResult(ticket, created)


def diagnose_and_save(store: Store, stream: BinaryIO, *, actor: str, service: str | None, lang: str) -> int:
    """Diagnose a pasted text and keep it, so a ticket can be drafted from it now or later."""
    data = stream.read(MAX_PASTE_BYTES + 1)
    if len(data) > MAX_PASTE_BYTES:
        raise InputError(f"more than {MAX_PASTE_BYTES // 1_000_000} MB is too much for a ticket",
                         hint="run `triage diagnose FILE` on the whole log, then draft from the relevant lines")
    result = diagnose_stream(io.BytesIO(data), service=service, lang=lang)
    if not result.matches:
        raise InputError("no playbook explains this text, so there is nothing to draft a ticket from",
                         hint="add the error line itself, or draft from a lookup: `triage ticket draft customvision ITERATION_ID`")
    excerpt, fields = paste_record(data.decode("utf-8", "replace"))
    return store.save_diagnosis(
        actor=actor, service=result.matches[0].service, input_bytes=result.input_bytes,
        input_sha256=hashlib.sha256(data).hexdigest(), excerpt=excerpt, fields=fields,
        matches=[m.to_json() for m in result.matches],
    )


def failure_from_diagnosis(store: Store, diagnosis_id: int, lang: str) -> Failure:
    row = store.get_diagnosis(diagnosis_id)
    if row is None:
        raise InputError(f"no stored diagnosis #{diagnosis_id}", hint="`triage ticket draft text FILE` diagnoses and stores one")
    eng = engine(None)
    matches: list[Diagnosis] = []
    for m in row["matches"]:
        i = eng.by_id.get(m["id"])
        if i is not None:
            ev = [Evidence(e["line"], e["text"], e.get("role", "match")) for e in m["evidence"]]
            matches.append(localize(eng.playbooks[i], score=m["score"], evidence=ev, lang=lang, facts=m.get("facts") or {}))
    top = matches[0] if matches else None
    first_line = top.evidence[0].text if top and top.evidence else ""
    code = (top.id.rsplit(".", 1)[-1] if top else "")
    fields = dict(row.get("fields") or extract_fields(row["excerpt"]))
    # What the playbook read in the text (the endpoint, the VM size, the region …) fills the
    # matching fields; it is more precise than the generic ID search over the whole paste.
    for name, value in (top.facts.items() if top else ()):
        if name in FACT_TICKET_FIELDS:
            fields[FACT_TICKET_FIELDS[name]] = value
    if top and {"usage", "limit"} <= top.facts.keys():
        fields.setdefault("quota_usage", f"{top.facts['usage']}/{top.facts['limit']} cores used"
                          + (f", {top.facts['needed']} more needed" if "needed" in top.facts else ""))
    if "error_code" not in fields and code.startswith(("ERR_", "ERROR_", "WARNING_")):
        fields["error_code"] = code
    return Failure(
        service=row["service"], target="pasted", kind="diagnosis", key=row["input_sha256"][:24],
        status=top.id if top else "unknown", message=first_line, matches=matches,
        log_excerpt=row["excerpt"], fields=fields,
    )
