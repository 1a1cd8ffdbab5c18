"""Modal submissions: the reviewed ticket (marked ready and posted to support) and Look up IDs."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.errors import TriageError
from bot.playbooks.fields import TICKET_FIELDS
from bot.slack import answer
from bot.slack import blocks as B
from bot.slack import texts
from bot.slack.deps import Deps
from bot.slack.modals import ticket_summary
from bot.slack.payload import field_block_ids, picked, user_of
from bot.tickets import TicketStateError


def register(app: App, deps: Deps) -> None:
    @app.view("ticket_modal")
    def on_ticket_submit(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        submit_ticket(deps, ack, body, client)

    @app.view("ids_modal")
    def on_ids_submit(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        deps.later(submit_ids, deps, body, client)


def submit_ticket(deps: Deps, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """Mark the ticket ready and post it to support_channel, or say on the modal's fields what still blocks it."""
    user = user_of(body)
    view = body.get("view", {})
    meta = json.loads(view.get("private_metadata") or "{}")
    lang = deps.locales.peek(user)  # the ack must come within 3 s: the language already known
    blocks = field_block_ids(view)
    try:
        may = deps.access.allowed("tickets", user, meta.get("channel"))
    except TriageError as e:  # a user group of [slack.tickets] cannot be read now: said on the modal, not a 500
        ack(response_action="errors", errors={(blocks or ["f_error_message"])[0]: texts.error(e, lang, mark="")[:150]})
        deps.later(deps.audit, user, meta.get("channel", ""), "modal:ticket", str(meta.get("ticket")), f"error: {e.message}")
        return
    if not may:
        ack(response_action="errors", errors={(blocks or ["f_error_message"])[0]: texts.denial("tickets", lang)[:150]})
        deps.audit(user, meta.get("channel", ""), "modal:ticket", str(meta.get("ticket")), "denied")
        return
    values = {}
    for block_id, actions in (view.get("state", {}).get("values") or {}).items():
        if block_id.startswith("f_"):
            values[block_id[2:]] = (actions.get("v") or {}).get("value") or ""
    ticket_id = int(meta["ticket"])
    try:
        ticket = deps.tickets.edit(ticket_id, actor=f"slack:{user}", set_fields={k: v for k, v in values.items() if k in TICKET_FIELDS})
        ticket = deps.tickets.mark(ticket_id, "ready", actor=f"slack:{user}")
    except TicketStateError as e:
        ticket = deps.tickets.get(ticket_id)
        if ticket.status == "sent":  # sent elsewhere while the modal was open: nothing on it can change that
            ack(response_action="errors", errors={(blocks or ["f_error_message"])[0]: texts.error(e, lang, mark="")[:150]})
            deps.audit(user, meta.get("channel", ""), "modal:ticket", f"ticket #{ticket_id}", "already sent")
            return
        errors = {f"f_{name}": texts.ui(lang, "required") for name in ticket.missing if f"f_{name}" in blocks}
        gate = [w.message for w in ticket.blocking if w.code != "missing_field"]
        if gate and "f_subscription_id" in blocks:
            errors["f_subscription_id"] = gate[0][:150]
        ack(response_action="errors", errors=errors or {next(iter(blocks)): (texts.ui(lang, "still_blocked") + "; ".join(gate))[:150]})
        deps.audit(user, meta.get("channel", ""), "modal:ticket", f"ticket #{ticket_id}", "still draft")
        return
    except TriageError as e:  # the ticket is gone, or the store cannot be written now: said on the modal, not a 500
        ack(response_action="errors", errors={(blocks or ["f_error_message"])[0]: texts.error(e, lang, mark="")[:150]})
        deps.later(deps.audit, user, meta.get("channel", ""), "modal:ticket", f"ticket #{ticket_id}", f"error: {e.message}")
        return
    ack()
    support = deps.settings.config.slack.support_channel or meta.get("channel")
    if support:
        from bot.render.ticket import render_ticket

        client.chat_postMessage(channel=support, text=B.fallback(texts.ui("en", "ticket_ready", id=ticket.id, title=ticket.title)),
                                blocks=ticket_summary(ticket) + [B.section(B.code(render_ticket(ticket, "md"), 2900))])
    deps.audit(user, meta.get("channel", ""), "modal:ticket", f"ticket #{ticket_id}", "ready")


def submit_ids(deps: Deps, body: dict[str, Any], client: WebClient) -> None:
    """The same result as `/triage ids`, sent to the user as a direct message from the app."""
    from bot.commands.ids import ids

    user = user_of(body)
    lang = deps.locales.lang(user)
    view = body.get("view") or {}
    service, target = picked(view, "service") or "", picked(view, "target")
    name = picked(view, "project", "ids_project") or picked(view, "name")  # picked from the live list, else typed
    args = f"{service} {name or ''} --target {target or ''}"
    try:
        if not deps.access.allowed("read", user, None):
            deps.audit(user, "", "shortcut:ids", args, "denied")
            client.chat_postMessage(channel=user, text=B.mrkdwn(texts.denial("read", lang)))
            return
        result = ids(deps.settings, service, name, target, overrides=deps.overrides)
    except TriageError as e:
        deps.audit(user, "", "shortcut:ids", args, f"error: {e.message}")
        client.chat_postMessage(channel=user, text=B.mrkdwn(texts.error(e, lang)))
        return
    title = answer.ids_title(service, name, lang)
    client.chat_postMessage(channel=user, text=B.fallback(title), blocks=B.text_message(title, answer.ids_text(result, service)))
    deps.audit(user, "", "shortcut:ids", args, "ok")
