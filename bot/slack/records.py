"""What the Slack app keeps and reads back: diagnoses (for the buttons under them) and ticket drafts."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient

from bot.diagnosis import DiagnoseResult, Evidence, engine, localize
from bot.errors import InputError
from bot.store import Store
from bot.tickets import Ticket, paste_record

if TYPE_CHECKING:
    from bot.slack.deps import Deps


def save_diagnosis(store: Store, user: str, result: DiagnoseResult, text: str) -> int | None:
    """The diagnosis behind Draft ticket and 日本語 / English; None when nothing matched."""
    if not result.matches:
        return None
    excerpt, fields = paste_record(text)
    return store.save_diagnosis(
        actor=user, service=result.matches[0].service, input_bytes=result.input_bytes,
        input_sha256=hashlib.sha256(text.encode("utf-8", "replace")).hexdigest(), excerpt=excerpt, fields=fields,
        matches=[m.to_json() for m in result.matches],
    )


def stored_result(store: Store, diagnosis_id: int, lang: str) -> DiagnoseResult:
    """A stored diagnosis again, in `lang`."""
    row = store.get_diagnosis(diagnosis_id)
    if row is None:
        raise InputError(f"diagnosis #{diagnosis_id} is no longer stored")
    eng = engine(None)
    matches = []
    for m in row["matches"]:
        i = eng.by_id.get(m["id"])
        if i is not None:
            matches.append(localize(eng.playbooks[i], score=m["score"], lang=lang,
                                    evidence=[Evidence(e["line"], e["text"], e.get("role", "match")) for e in m["evidence"]],
                                    facts=m.get("facts") or {}))
    return DiagnoseResult(matches, row["input_bytes"], row["excerpt"].count("\n") + 1, lang)


def draft_from_diagnosis(deps: Deps, diagnosis_id: int, user: str, lang: str) -> Ticket:
    from bot.commands.ticket import draft, failure_from_diagnosis

    failure = failure_from_diagnosis(deps.store, diagnosis_id, lang)
    return draft(deps.store, failure, actor=f"slack:{user}", lang=lang,
                 filing_subscription=deps.settings.config.defaults.subscription_id).ticket


def draft_from_alert(deps: Deps, fingerprint: str, user: str, lang: str, client: WebClient) -> Ticket:
    from bot.commands.ticket import draft
    from bot.slack.alerts import SlackSink
    from bot.watch import Watcher, failure_from_json

    watcher = Watcher(deps.settings, deps.store, SlackSink(client))
    alert = watcher.alert(fingerprint)
    if alert is None:
        raise InputError("this alert is no longer known to triage")
    result = draft(deps.store, failure_from_json(alert["failure"], lang), actor=f"slack:{user}", lang=lang,
                   filing_subscription=deps.settings.config.defaults.subscription_id)
    if alert.get("ticket_id") != result.ticket.id:
        watcher.note(fingerprint, f":memo: Ticket #{result.ticket.id} drafted by {{user}}.", user=user, ticket_id=result.ticket.id)
    return result.ticket


def recent_failures(store: Store) -> list[dict[str, Any]]:
    """Alerts the watcher recorded, newest first; empty until `triage watch` has run."""
    return store.query("select service, title, status, first_seen as at from alerts order by first_seen desc limit 20")
