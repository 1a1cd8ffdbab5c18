"""Shortcuts: Diagnose with triage (message) and Look up IDs (global)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.commands.diagnose import diagnose_stream, diagnose_text
from bot.errors import TriageError
from bot.slack import answer
from bot.slack import blocks as B
from bot.slack import texts
from bot.slack.deps import Deps
from bot.slack.files import open_file, text_file
from bot.slack.modals import ids_modal
from bot.slack.payload import channel_of, user_of
from bot.slack.records import save_diagnosis

log = logging.getLogger("triage.slack")


def register(app: App, deps: Deps) -> None:
    @app.message_shortcut("diagnose_message")
    def on_diagnose(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        deps.later(diagnose_message, deps, body, client, respond)

    @app.shortcut("lookup_ids")
    def on_lookup_ids(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user = user_of(body)
        lang = deps.locales.peek(user)  # the trigger expires in 3 s: open in the language already known
        try:
            opened = client.views_open(trigger_id=body.get("trigger_id", ""), view=ids_modal(deps.settings.config, lang))
        except SlackApiError as e:  # an expired trigger: nothing can be shown, and a 500 would only add Slack's error
            log.warning("views.open failed: %s", e.response.get("error"))
            deps.later(deps.audit, user, "", "shortcut:ids", "", f"error: {e.response.get('error')}")
            return
        deps.later(relabel_ids_modal, deps, user, lang, (opened.get("view") or {}).get("id"), client)


def relabel_ids_modal(deps: Deps, user: str, shown: str, view_id: str | None, client: WebClient) -> None:
    """The Look up IDs modal again in the user's language once users.info has told it, when it was opened in another."""
    lang = deps.locales.lang(user)
    if view_id and lang != shown:
        client.views_update(view_id=view_id, view=ids_modal(deps.settings.config, lang))


def message_text(message: dict[str, Any]) -> str:
    """A message's text plus the text and fallback of its attachments."""
    parts = [message.get("text") or ""]
    for a in message.get("attachments") or []:
        parts += [a.get("text") or "", a.get("fallback") or ""]
    return "\n".join(p for p in parts if p)


def diagnose_message(deps: Deps, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
    """The message's text, or its attached log file streamed and capped, diagnosed in a thread reply."""
    user, channel = user_of(body), channel_of(body)
    message = body.get("message", {})
    lang = deps.locales.lang(user)
    if not answer.allowed(deps, "read", user, channel, lang, respond, "shortcut:diagnose", ""):
        return
    text = message_text(message)
    attached = text_file(message)
    what = f"{len(text)} chars"
    try:
        if attached is not None:  # a log or text file: streamed into the same diagnose path, capped
            stream = open_file(client, attached, deps.settings.config.slack.file_max_bytes)
            try:
                result = diagnose_stream(stream, lang=lang)
            finally:
                stream.close()
            what = f"file {attached.get('name', '')!r} {stream.read_bytes} bytes"
            text = stream.head.decode("utf-8", "replace")
        else:
            result = diagnose_text(text, lang=lang)
    except TriageError as e:
        deps.audit(user, channel, "shortcut:diagnose", what, f"error: {e.message}")
        answer.fail(respond, e, lang)
        return
    diagnosis_id = save_diagnosis(deps.store, user, result, text)
    title = B.fallback(result.matches[0].title if result.matches else texts.RESULT[lang]["none"])
    blocks = B.diagnose_message(result, diagnosis_id=diagnosis_id)
    outcome = f"{len(result.matches)} matches"
    try:
        client.chat_postMessage(channel=channel, thread_ts=message.get("thread_ts") or message.get("ts"), text=title, blocks=blocks)
    except SlackApiError as e:
        if e.response.get("error") not in answer.NOT_A_MEMBER:
            deps.audit(user, channel, "shortcut:diagnose", what, f"error: {e.response.get('error')}")
            raise
        # the answer still arrives: ephemeral, through the shortcut's response_url, with how to invite the bot
        respond(response_type="ephemeral", replace_original=False, text=title,
                blocks=[B.section(texts.ui(lang, "not_in_channel"))] + blocks[: B.BLOCKS_MAX - 1])
        outcome += ", not in channel: answered ephemerally"
    deps.audit(user, channel, "shortcut:diagnose", what, outcome)
