"""What each slash subcommand, shortcut, button and modal does; results rendered as Block Kit."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from typing import Any

from slack_bolt import Ack, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.commands.diagnose import diagnose_stream, diagnose_text
from bot.diagnosis import DiagnoseResult, Evidence, engine, localize
from bot.config import Settings
from bot.errors import InputError, TriageError
from bot.playbooks.fields import TICKET_FIELDS
from bot.redact import redact
from bot.slack import blocks as B
from bot.slack.access import Access
from bot.slack.files import open_file, text_file
from bot.slack.parse import Request, usage
from bot.store import Store
from bot.tickets import Ticket, TicketStateError, TicketStore, paste_record

log = logging.getLogger("triage.slack")

TICKET_VERBS_WRITE = {"draft"}
MODAL_FIELD_MAX = 3000
NOT_A_MEMBER = ("not_in_channel", "channel_not_found", "is_archived")
SHARE_TTL_S = 3600.0  # a Share in channel button works for an hour after the answer
SHARE_KEEP = 200  # answers kept for sharing

M = {
    "en": {"not_in_channel": "triage is not a member of this channel, so it cannot post here. Invite it with `/invite @triage` "
                             "(or open the channel's details → Integrations → Add apps) and try again. The answer, visible only to you:",
           "share": "Share in channel", "shared_gone": "That answer is no longer kept; run the command again to share it.",
           "longer": "{n} more lines; *Share in channel* posts the whole text as a file.", "stale": "That button is out of date.",
           "gone": "That diagnosis is no longer available.",
           "loading": "Loading…", "ticket": "Ticket", "close": "Close", "failed": "Could not prepare this:",
           "denied_title": "Not allowed"},
    "ja": {"not_in_channel": "triage はこのチャンネルのメンバーではないため投稿できません。`/invite @triage` で招待する "
                             "(またはチャンネル詳細 → インテグレーション → アプリを追加) と投稿できます。結果 (あなたにだけ表示):",
           "share": "チャンネルに共有", "shared_gone": "この結果はもう保持されていません。もう一度コマンドを実行してください。",
           "longer": "残り {n} 行。*チャンネルに共有* で全文をファイルとして投稿します。", "stale": "このボタンは古くなっています。",
           "gone": "この診断はもう保存されていません。",
           "loading": "読み込み中…", "ticket": "チケット", "close": "閉じる", "failed": "準備できませんでした:",
           "denied_title": "権限がありません"},
}


def notice_view(title: str, text: str, close: str = "Close") -> dict[str, Any]:
    """A modal that only says something: loading, a denial, an error."""
    return {"type": "modal", "title": {"type": "plain_text", "text": B.clip(title, 24)}, "close": {"type": "plain_text", "text": B.clip(close, 24)},
            "blocks": [B.section(text)]}


class Handlers:
    def __init__(self, settings: Settings, store: Store, access: Access, locales: Any, *, overrides: dict[str, dict[str, Any]] | None = None) -> None:
        self.settings = settings
        self.store = store
        self.access = access
        self.locales = locales
        self.overrides = overrides
        self.tickets = TicketStore(store)
        self._shared: dict[str, tuple[float, str, str]] = {}
        self._shared_lock = threading.Lock()

    # -- plumbing ---------------------------------------------------------------------------
    def _audit(self, user: str, channel: str, action: str, args: str, result: str) -> None:
        self.store.audit(actor=user, source="slack", channel=channel, action=action, args=redact(args), result=redact(result))

    def audit_raw(self, user: str, channel: str, action: str, raw: str, result: str) -> None:
        """Audit what was answered at the ack (help, rejected input): redacted first, then cut."""
        self._audit(user, channel, action, redact(raw)[:500], result)

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
                                        evidence=[Evidence(e["line"], e["text"], e.get("role", "match")) for e in m["evidence"]],
                                        facts=m.get("facts") or {}))
        return DiagnoseResult(matches, row["input_bytes"], row["excerpt"].count("\n") + 1, lang)

    def _say(self, body: dict[str, Any], respond: Respond, client: WebClient, text: str, user: str) -> None:
        """An ephemeral line to the user wherever the click came from (App Home has no response_url: a DM then)."""
        if body.get("response_url"):
            respond(response_type="ephemeral", replace_original=False, text=B.mrkdwn(text))
        else:
            client.chat_postMessage(channel=user, text=B.mrkdwn(text))

    def _post_text(self, respond: Respond, client: WebClient, channel: str, title: str, text: str, lang: str = "en",
                   thread_ts: str | None = None) -> None:
        """A text result, ephemeral like every answer (a thread reply for an alert's button), with a Share in channel button."""
        if thread_ts:
            try:
                if B.fits(text):
                    client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=B.fallback(title), blocks=B.text_message(title, text))
                else:
                    client.files_upload_v2(channel=channel, thread_ts=thread_ts, content=redact(text), filename="triage.txt",
                                           title=B.clip(title, 150), initial_comment=B.fallback(title))
                return
            except SlackApiError as e:
                if e.response.get("error") not in NOT_A_MEMBER:
                    raise
                respond(response_type="ephemeral", replace_original=False, text=B.mrkdwn(M[lang]["not_in_channel"]))
        respond(response_type="ephemeral", replace_original=False, text=B.fallback(title), blocks=self._ephemeral_text(title, text, lang))

    def _ephemeral_text(self, title: str, text: str, lang: str) -> list[dict[str, Any]]:
        """The text (its head when long) and a Share in channel button that posts the whole."""
        key = secrets.token_urlsafe(12)
        now = time.monotonic()
        with self._shared_lock:
            self._shared = {k: v for k, v in self._shared.items() if now - v[0] < SHARE_TTL_S}
            while len(self._shared) >= SHARE_KEEP:
                self._shared.pop(next(iter(self._shared)))
            self._shared[key] = (now, title, text)
        lines = text.splitlines()
        head, shown = [], 0
        for line in lines:
            if shown + len(line) + 1 > B.FILE_THRESHOLD:
                break
            head.append(line)
            shown += len(line) + 1
        blocks = B.text_message(title, "\n".join(head))[: B.BLOCKS_MAX - 2]
        if len(head) < len(lines):
            blocks.append(B.context(M[lang]["longer"].format(n=len(lines) - len(head))))
        blocks.append({"type": "actions", "block_id": "share_actions", "elements": [B.button(M[lang]["share"], "share_result", {"share": key})]})
        return blocks

    def share(self, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """Share in channel: the kept answer posted for everyone, as blocks or, when long, a file."""
        user = body.get("user", {}).get("id", "")
        channel = (body.get("channel") or {}).get("id", "")
        lang = self.locales.lang(user)
        key = str(_value(body).get("share", ""))
        with self._shared_lock:
            kept = self._shared.get(key)
        if kept is None:
            self._say(body, respond, client, M[lang]["shared_gone"], user)
            self._audit(user, channel, "button:share", key, "expired")
            return
        _, title, text = kept
        try:
            if B.fits(text):
                client.chat_postMessage(channel=channel, text=B.fallback(title), blocks=B.text_message(title, text))
            else:
                client.files_upload_v2(channel=channel, content=redact(text), filename="triage.txt", title=B.clip(title, 150),
                                       initial_comment=B.fallback(title))
        except SlackApiError as e:
            if e.response.get("error") not in NOT_A_MEMBER:
                raise
            self._say(body, respond, client, M[lang]["not_in_channel"].rsplit(".", 1)[0] + ".", user)
            self._audit(user, channel, "button:share", title, "not in channel")
            return
        respond(delete_original=True)
        self._audit(user, channel, "button:share", title, "ok")

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
        self._post_text(respond, client, channel, f"IDs: {service}" + (f" {name}" if name else ""), _render_ids(result, service), lang=lang)
        return "ok"

    def _cmd_status(self, request: Request, user: str, channel: str, lang: str, respond: Respond, client: WebClient) -> str:
        from bot.commands.status import status
        from bot.render.lookups import render_status

        service = request.args[0] if request.args else None
        target = request.args[1] if len(request.args) > 1 else request.options.get("target")
        result = status(self.settings, service, target, overrides=self.overrides)
        self._post_text(respond, client, channel, "Status" + (f": {service}" if service else ""), render_status(result), lang=lang)
        return "ok"

    def _cmd_logs(self, request: Request, user: str, channel: str, lang: str, respond: Respond, client: WebClient) -> str:
        from bot.commands import logs as logs_cmd
        from bot.render.azureml import render_deployment_logs, render_job_logs

        if not request.args or request.args[0] != "azureml":
            raise InputError("logs are available for Azure ML deployments and jobs", hint=usage("logs"))
        lines = _int_option(request.options, "lines", 100)
        if "job" in request.options:
            r = logs_cmd.job_logs(self.settings, request.options["job"], lines, request.options.get("target"), overrides=self.overrides)
            self._post_text(respond, client, channel, f"Job {request.options['job']}", render_job_logs(r), lang=lang)
            return "ok"
        if len(request.args) < 3:
            raise InputError("give the endpoint and the deployment", hint=usage("logs"))
        r = logs_cmd.deployment_logs(self.settings, request.args[1], request.args[2], lines,
                                     request.options.get("container", "inference-server"), request.options.get("target"), overrides=self.overrides)
        self._post_text(respond, client, channel, f"Logs {request.args[1]}/{request.args[2]} ({r.container})", render_deployment_logs(r), lang=lang)
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
        attached = text_file(message)
        what = f"{len(text)} chars"
        try:
            if attached is not None:  # a log or text file: streamed into the same diagnose path, capped
                stream = open_file(client, attached, self.settings.config.slack.file_max_bytes)
                try:
                    result = diagnose_stream(stream, lang=lang)
                finally:
                    stream.close()
                what = f"file {attached.get('name', '')!r} {stream.read_bytes} bytes"
                text = stream.head.decode("utf-8", "replace")
            else:
                result = diagnose_text(text, lang=lang)
        except TriageError as e:
            self._audit(user, channel, "shortcut:diagnose", what, f"error: {e.message}")
            self._fail(respond, e)
            return
        diagnosis_id = self._save(user, result, text)
        title = B.fallback(result.matches[0].title if result.matches else B.L[lang]["none"])
        blocks = B.diagnose_message(result, diagnosis_id=diagnosis_id)
        outcome = f"{len(result.matches)} matches"
        try:
            client.chat_postMessage(channel=channel, thread_ts=message.get("thread_ts") or message.get("ts"), text=title, blocks=blocks)
        except SlackApiError as e:
            if e.response.get("error") not in NOT_A_MEMBER:
                self._audit(user, channel, "shortcut:diagnose", what, f"error: {e.response.get('error')}")
                raise
            # the answer still arrives: ephemeral, through the shortcut's response_url, with how to invite the bot
            respond(response_type="ephemeral", replace_original=False, text=title,
                    blocks=[B.section(M[lang]["not_in_channel"])] + blocks[: B.BLOCKS_MAX - 1])
            outcome += ", not in channel: answered ephemerally"
        self._audit(user, channel, "shortcut:diagnose", what, outcome)

    def switch_lang(self, body: dict[str, Any], respond: Respond) -> None:
        user = body.get("user", {}).get("id", "")
        channel = (body.get("channel") or {}).get("id", "")
        value = _value(body)
        lang = value.get("lang") if value.get("lang") in ("en", "ja") else "en"
        try:
            result = self._stored_result(int(value["diagnosis"]), lang)
        except (KeyError, ValueError, TriageError):
            respond(response_type="ephemeral", replace_original=False, text=B.mrkdwn(M[lang]["gone"]))
            self._audit(user, channel, "button:switch_lang", json.dumps(value), "diagnosis gone")
            return
        respond(replace_original=True, text=B.fallback(result.matches[0].title if result.matches else ""),
                blocks=B.diagnose_message(result, diagnosis_id=int(value["diagnosis"])))
        self._audit(user, channel, "button:switch_lang", json.dumps(value), f"lang {lang}")

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
            self._audit(user, channel, "button:show_logs", json.dumps(value), f"error: {e.message}")
            self._fail(respond, e)
            return
        self._post_text(respond, client, channel, title, text, lang=lang, thread_ts=thread)
        self._audit(user, channel, "button:show_logs", json.dumps(value), "ok")

    def acknowledge(self, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """Alert acknowledgement: recorded by the watcher's alert store, message updated in place."""
        from bot.slack.alerts import acknowledge_alert

        acknowledge_alert(self, body, client, respond)

    # -- tickets: modal --------------------------------------------------------------------
    def open_loading(self, body: dict[str, Any], client: WebClient, respond: Respond) -> str | None:
        """Open a loading modal with the trigger_id at once (it expires in 3 s): nothing slow may run before this."""
        user = body.get("user", {}).get("id", "")
        lang = self.locales.peek(user)
        try:
            resp = client.views_open(trigger_id=body.get("trigger_id", ""), view=notice_view(M[lang]["ticket"], M[lang]["loading"], M[lang]["close"]))
        except SlackApiError as e:
            self._audit(user, (body.get("channel") or {}).get("id", ""), "button:draft_ticket", "", f"error: {e.response.get('error')}")
            log.warning("views.open failed: %s", e.response.get("error"))
            return None
        return (resp.get("view") or {}).get("id")

    def fill_ticket_modal(self, body: dict[str, Any], client: WebClient, respond: Respond, view_id: str | None) -> None:
        """The slow part after the modal is open: access, the draft, then views.update with the prefilled ticket."""
        user = body.get("user", {}).get("id", "")
        channel = (body.get("channel") or {}).get("id", "")
        lang = self.locales.lang(user)
        t = M[lang]

        def show(view: dict[str, Any]) -> None:
            if view_id:
                client.views_update(view_id=view_id, view=view)

        if not self.access.allowed("tickets", user, channel):
            self._audit(user, channel, "button:draft_ticket", json.dumps(_value(body)), "denied")
            show(notice_view(t["denied_title"], self.access.denial("tickets", lang), t["close"]))
            self._say(body, respond, client, self.access.denial("tickets", lang), user)
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
            show(notice_view(t["ticket"], t["stale"], t["close"]))
            self._audit(user, channel, "button:draft_ticket", json.dumps(value), "stale button")
            return
        except TriageError as e:
            show(notice_view(t["ticket"], f"{t['failed']} {e.message}" + (f"\n{e.hint}" if e.hint else ""), t["close"]))
            self._audit(user, channel, "button:draft_ticket", json.dumps(value), f"error: {e.message}")
            return
        if view_id is None:  # the trigger had expired: say where the draft is instead
            self._say(body, respond, client, f"Ticket #{ticket.id}: /triage ticket show {ticket.id}", user)
        show(ticket_modal(ticket, channel))
        self._audit(user, channel, "button:draft_ticket", f"ticket #{ticket.id}", "modal opened" if view_id else "trigger expired")

    def submit_ticket(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        user = body.get("user", {}).get("id", "")
        view = body.get("view", {})
        meta = json.loads(view.get("private_metadata") or "{}")
        if not self.access.allowed("tickets", user, meta.get("channel")):
            blocks = _modal_block_ids(view) or ["f_error_message"]
            ack(response_action="errors", errors={blocks[0]: self.access.denial("tickets", self.locales.peek(user))[:150]})
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

    # -- Look up IDs: pick instead of type ----------------------------------------------------
    def ids_modal(self, user: str) -> dict[str, Any]:
        """The Look up IDs modal: service and target from the configuration (no cloud call: the trigger expires in 3 s)."""
        c = self.settings.config
        targets = [t.name for t in c.customvision] + [t.name for t in c.azureml] + [t.name for t in c.rekognition]

        def option(text: str) -> dict[str, Any]:
            return {"text": {"type": "plain_text", "text": B.clip(text, 75)}, "value": text[:150]}

        blocks: list[dict[str, Any]] = [
            {"type": "input", "block_id": "service", "label": {"type": "plain_text", "text": "Service"},
             "element": {"type": "static_select", "action_id": "v", "options": [option(s) for s in ("customvision", "azureml", "rekognition")]}},
        ]
        if targets:
            blocks.append({"type": "input", "block_id": "target", "optional": True, "label": {"type": "plain_text", "text": "Target"},
                           "element": {"type": "static_select", "action_id": "v", "options": [option(t) for t in targets[:100]]}})
        blocks.append({"type": "input", "block_id": "name", "optional": True,
                       "label": {"type": "plain_text", "text": "Project or endpoint (empty: all)"},
                       "element": {"type": "plain_text_input", "action_id": "v", "max_length": 200}})
        return {"type": "modal", "callback_id": "ids_modal", "title": {"type": "plain_text", "text": "Look up IDs"},
                "submit": {"type": "plain_text", "text": "Look up"}, "close": {"type": "plain_text", "text": "Cancel"}, "blocks": blocks}

    def submit_ids(self, body: dict[str, Any], client: WebClient) -> None:
        """The same result as `/triage ids`, sent to the user as a direct message from the app."""
        from bot.commands.ids import ids

        user = body.get("user", {}).get("id", "")
        lang = self.locales.lang(user)
        state = (body.get("view") or {}).get("state", {}).get("values") or {}

        def picked(block: str) -> str | None:
            v = (state.get(block) or {}).get("v") or {}
            return (v.get("selected_option") or {}).get("value") or v.get("value") or None

        service, target, name = picked("service") or "", picked("target"), picked("name")
        args = f"{service} {name or ''} --target {target or ''}"
        if not self.access.allowed("read", user, None):
            self._audit(user, "", "shortcut:ids", args, "denied")
            client.chat_postMessage(channel=user, text=B.mrkdwn(self.access.denial("read", lang)))
            return
        try:
            result = ids(self.settings, service, name, target, overrides=self.overrides)
        except TriageError as e:
            self._audit(user, "", "shortcut:ids", args, f"error: {e.message}")
            client.chat_postMessage(channel=user, text=B.mrkdwn(f":warning: {e.message}" + (f"\n{e.hint}" if e.hint else "")))
            return
        title = f"IDs: {service}" + (f" {name}" if name else "")
        client.chat_postMessage(channel=user, text=B.fallback(title), blocks=B.text_message(title, _render_ids(result, service)))
        self._audit(user, "", "shortcut:ids", args, "ok")

    # -- App Home ----------------------------------------------------------------------------
    def publish_home(self, event: dict[str, Any], client: WebClient) -> None:
        """App Home: failures for users allowed by [slack.read], drafts for users allowed by [slack.tickets]."""
        user = event.get("user", "")
        lang = self.locales.lang(user)
        en = lang == "en"
        may_read, may_ticket = self.access.allowed("read", user, None), self.access.allowed("tickets", user, None)
        blocks = [B.header("triage")]
        if may_read:
            recent = recent_failures(self.store)
            blocks.append(B.section("*Recent failures*" if en else "*最近の失敗*"))
            blocks += [B.section(f"• `{r['service']}` {r['title']} — {r['status']} ({r['at']})") for r in recent[:10]] or \
                [B.context("Nothing has failed recently." if en else "最近の失敗はありません。")]
        if may_ticket:
            drafts = self.tickets.list("draft", limit=10)
            blocks.append(B.section("*Open ticket drafts*" if en else "*未送信のチケット下書き*"))
            for t in drafts:
                blocks.append(B.section(f"#{t.id} {t.title}" + (f"\nneeds: {', '.join(t.missing)}" if t.missing else ""),
                                        accessory=B.button("Review" if en else "確認", "draft_ticket", {"ticket": t.id})))
            if not drafts:
                blocks.append(B.context("No open drafts." if en else "下書きはありません。"))
        if not may_read and not may_ticket:
            blocks.append(B.section(self.access.denial("read", lang)))
        blocks.append(B.context(usage().replace("\n", "  ")))
        client.views_publish(user_id=user, view={"type": "home", "blocks": blocks[: B.BLOCKS_MAX]})
        self._audit(user, "", "home", "", f"read={may_read} tickets={may_ticket}")


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
