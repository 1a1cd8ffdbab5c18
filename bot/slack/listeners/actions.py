"""Buttons: language switch, Show logs, alert Acknowledge / Resolve / Snooze, Draft ticket (a modal), Share in channel."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.errors import TriageError
from bot.slack import answer
from bot.slack import blocks as B
from bot.slack import texts
from bot.slack.alerts import acknowledge_alert, resolve_alert, snooze_alert
from bot.slack.deps import Deps
from bot.slack.modals import loading_view, notice_view, ticket_modal
from bot.slack.payload import action_value, channel_of, user_of
from bot.slack.records import draft_from_alert, draft_from_diagnosis, stored_result

log = logging.getLogger("triage.slack")


def register(app: App, deps: Deps) -> None:
    def later(work: Any) -> Any:
        """A button listener that acks, then runs `work(deps, body, client, respond)` on the pool."""

        def listener(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
            ack()
            deps.later(work, deps, body, client, respond)

        listener.__name__ = f"on_{work.__name__}"
        return listener

    app.action("switch_lang")(later(switch_lang))
    app.action("show_logs")(later(show_logs))
    app.action("acknowledge")(later(acknowledge_alert))
    app.action("resolve_alert")(later(resolve_alert))
    app.action(re.compile(r"^snooze_alert_"))(later(snooze_alert))
    app.action("share_result")(later(share))

    @app.action("draft_ticket")
    def on_draft_ticket(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        view_id = open_loading(deps, body, client)  # the trigger_id expires in 3 s: open first, fill later
        deps.later(fill_ticket_modal, deps, body, client, respond, view_id)


def switch_lang(deps: Deps, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
    """日本語 / English: the stored diagnosis again in the other language, in place."""
    user, channel = user_of(body), channel_of(body)
    value = action_value(body)
    lang = value.get("lang") if value.get("lang") in texts.LANGS else "en"
    try:
        result = stored_result(deps.store, int(value["diagnosis"]), lang)
    except (KeyError, ValueError, TriageError):
        answer.ephemeral(respond, texts.ui(deps.locales.lang(user), "gone"))  # said in the user's language, not the one asked for
        deps.audit(user, channel, "button:switch_lang", json.dumps(value), "diagnosis gone")
        return
    respond(replace_original=True, text=B.fallback(result.matches[0].title if result.matches else ""),
            blocks=B.diagnose_message(result, diagnosis_id=int(value["diagnosis"])))
    deps.audit(user, channel, "button:switch_lang", json.dumps(value), f"lang {lang}")


def show_logs(deps: Deps, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
    """Show logs on an Azure ML alert: the deployment's or the job's log tail, in the alert's thread."""
    from bot.commands import logs as logs_cmd
    from bot.render.azureml import render_deployment_logs, render_job_logs

    user, channel = user_of(body), channel_of(body)
    lang = deps.locales.lang(user)
    value = action_value(body)
    if not answer.allowed(deps, "read", user, channel, lang, respond, "button:show_logs", json.dumps(value)):
        return
    thread = (body.get("container") or {}).get("thread_ts") or (body.get("container") or {}).get("message_ts")
    try:
        if value.get("job"):
            r = logs_cmd.job_logs(deps.settings, value["job"], 200, value.get("target"), overrides=deps.overrides)
            text, title = render_job_logs(r), f"Job {value['job']}"
        else:
            r = logs_cmd.deployment_logs(deps.settings, value.get("endpoint", ""), value.get("deployment", ""), 200,
                                         value.get("container", "inference-server"), value.get("target"), overrides=deps.overrides)
            text, title = render_deployment_logs(r), f"Logs {r.endpoint}/{r.deployment}"
    except TriageError as e:
        deps.audit(user, channel, "button:show_logs", json.dumps(value), f"error: {e.message}")
        answer.fail(respond, e, lang)
        return
    answer.post_text(deps, respond, client, channel, title, text, lang=lang, thread_ts=thread)
    deps.audit(user, channel, "button:show_logs", json.dumps(value), "ok")


def share(deps: Deps, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
    """Share in channel: the kept answer posted for everyone, as blocks or, when long, a file."""
    user, channel = user_of(body), channel_of(body)
    lang = deps.locales.lang(user)
    key = str(action_value(body).get("share", ""))
    kept = answer.shared(deps).get(key)
    if kept is None:
        answer.say(body, respond, client, texts.ui(lang, "shared_gone"), user)
        deps.audit(user, channel, "button:share", key, "expired")
        return
    title, text = kept
    try:
        answer.post_whole(client, channel, title, text)
    except SlackApiError as e:
        if e.response.get("error") not in answer.NOT_A_MEMBER:
            raise
        answer.say(body, respond, client, texts.ui(lang, "cannot_post"), user)
        deps.audit(user, channel, "button:share", title, "not in channel")
        return
    respond(delete_original=True)
    deps.audit(user, channel, "button:share", title, "ok")


def open_loading(deps: Deps, body: dict[str, Any], client: WebClient) -> str | None:
    """Open a loading modal with the trigger_id at once (it expires in 3 s): nothing slow may run before this."""
    user = user_of(body)
    try:
        resp = client.views_open(trigger_id=body.get("trigger_id", ""), view=loading_view(deps.locales.peek(user)))
    except SlackApiError as e:
        deps.audit(user, channel_of(body), "button:draft_ticket", "", f"error: {e.response.get('error')}")
        log.warning("views.open failed: %s", e.response.get("error"))
        return None
    return (resp.get("view") or {}).get("id")


def fill_ticket_modal(deps: Deps, body: dict[str, Any], client: WebClient, respond: Respond, view_id: str | None) -> None:
    """The slow part after the modal is open: access, the draft, then views.update with the prefilled ticket."""
    user, channel = user_of(body), channel_of(body)
    lang = deps.locales.lang(user)

    def show(view: dict[str, Any]) -> None:
        if view_id:
            client.views_update(view_id=view_id, view=view)

    value = action_value(body)
    try:
        may = deps.access.allowed("tickets", user, channel)
    except TriageError as e:  # a user group of [slack.tickets] cannot be read now: said where the draft would open
        show(notice_view(texts.ui(lang, "ticket"), texts.error(e, lang, mark=texts.ui(lang, "failed") + " "), texts.ui(lang, "close")))
        deps.audit(user, channel, "button:draft_ticket", json.dumps(value), f"error: {e.message}")
        return
    if not may:
        deps.audit(user, channel, "button:draft_ticket", json.dumps(value), "denied")
        show(notice_view(texts.ui(lang, "denied_title"), texts.denial("tickets", lang), texts.ui(lang, "close")))
        answer.say(body, respond, client, texts.denial("tickets", lang), user)
        return
    try:
        if "ticket" in value:
            ticket = deps.tickets.get(int(value["ticket"]))
        elif "alert" in value:
            ticket = draft_from_alert(deps, value["alert"], user, lang, client)
        else:
            ticket = draft_from_diagnosis(deps, int(value["diagnosis"]), user, lang)
    except (KeyError, ValueError):
        show(notice_view(texts.ui(lang, "ticket"), texts.ui(lang, "stale"), texts.ui(lang, "close")))
        deps.audit(user, channel, "button:draft_ticket", json.dumps(value), "stale button")
        return
    except TriageError as e:
        show(notice_view(texts.ui(lang, "ticket"), texts.error(e, lang, mark=texts.ui(lang, "failed") + " "), texts.ui(lang, "close")))
        deps.audit(user, channel, "button:draft_ticket", json.dumps(value), f"error: {e.message}")
        return
    if view_id is None:  # the trigger had expired: say where the draft is instead
        answer.say(body, respond, client, texts.ui(lang, "ticket_where", id=ticket.id), user)
    show(ticket_modal(ticket, channel, lang))
    deps.audit(user, channel, "button:draft_ticket", f"ticket #{ticket.id}", "modal opened" if view_id else "trigger expired")
