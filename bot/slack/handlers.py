"""What each slash subcommand, shortcut, button and modal does; results rendered as Block Kit."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient

from bot.commands.diagnose import diagnose_text
from bot.diagnosis import DiagnoseResult, Evidence, engine, localize
from bot.config import Settings
from bot.errors import InputError, TriageError
from bot.playbooks.fields import TICKET_FIELDS
from bot.redact import redact
from bot.slack import blocks as B
from bot.slack.access import Access
from bot.slack.parse import Request, usage
from bot.store import Store
from bot.tickets import Ticket, TicketStateError, TicketStore, paste_record

log = logging.getLogger("triage.slack")

TICKET_VERBS_WRITE = {"draft"}
MODAL_FIELD_MAX = 3000


class Handlers:
    def __init__(self, settings: Settings, store: Store, access: Access, locales: Any, *, overrides: dict[str, dict[str, Any]] | None = None) -> None:
        self.settings = settings
        self.store = store
        self.access = access
        self.locales = locales
        self.overrides = overrides
        self.tickets = TicketStore(store)

    # -- plumbing ---------------------------------------------------------------------------
    def _audit(self, user: str, channel: str, action: str, args: str, result: str) -> None:
        self.store.audit(actor=user, source="slack", channel=channel, action=action, args=redact(args), result=redact(result))

    def _allowed(self, kind: str, user: str, channel: str, lang: str, respond: Respond, action: str, args: str) -> bool:
        if self.access.allowed(kind, user, channel):
            return True
        self._audit(user, channel, action, args, "denied")
        respond(response_type="ephemeral", replace_original=False, text=B.mrkdwn(self.access.denial(kind, lang)))
        return False

    def _fail(self, respond: Respond, e: TriageError) -> None:
        text = f":warning: {e.message}" + (f"\n{e.hint}" if e.hint else "")
        respond(response_type="ephemeral", replace_original=False, text=B.mrkdwn(text))

    def _save(self, user: str, result: DiagnoseResult, text: str) -> int | None:
        if not result.matches:
            return None
        excerpt, fields = paste_record(text)
        return self.store.save_diagnosis(
            actor=user, service=result.matches[0].service, input_bytes=result.input_bytes,
            input_sha256=hashlib.sha256(text.encode("utf-8", "replace")).hexdigest(), excerpt=excerpt, fields=fields,
            matches=[m.to_json() for m in result.matches],
        )

    def _stored_result(self, diagnosis_id: int, lang: str) -> DiagnoseResult:
        row = self.store.get_diagnosis(diagnosis_id)
        if row is None:
            raise InputError(f"diagnosis #{diagnosis_id} is no longer stored")
        eng = engine(None)
        matches = []
        for m in row["matches"]:
            i = eng.by_id.get(m["id"])
            if i is not None:
                matches.append(localize(eng.playbooks[i], score=m["score"], lang=lang,
                                        evidence=[Evidence(e["line"], e["text"]) for e in m["evidence"]]))
        return DiagnoseResult(matches, row["input_bytes"], row["excerpt"].count("\n") + 1, lang)

    def _post_text(self, respond: Respond, client: WebClient, channel: str, title: str, text: str, thread_ts: str | None = None) -> None:
        """Inline when it fits, otherwise a file in the channel or thread."""
        if B.fits(text):
            blocks = B.text_message(title, text)
            if thread_ts:
                client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=B.fallback(title), blocks=blocks)
            else:
                respond(response_type="ephemeral", replace_original=False, text=B.fallback(title), blocks=blocks)
            return
        client.files_upload_v2(channel=channel, thread_ts=thread_ts, content=redact(text), filename="triage.txt",
                               title=B.clip(title, 150), initial_comment=B.fallback(title))

    # -- /triage ----------------------------------------------------------------------------
    def command(self, request: Request, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        user, channel = body.get("user_id", ""), body.get("channel_id", "")
        lang = self.locales.lang(user)
        kind = "tickets" if request.verb == "ticket" else "read"
        args = redact(body.get("text", ""))[:500]  # redact first: a cut must not split a secret
        if not self._allowed(kind, user, channel, lang, respond, request.verb, args):
            return
        try:
            result = getattr(self, f"_cmd_{request.verb}")(request, user, channel, lang, respond, client)
            self._audit(user, channel, request.verb, args, result or "ok")
        except TriageError as e:
            self._audit(user, channel, request.verb, args, f"error: {e.message}")
            self._fail(respond, e)

    def _cmd_diagnose(self, request: Request, user: str, channel: str, lang: str, respond: Respond, client: WebClient) -> str:
        result = diagnose_text(request.text, service=request.options.get("service"), lang=lang)
        diagnosis_id = self._save(user, result, request.text)
        respond(response_type="in_channel", replace_original=False, text=B.fallback(result.matches[0].title if result.matches else B.L[lang]["none"]),
                blocks=B.diagnose_message(result, diagnosis_id=diagnosis_id))
        return f"{len(result.matches)} matches"

    def _cmd_ids(self, request: Request, user: str, channel: str, lang: str, respond: Respond, client: WebClient) -> str:
        from bot.commands.ids import ids

        if not request.args:
            raise InputError("which service?", hint=usage("ids"))
        service, name = request.args[0], (request.args[1] if len(request.args) > 1 else None)
        result = ids(self.settings, service, name, request.options.get("target"), overrides=self.overrides)
        self._post_text(respond, client, channel, f"IDs: {service}" + (f" {name}" if name else ""), _render_ids(result, service))
        return "ok"

    def _cmd_status(self, request: Request, user: str, channel: str, lang: str, respond: Respond, client: WebClient) -> str:
        from bot.commands.status import status
        from bot.render.lookups import render_status

        service = request.args[0] if request.args else None
        target = request.args[1] if len(request.args) > 1 else request.options.get("target")
        result = status(self.settings, service, target, overrides=self.overrides)
        self._post_text(respond, client, channel, "Status" + (f": {service}" if service else ""), render_status(result))
        return "ok"

    def _cmd_logs(self, request: Request, user: str, channel: str, lang: str, respond: Respond, client: WebClient) -> str:
        from bot.commands import logs as logs_cmd
        from bot.render.azureml import render_deployment_logs, render_job_logs

        if not request.args or request.args[0] != "azureml":
            raise InputError("logs are available for Azure ML deployments and jobs", hint=usage("logs"))
        lines = _int_option(request.options, "lines", 100)
        if "job" in request.options:
            r = logs_cmd.job_logs(self.settings, request.options["job"], lines, request.options.get("target"), overrides=self.overrides)
            self._post_text(respond, client, channel, f"Job {request.options['job']}", render_job_logs(r))
            return "ok"
        if len(request.args) < 3:
            raise InputError("give the endpoint and the deployment", hint=usage("logs"))
        r = logs_cmd.deployment_logs(self.settings, request.args[1], request.args[2], lines,
                                     request.options.get("container", "inference-server"), request.options.get("target"), overrides=self.overrides)
        self._post_text(respond, client, channel, f"Logs {request.args[1]}/{request.args[2]} ({r.container})", render_deployment_logs(r))
        return "ok"

    def _cmd_playbook(self, request: Request, user: str, channel: str, lang: str, respond: Respond, client: WebClient) -> str:
        from bot.commands.playbooks import show_playbook
        from bot.render.text import render_playbook

        if not request.args:
            raise InputError("which playbook?", hint=usage("playbook"))
        pb = show_playbook(request.args[0])
        respond(response_type="ephemeral", replace_original=False, text=B.fallback(pb.title.get(lang)),
                blocks=B.text_message(pb.title.get(lang), render_playbook(pb, lang)))
        return "ok"

    def _cmd_help(self, request: Request, user: str, channel: str, lang: str, respond: Respond, client: WebClient) -> str:
        respond(response_type="ephemeral", text=B.mrkdwn(usage()))
        return "ok"

    def _cmd_ticket(self, request: Request, user: str, channel: str, lang: str, respond: Respond, client: WebClient) -> str:
        sub = request.args[0] if request.args else "list"
        if sub == "draft":
            result = diagnose_text(request.text, lang=lang)
            diagnosis_id = self._save(user, result, request.text)
            if diagnosis_id is None:
                raise InputError("no playbook explains this text, so there is nothing to draft a ticket from")
            ticket = self._draft_from_diagnosis(diagnosis_id, user, lang)
            respond(response_type="ephemeral", replace_original=False, text=f"Ticket #{ticket.id}", blocks=ticket_summary(ticket))
            return f"ticket #{ticket.id}"
        if sub == "list":
            tickets = self.tickets.list(limit=20)
            lines = [f"#{t.id} {t.status:<6} {t.service:<17} {t.title}" + (f" (needs {', '.join(t.missing)})" if t.missing else "") for t in tickets]
            respond(response_type="ephemeral", text="Tickets", blocks=B.text_message("Tickets", "\n".join(lines) or "no tickets yet"))
            return "ok"
        if sub == "show" and len(request.args) > 1 and request.args[1].lstrip("#").isdigit():
            ticket = self.tickets.get(int(request.args[1].lstrip("#")))
            respond(response_type="ephemeral", text=f"Ticket #{ticket.id}", blocks=ticket_summary(ticket))
            return "ok"
        raise InputError(f"unknown ticket action `{sub[:30]}`", hint=usage("ticket"))

    def _draft_from_diagnosis(self, diagnosis_id: int, user: str, lang: str) -> Ticket:
        from bot.commands.ticket import draft, failure_from_diagnosis

        failure = failure_from_diagnosis(self.store, diagnosis_id, lang)
        return draft(self.store, failure, actor=f"slack:{user}", lang=lang,
                     filing_subscription=self.settings.config.defaults.subscription_id).ticket

    def _draft_from_alert(self, fingerprint: str, user: str, lang: str, client: WebClient) -> Ticket:
        from bot.commands.ticket import draft
        from bot.slack.alerts import SlackSink
        from bot.watch import Watcher, failure_from_json

        watcher = Watcher(self.settings, self.store, SlackSink(client))
        alert = watcher.alert(fingerprint)
        if alert is None:
            raise InputError("this alert is no longer known to triage")
        result = draft(self.store, failure_from_json(alert["failure"], lang), actor=f"slack:{user}", lang=lang,
                       filing_subscription=self.settings.config.defaults.subscription_id)
        if alert.get("ticket_id") != result.ticket.id:
            watcher.note(fingerprint, f":memo: Ticket #{result.ticket.id} drafted by {{user}}.", user=user, ticket_id=result.ticket.id)
        return result.ticket

    # -- shortcut and buttons ------------------------------------------------------------------
    def shortcut_diagnose(self, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        user = body.get("user", {}).get("id", "")
        channel = body.get("channel", {}).get("id", "")
        message = body.get("message", {})
        lang = self.locales.lang(user)
        if not self._allowed("read", user, channel, lang, respond, "shortcut:diagnose", ""):
            return
        text = message_text(message)
        result = diagnose_text(text, lang=lang)
        diagnosis_id = self._save(user, result, text)
        client.chat_postMessage(channel=channel, thread_ts=message.get("thread_ts") or message.get("ts"),
                                text=B.fallback(result.matches[0].title if result.matches else B.L[lang]["none"]),
                                blocks=B.diagnose_message(result, diagnosis_id=diagnosis_id))
        self._audit(user, channel, "shortcut:diagnose", f"{len(text)} chars", f"{len(result.matches)} matches")

    def switch_lang(self, body: dict[str, Any], respond: Respond) -> None:
        value = _value(body)
        lang = value.get("lang") if value.get("lang") in ("en", "ja") else "en"
        try:
            result = self._stored_result(int(value["diagnosis"]), lang)
        except (KeyError, ValueError, TriageError):
            respond(response_type="ephemeral", replace_original=False, text="That diagnosis is no longer available.")
            return
        respond(replace_original=True, text=B.fallback(result.matches[0].title if result.matches else ""),
                blocks=B.diagnose_message(result, diagnosis_id=int(value["diagnosis"])))

    def show_logs(self, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        from bot.commands import logs as logs_cmd
        from bot.render.azureml import render_deployment_logs, render_job_logs

        user = body.get("user", {}).get("id", "")
        channel = (body.get("channel") or {}).get("id", "")
        lang = self.locales.lang(user)
        if not self._allowed("read", user, channel, lang, respond, "button:show_logs", json.dumps(_value(body))):
            return
        value = _value(body)
        thread = (body.get("container") or {}).get("thread_ts") or (body.get("container") or {}).get("message_ts")
        try:
            if value.get("job"):
                r = logs_cmd.job_logs(self.settings, value["job"], 200, value.get("target"), overrides=self.overrides)
                text, title = render_job_logs(r), f"Job {value['job']}"
            else:
                r = logs_cmd.deployment_logs(self.settings, value.get("endpoint", ""), value.get("deployment", ""), 200,
                                             value.get("container", "inference-server"), value.get("target"), overrides=self.overrides)
                text, title = render_deployment_logs(r), f"Logs {r.endpoint}/{r.deployment}"
        except TriageError as e:
            self._fail(respond, e)
            return
        self._post_text(respond, client, channel, title, text, thread_ts=thread)
        self._audit(user, channel, "button:show_logs", json.dumps(value), "ok")

    def acknowledge(self, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """Alert acknowledgement: recorded by the watcher's alert store, message updated in place."""
        from bot.slack.alerts import acknowledge_alert

        acknowledge_alert(self, body, client, respond)

    # -- tickets: modal --------------------------------------------------------------------
    def open_ticket_modal(self, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        user = body.get("user", {}).get("id", "")
        channel = (body.get("channel") or {}).get("id", "")
        lang = self.locales.lang(user)
        if not self._allowed("tickets", user, channel, lang, respond, "button:draft_ticket", ""):
            return
        value = _value(body)
        try:
            if "ticket" in value:
                ticket = self.tickets.get(int(value["ticket"]))
            elif "alert" in value:
                ticket = self._draft_from_alert(value["alert"], user, lang, client)
            else:
                ticket = self._draft_from_diagnosis(int(value["diagnosis"]), user, lang)
        except (KeyError, ValueError):
            respond(response_type="ephemeral", replace_original=False, text="That button is out of date.")
            return
        except TriageError as e:
            self._fail(respond, e)
            return
        client.views_open(trigger_id=body["trigger_id"], view=ticket_modal(ticket, channel))
        self._audit(user, channel, "button:draft_ticket", f"ticket #{ticket.id}", "modal opened")

    def submit_ticket(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        user = body.get("user", {}).get("id", "")
        view = body.get("view", {})
        meta = json.loads(view.get("private_metadata") or "{}")
        if not self.access.allowed("tickets", user, meta.get("channel")):
            ack(response_action="errors", errors={"f_error_message": self.access.denial("tickets", "en")[:150]})
            self._audit(user, meta.get("channel", ""), "modal:ticket", str(meta.get("ticket")), "denied")
            return
        values = {}
        for block_id, actions in (view.get("state", {}).get("values") or {}).items():
            if block_id.startswith("f_"):
                values[block_id[2:]] = (actions.get("v") or {}).get("value") or ""
        ticket_id = int(meta["ticket"])
        try:
            ticket = self.tickets.edit(ticket_id, actor=f"slack:{user}", set_fields={k: v for k, v in values.items() if k in TICKET_FIELDS})
            ticket = self.tickets.mark(ticket_id, "ready", actor=f"slack:{user}")
        except TicketStateError:
            ticket = self.tickets.get(ticket_id)
            errors = {f"f_{name}": "Required" for name in ticket.missing if f"f_{name}" in _modal_block_ids(view)}
            gate = [w.message for w in ticket.blocking if w.code != "missing_field"]
            if gate and "f_subscription_id" in _modal_block_ids(view):
                errors["f_subscription_id"] = gate[0][:150]
            ack(response_action="errors", errors=errors or {next(iter(_modal_block_ids(view))): "Still blocked: " + "; ".join(gate)[:140]})
            self._audit(user, meta.get("channel", ""), "modal:ticket", f"ticket #{ticket_id}", "still draft")
            return
        ack()
        support = self.settings.config.slack.support_channel or meta.get("channel")
        if support:
            from bot.render.ticket import render_ticket

            client.chat_postMessage(channel=support, text=B.fallback(f"Ticket #{ticket.id} ready: {ticket.title}"),
                                    blocks=ticket_summary(ticket) + [B.section(B.code(render_ticket(ticket, "md"), 2900))])
        self._audit(user, meta.get("channel", ""), "modal:ticket", f"ticket #{ticket_id}", "ready")

    # -- App Home ----------------------------------------------------------------------------
    def publish_home(self, event: dict[str, Any], client: WebClient) -> None:
        user = event.get("user", "")
        lang = self.locales.lang(user)
        blocks = [B.header("triage")]
        recent = recent_failures(self.store)
        blocks.append(B.section("*Recent failures*" if lang == "en" else "*最近の失敗*"))
        blocks += [B.section(f"• `{r['service']}` {r['title']} — {r['status']} ({r['at']})") for r in recent[:10]] or \
            [B.context("Nothing has failed recently." if lang == "en" else "最近の失敗はありません。")]
        drafts = self.tickets.list("draft", limit=10)
        blocks.append(B.section("*Open ticket drafts*" if lang == "en" else "*未送信のチケット下書き*"))
        for t in drafts:
            blocks.append(B.section(f"#{t.id} {t.title}" + (f"\nneeds: {', '.join(t.missing)}" if t.missing else ""),
                                    accessory=B.button("Review" if lang == "en" else "確認", "draft_ticket", {"ticket": t.id})))
        if not drafts:
            blocks.append(B.context("No open drafts." if lang == "en" else "下書きはありません。"))
        blocks.append(B.context(usage().replace("\n", "  ")))
        client.views_publish(user_id=user, view={"type": "home", "blocks": blocks[: B.BLOCKS_MAX]})


def recent_failures(store: Store) -> list[dict[str, Any]]:
    """Alerts the watcher recorded, newest first; empty until `triage watch` has run."""
    return store.query("select service, title, status, first_seen as at from alerts order by first_seen desc limit 20")


def ticket_summary(t: Ticket) -> list[dict[str, Any]]:
    lines = [f"*Ticket #{t.id}* · {t.status} · `{t.service}`", t.title]
    if t.missing:
        lines.append("Missing: " + ", ".join(t.missing))
    for w in t.blocking:
        if w.code != "missing_field":
            lines.append(":no_entry: " + w.message)
    return [B.section("\n".join(lines)), {"type": "actions", "elements": [B.button("Review & send", "draft_ticket", {"ticket": t.id}, "primary")]}]


def ticket_modal(t: Ticket, channel: str) -> dict[str, Any]:
    """The prefilled ticket to review: required fields first, then the recommended ones."""
    blocks: list[dict[str, Any]] = [B.section(f"*{t.title}*\n" + ("\n".join(":no_entry: " + w.message for w in t.blocking if w.code != "missing_field")))]
    names = list(t.required) + [n for n in t.recommended if n not in t.required]
    for name in names[:40]:
        value = t.fields.get(name, "")
        element: dict[str, Any] = {"type": "plain_text_input", "action_id": "v", "multiline": name in ("log_excerpt", "error_message", "status_message", "manifest_summary"),
                                   "max_length": MODAL_FIELD_MAX}
        if value:
            element["initial_value"] = B.clip(value, MODAL_FIELD_MAX)
        blocks.append({"type": "input", "block_id": f"f_{name}", "optional": name not in t.required,
                       "label": {"type": "plain_text", "text": B.clip(TICKET_FIELDS.get(name, name), 150)}, "element": element})
    return {"type": "modal", "callback_id": "ticket_modal", "title": {"type": "plain_text", "text": f"Ticket #{t.id}"[:24]},
            "submit": {"type": "plain_text", "text": "Mark ready"}, "close": {"type": "plain_text", "text": "Cancel"},
            "private_metadata": json.dumps({"ticket": t.id, "channel": channel}), "blocks": blocks[: 100]}


def message_text(message: dict[str, Any]) -> str:
    """A message's text plus the text of its attachments and rich-text code blocks."""
    parts = [message.get("text") or ""]
    for a in message.get("attachments") or []:
        parts += [a.get("text") or "", a.get("fallback") or ""]
    return "\n".join(p for p in parts if p)


def _value(body: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads((body.get("actions") or [{}])[0].get("value") or "{}")
        return value if isinstance(value, dict) else {}
    except (ValueError, TypeError):
        return {}


def _int_option(options: dict[str, str], name: str, default: int) -> int:
    raw = options.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise InputError(f"--{name} must be a number, not {raw[:20]!r}")
    return int(raw)


def _modal_block_ids(view: dict[str, Any]) -> list[str]:
    return [b.get("block_id", "") for b in view.get("blocks", []) if b.get("block_id", "").startswith("f_")]


def _render_ids(result: Any, service: str) -> str:
    if service == "azureml":
        from bot.render.azureml import render_azureml_ids

        return "\n\n".join(render_azureml_ids(t.ids.to_json()) if t.ok else f"{t.target}: {t.error}" for t in result.targets)
    from bot.render.lookups import render_ids

    return render_ids(result)
