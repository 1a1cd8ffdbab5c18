"""/triage: acknowledged at once (parse only), the work on the pool, answered through response_url."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.commands.diagnose import diagnose_text
from bot.errors import InputError, TriageError
from bot.redact import redact
from bot.slack import answer
from bot.slack import blocks as B
from bot.slack import texts
from bot.slack.deps import Deps
from bot.slack.modals import ticket_summary
from bot.slack.parse import Request, parse, usage
from bot.slack.records import draft_from_diagnosis, save_diagnosis

Verb = Callable[[Deps, Request, str, str, str, Respond, WebClient], str]


def register(app: App, deps: Deps) -> None:
    @app.command(deps.settings.config.slack.command)
    def on_command(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        """Answer inside Slack's 3 s: parse only; the work runs on the pool and answers via response_url."""
        user, channel, raw = body.get("user_id", ""), body.get("channel_id", ""), body.get("text", "")
        lang = deps.locales.peek(user)  # the language already known for this user: no users.info before the ack
        try:
            request = parse(raw)
        except InputError as e:
            ack(response_type="ephemeral", text=B.mrkdwn(texts.rejected(e, lang, usage())))
            deps.later(deps.audit_raw, user, channel, "rejected", raw, f"rejected: {e.message}")
            return
        if request.verb == "help":
            ack(response_type="ephemeral", text=B.mrkdwn(usage()))
            deps.later(deps.audit_raw, user, channel, "help", raw, "ok")
            return
        ack(response_type="ephemeral", text=B.mrkdwn(texts.RESULT[lang]["working"] + f" `{request.verb}`"))
        deps.later(run, deps, request, body, respond, client)


def run(deps: Deps, request: Request, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
    """One /triage command after the ack: access, the verb, the audit; a named error is answered in the user's language."""
    user, channel = body.get("user_id", ""), body.get("channel_id", "")
    lang = deps.locales.lang(user)
    kind = "tickets" if request.verb == "ticket" else "read"
    args = redact(body.get("text", ""))[:500]  # redact first: a cut must not split a secret
    if not answer.allowed(deps, kind, user, channel, lang, respond, request.verb, args):
        return
    try:
        result = VERBS[request.verb](deps, request, user, channel, lang, respond, client)
        deps.audit(user, channel, request.verb, args, result or "ok")
    except TriageError as e:
        deps.audit(user, channel, request.verb, args, f"error: {e.message}")
        answer.fail(respond, e, lang)


def _diagnose(deps: Deps, request: Request, user: str, channel: str, lang: str, respond: Respond, client: WebClient) -> str:
    result = diagnose_text(request.text, service=request.options.get("service"), lang=lang)
    diagnosis_id = save_diagnosis(deps.store, user, result, request.text)
    respond(response_type="in_channel", replace_original=False,
            text=B.fallback(result.matches[0].title if result.matches else texts.RESULT[lang]["none"]),
            blocks=B.diagnose_message(result, diagnosis_id=diagnosis_id))
    return f"{len(result.matches)} matches"


def _ids(deps: Deps, request: Request, user: str, channel: str, lang: str, respond: Respond, client: WebClient) -> str:
    from bot.commands.ids import ids

    if not request.args:
        raise InputError("which service?", hint=usage("ids"))
    service, name = request.args[0], (request.args[1] if len(request.args) > 1 else None)
    result = ids(deps.settings, service, name, request.options.get("target"), overrides=deps.overrides)
    answer.post_text(deps, respond, client, channel, answer.ids_title(service, name, lang), answer.ids_text(result, service), lang=lang)
    return "ok"


def _status(deps: Deps, request: Request, user: str, channel: str, lang: str, respond: Respond, client: WebClient) -> str:
    from bot.commands.status import status
    from bot.render.lookups import render_status

    service = request.args[0] if request.args else None
    target = request.args[1] if len(request.args) > 1 else request.options.get("target")
    result = status(deps.settings, service, target, overrides=deps.overrides)
    answer.post_text(deps, respond, client, channel, texts.ui(lang, "status") + (f": {service}" if service else ""), render_status(result), lang=lang)
    return "ok"


def _logs(deps: Deps, request: Request, user: str, channel: str, lang: str, respond: Respond, client: WebClient) -> str:
    from bot.commands import logs as logs_cmd
    from bot.render.azureml import render_deployment_logs, render_job_logs

    if not request.args or request.args[0] != "azureml":
        raise InputError("logs are available for Azure ML deployments and jobs", hint=usage("logs"))
    lines = _int_option(request.options, "lines", 100)
    target = request.options.get("target")
    if "job" in request.options:
        r = logs_cmd.job_logs(deps.settings, request.options["job"], lines, target, overrides=deps.overrides)
        answer.post_text(deps, respond, client, channel, f"Job {request.options['job']}", render_job_logs(r), lang=lang)
        return "ok"
    if len(request.args) < 3:
        raise InputError("give the endpoint and the deployment", hint=usage("logs"))
    r = logs_cmd.deployment_logs(deps.settings, request.args[1], request.args[2], lines,
                                 request.options.get("container", "inference-server"), target, overrides=deps.overrides)
    answer.post_text(deps, respond, client, channel, f"Logs {request.args[1]}/{request.args[2]} ({r.container})",
                     render_deployment_logs(r), lang=lang)
    return "ok"


def _playbook(deps: Deps, request: Request, user: str, channel: str, lang: str, respond: Respond, client: WebClient) -> str:
    from bot.commands.playbooks import show_playbook
    from bot.render.text import render_playbook

    if not request.args:
        raise InputError("which playbook?", hint=usage("playbook"))
    pb = show_playbook(request.args[0])
    respond(response_type="ephemeral", replace_original=False, text=B.fallback(pb.title.get(lang)),
            blocks=B.text_message(pb.title.get(lang), render_playbook(pb, lang)))
    return "ok"


def _help(deps: Deps, request: Request, user: str, channel: str, lang: str, respond: Respond, client: WebClient) -> str:
    respond(response_type="ephemeral", text=B.mrkdwn(usage()))
    return "ok"


def _ticket(deps: Deps, request: Request, user: str, channel: str, lang: str, respond: Respond, client: WebClient) -> str:
    sub = request.args[0] if request.args else "list"
    if sub == "draft":
        result = diagnose_text(request.text, lang=lang)
        diagnosis_id = save_diagnosis(deps.store, user, result, request.text)
        if diagnosis_id is None:
            raise InputError("no playbook explains this text, so there is nothing to draft a ticket from")
        ticket = draft_from_diagnosis(deps, diagnosis_id, user, lang)
        respond(response_type="ephemeral", replace_original=False, text=B.fallback(f"Ticket #{ticket.id}"), blocks=ticket_summary(ticket, lang))
        return f"ticket #{ticket.id}"
    if sub == "list":
        tickets = deps.tickets.list(limit=20)
        lines = [f"#{t.id} {t.status:<6} {t.service:<17} {t.title}" + (f" ({texts.ui(lang, 'ticket_needs', fields=', '.join(t.missing))})" if t.missing else "") for t in tickets]
        title = texts.ui(lang, "tickets")
        respond(response_type="ephemeral", text=B.fallback(title), blocks=B.text_message(title, "\n".join(lines) or texts.ui(lang, "no_tickets")))
        return "ok"
    if sub == "show" and len(request.args) > 1 and request.args[1].lstrip("#").isdigit():
        ticket = deps.tickets.get(int(request.args[1].lstrip("#")))
        respond(response_type="ephemeral", text=B.fallback(f"Ticket #{ticket.id}"), blocks=ticket_summary(ticket, lang))
        return "ok"
    raise InputError(f"unknown ticket action `{sub[:30]}`", hint=usage("ticket"))


VERBS: dict[str, Verb] = {"diagnose": _diagnose, "ids": _ids, "status": _status, "logs": _logs, "playbook": _playbook,
                          "help": _help, "ticket": _ticket}


def _int_option(options: dict[str, str], name: str, default: int) -> int:
    raw = options.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise InputError(f"--{name} must be a number, not {raw[:20]!r}")
    return int(raw)
