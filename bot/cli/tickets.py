"""`triage ticket …`: support-ticket drafts, review and export."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
import sys
from typing import Any

import click

from bot.cli import JSON, LANG, SERVICE, cli, emit, emit_json, say, settings
from bot.errors import InputError
from bot.store import MAX_ID, Store, open_store
# -- tickets --------------------------------------------------------------------------------

TICKET_ID = click.IntRange(1, MAX_ID)  # what SQLite can hold: larger numbers are a usage error, not an overflow
TICKET_FORMAT = click.option("--format", "fmt", type=click.Choice(["md", "json", "text"]), default="md", show_default=True,
                             help="md for the support form, json for tools, text for plain forms.")


def _store(ctx: click.Context) -> Store:
    s = settings(ctx)
    return open_store(s.store_location(), s.config.store.busy_timeout_s)


def _actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no user name (containers): still audit the action
        return "cli:unknown"


def _print_draft(result: Any, fmt: str) -> None:
    from bot.render.ticket import render_ticket

    t = result.ticket
    if fmt == "json":
        emit_json(result.to_json())
        return
    state = "created" if result.created else "updated (same failure, same ticket)"
    if t.follows:
        state = f"created as a follow-up of #{t.follows} (already sent, so kept as it was)"
    say(f"ticket #{t.id} {state}; status {t.status}", err=True)
    for w in t.blocking:
        say(f"  blocking: {w.message}", err=True)
        if w.fix:
            say(f"    fix: {w.fix}", err=True)
    emit(render_ticket(t, fmt))


@cli.group()
def ticket() -> None:
    """Draft, review and export support tickets prefilled with every field support asks for.

    \b
    A draft lists what is missing and stays a draft until every required field is filled or
    waived with a reason, and until the subscription gate passes (Azure support can only
    investigate a resource from a ticket filed in the subscription that contains it).
    Drafting the same failure twice updates one ticket.

    \b
    Examples:
      triage ticket draft customvision 7c2c1f9e-…  --subscription <sub-id>
      triage ticket draft text deployment.log
      triage ticket edit 3 --set retries_done="2 retries, both Failed"
      triage ticket export 3 --format text --lang ja
    """


def _draft_options(f: Callable) -> Callable:
    for option in reversed([
        click.option("--target", help="Config target name (default: search every target of the service)."),
        click.option("--subscription", help="Subscription the ticket is filed from (default: [defaults] subscription_id)."),
        click.option("--tried", multiple=True, help="Something already tried, with its outcome (repeatable)."),
        LANG, TICKET_FORMAT,
    ]):
        f = option(f)
    return f


@ticket.group("draft")
def ticket_draft() -> None:
    """Draft a ticket from a failed iteration, deployment, job, model version, or pasted text."""


def _draft_from_lookup(ctx: click.Context, service: str, key: str, target: str | None, subscription: str | None,
                       tried: tuple[str, ...], lang: str, fmt: str) -> None:
    from bot.commands import ticket as ticket_cmd

    s = settings(ctx)
    failure = ticket_cmd.find_failure(s, service, key, target)
    result = ticket_cmd.draft(_store(ctx), failure, actor=_actor(), lang=lang,
                              filing_subscription=subscription or s.config.defaults.subscription_id, tried=list(tried))
    _print_draft(result, fmt)


@ticket_draft.command("customvision")
@click.argument("iteration_id")
@_draft_options
@click.pass_context
def ticket_draft_customvision(ctx: click.Context, iteration_id: str, **kw: Any) -> None:
    """From a failed Custom Vision iteration (its Iteration Id)."""
    from bot.identifiers import check_uuid

    _draft_from_lookup(ctx, "customvision", check_uuid(iteration_id, "Iteration Id"), **kw)


@ticket_draft.command("azureml")
@click.argument("what", metavar="ENDPOINT/DEPLOYMENT|JOB")
@_draft_options
@click.pass_context
def ticket_draft_azureml(ctx: click.Context, what: str, **kw: Any) -> None:
    """From a failed Azure ML deployment (ENDPOINT/DEPLOYMENT) or job (its name)."""
    _draft_from_lookup(ctx, "azureml", what.strip(), **kw)


@ticket_draft.command("rekognition")
@click.argument("version_arn")
@_draft_options
@click.pass_context
def ticket_draft_rekognition(ctx: click.Context, version_arn: str, **kw: Any) -> None:
    """From a failed Rekognition Custom Labels model version (its ARN)."""
    from bot.identifiers import parse_rekognition_arn

    _draft_from_lookup(ctx, "rekognition", parse_rekognition_arn(version_arn, kind="version").arn, **kw)


@ticket_draft.command("text")
@click.argument("file", default="-", metavar="[FILE|-]")
@SERVICE
@_draft_options
@click.pass_context
def ticket_draft_text(ctx: click.Context, file: str, service: str | None, target: str | None, subscription: str | None,
                      tried: tuple[str, ...], lang: str, fmt: str) -> None:
    """From pasted error text or a log: diagnosed, stored, and drafted."""
    from bot.commands import ticket as ticket_cmd

    store = _store(ctx)
    if file == "-":
        diagnosis_id = ticket_cmd.diagnose_and_save(store, sys.stdin.buffer, actor=_actor(), service=service, lang=lang)
    else:
        path = Path(file)
        if not path.is_file():
            raise InputError(f"{file}: no such file")
        with path.open("rb") as stream:
            diagnosis_id = ticket_cmd.diagnose_and_save(store, stream, actor=_actor(), service=service, lang=lang)
    failure = ticket_cmd.failure_from_diagnosis(store, diagnosis_id, lang)
    s = settings(ctx)
    result = ticket_cmd.draft(store, failure, actor=_actor(), lang=lang,
                              filing_subscription=subscription or s.config.defaults.subscription_id, tried=list(tried))
    say(f"stored diagnosis #{diagnosis_id}", err=True)
    _print_draft(result, fmt)


@ticket_draft.command("diagnosis")
@click.argument("diagnosis_id", type=click.IntRange(1, MAX_ID))
@_draft_options
@click.pass_context
def ticket_draft_diagnosis(ctx: click.Context, diagnosis_id: int, target: str | None, subscription: str | None,
                           tried: tuple[str, ...], lang: str, fmt: str) -> None:
    """From a diagnosis stored earlier (its number)."""
    from bot.commands import ticket as ticket_cmd

    store = _store(ctx)
    failure = ticket_cmd.failure_from_diagnosis(store, diagnosis_id, lang)
    result = ticket_cmd.draft(store, failure, actor=_actor(), lang=lang,
                              filing_subscription=subscription or settings(ctx).config.defaults.subscription_id, tried=list(tried))
    _print_draft(result, fmt)


@ticket.command("list")
@click.option("--status", type=click.Choice(["draft", "ready", "sent"]), help="Only tickets in this status.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@JSON
@click.pass_context
def ticket_list(ctx: click.Context, status: str | None, limit: int, as_json: bool) -> None:
    """List tickets, most recently updated first, with what each still needs."""
    from bot.tickets import TicketStore

    tickets = TicketStore(_store(ctx)).list(status, limit)
    if as_json:
        emit_json([{"id": t.id, "status": t.status, "service": t.service, "title": t.title, "updated": t.updated,
                    "missing": t.missing, "blocking": len(t.blocking)} for t in tickets])
        return
    if not tickets:
        emit("no tickets yet: `triage ticket draft …` creates one")
        return
    for t in tickets:
        needs = f"  needs: {', '.join(t.missing)}" if t.missing else ""
        gate = "  (subscription gate)" if any(w.code.startswith("subscription") or w.code.startswith("filing") for w in t.blocking) else ""
        emit(f"#{t.id:<4} {t.status:<6} {t.service:<17} {t.updated}  {t.title}{needs}{gate}")


@ticket.command("show")
@click.argument("ticket_id", type=TICKET_ID)
@TICKET_FORMAT
@click.option("--history", is_flag=True, help="Also print the edit history.")
@click.pass_context
def ticket_show(ctx: click.Context, ticket_id: int, fmt: str, history: bool) -> None:
    """Show one ticket as it will be sent, with its warnings."""
    from bot.render.ticket import render_ticket
    from bot.tickets import TicketStore

    tickets = TicketStore(_store(ctx))
    t = tickets.get(ticket_id)
    emit(render_ticket(t, fmt))
    if history:
        for h in tickets.history(ticket_id):
            emit(f"{h['at']}  {h['actor']:<20} {h['action']:<12} {h['change']}")


@ticket.command("edit")
@click.argument("ticket_id", type=TICKET_ID)
@click.option("--set", "set_", multiple=True, metavar="FIELD=VALUE", help="Fill or change a field (repeatable; empty VALUE clears).")
@click.option("--waive", multiple=True, metavar="FIELD", help="Waive a required field; needs --reason.")
@click.option("--reason", help="Why the waived field(s) cannot be given.")
@click.option("--unwaive", multiple=True, metavar="FIELD", help="Take a waiver back.")
@click.option("--subscription", help="Subscription the ticket is filed from.")
@click.option("--lang", type=click.Choice(["en", "ja"]), help="Switch the ticket's language.")
@click.option("--ready", is_flag=True, help="Then mark it ready (fails while anything blocks).")
@TICKET_FORMAT
@click.pass_context
def ticket_edit(ctx: click.Context, ticket_id: int, set_: tuple[str, ...], waive: tuple[str, ...], reason: str | None,
                unwaive: tuple[str, ...], subscription: str | None, lang: str | None, ready: bool, fmt: str) -> None:
    """Fill fields, waive required ones with a reason, switch language, mark ready."""
    from bot.render.ticket import render_ticket
    from bot.tickets import TicketStore

    pairs = {}
    for item in set_:
        if "=" not in item:
            raise InputError(f"--set {item!r}: expected FIELD=VALUE")
        name, value = item.split("=", 1)
        pairs[name.strip()] = value
    if waive and not reason:
        raise InputError("--waive needs --reason: support will read why the field is missing")
    tickets = TicketStore(_store(ctx))
    t = tickets.edit(ticket_id, actor=_actor(), set_fields=pairs, waive={w: reason or "" for w in waive},
                     unwaive=list(unwaive), filing_subscription=subscription, lang=lang)
    if ready:
        t = tickets.mark(ticket_id, "ready", actor=_actor())
    say(f"ticket #{t.id}: status {t.status}" + (f"; missing {', '.join(t.missing)}" if t.missing else ""), err=True)
    emit(render_ticket(t, fmt))


@ticket.command("export")
@click.argument("ticket_id", type=TICKET_ID)
@TICKET_FORMAT
@click.option("--lang", type=click.Choice(["en", "ja"]), help="Render in this language (default: the ticket's).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file instead of stdout.")
@click.pass_context
def ticket_export(ctx: click.Context, ticket_id: int, fmt: str, lang: str | None, output: Path | None) -> None:
    """Export a ticket to paste into the vendor's support form."""
    from bot.render.ticket import render_ticket
    from bot.tickets import TicketStore

    from bot.tickets import relocalize

    t = TicketStore(_store(ctx)).get(ticket_id)
    if lang and lang != t.lang:
        relocalize(t, lang)
    text = render_ticket(t, fmt)
    if output:
        try:
            output.write_text(text, encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"cannot write {output}: the directory {output.parent} does not exist",
                             hint="create it first, or give another --output path") from None
        except OSError as e:
            raise InputError(f"cannot write {output}: {e.strerror}", hint="choose a path you can write to, or leave out --output") from None
        say(f"wrote {output}", err=True)
    else:
        emit(text)


@ticket.command("mark-sent")
@click.argument("ticket_id", type=TICKET_ID)
@click.pass_context
def ticket_mark_sent(ctx: click.Context, ticket_id: int) -> None:
    """Record that the ticket was filed with the vendor (only once nothing blocks it)."""
    from bot.tickets import TicketStore

    t = TicketStore(_store(ctx)).mark(ticket_id, "sent", actor=_actor())
    emit(f"ticket #{t.id}: sent")


