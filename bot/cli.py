"""The `triage` command line: parses options, calls bot.commands, renders the result."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from collections.abc import Callable
from typing import Any

import click

from bot import __version__, config
from bot.commands import diagnose as diagnose_cmd
from bot.commands import playbooks as playbooks_cmd
from bot.commands import manifest as manifest_cmd
from bot.errors import InputError, TriageError
from bot.playbooks.model import SERVICES
from bot.redact import redact, redact_obj
from bot.render import text as render
from bot.render import manifest as render_manifest

LANG = click.option("--lang", type=click.Choice(["en", "ja"]), default="en", show_default=True, help="Language of titles and steps.")
JSON = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
SERVICE = click.option("--service", type=click.Choice(SERVICES), help="Only playbooks of this service (azureml = both Azure ML areas).")


def emit(text: str) -> None:
    """Every line printed passes the redactor."""
    click.echo(redact(text))


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(redact_obj(obj), ensure_ascii=False, indent=2))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="triage")
@click.option("--config", "config_path", metavar="PATH", help="triage.toml to use (default: $TRIAGE_CONFIG, then ./triage.toml).")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """triage: find out why an ML training, job or endpoint failed, and what to do.

    \b
    Covers Azure Custom Vision training, Azure ML online endpoints and jobs,
    and Amazon Rekognition Custom Labels.

    \b
    Examples:
      triage diagnose examples/endpoint-crash.log
      kubectl logs … | triage diagnose --json -
      triage playbooks list --service rekognition
    """
    ctx.ensure_object(dict)["config_path"] = config_path


def settings(ctx: click.Context) -> "config.Settings":
    """The validated settings, loaded once per invocation (the composition root)."""
    root = ctx.find_root()
    root.obj = root.obj or {}
    if "settings" not in root.obj:
        root.obj["settings"] = config.load(root.obj.get("config_path"))
    return root.obj["settings"]


@cli.command()
@click.argument("file", required=False, default=None, metavar="[FILE|-]")
@SERVICE
@LANG
@JSON
@click.option("--top", type=click.IntRange(min=1), help="Show only the N best matches.")
def diagnose(file: str | None, service: str | None, lang: str, as_json: bool, top: int | None) -> None:
    """Explain a failure from a log file, pasted error text, or stdin.

    Reads FILE (or stdin with - or no argument) in one streaming pass, matches it
    against every playbook at once, and prints the best matches first with the lines
    that matched, the steps to take, and whether a retry is worth it. Input that no
    playbook explains gives no match (exit code 0), never a guess.

    \b
    Examples:
      triage diagnose deployment.log
      az ml online-deployment get-logs -e ep -n blue | triage diagnose -
      triage diagnose --json --service azureml-endpoint - <<< 'ERR_1100: Not enough quota'
    """
    if file in (None, "-"):
        if file is None and sys.stdin.isatty():
            raise InputError("nothing to diagnose", hint="give a FILE, or pipe text into `triage diagnose -`")
        result = diagnose_cmd.diagnose_stream(sys.stdin.buffer, service=service, lang=lang, top=top)
    else:
        path = Path(file)
        if not path.is_file():
            raise InputError(f"{file}: no such file" if not path.exists() else f"{file}: not a regular file")
        with path.open("rb") as stream:
            result = diagnose_cmd.diagnose_stream(stream, service=service, lang=lang, top=top)
    if as_json:
        emit_json(result.to_json())
    else:
        emit(render.render_diagnose(result))


@cli.group()
def playbooks() -> None:
    """Browse and validate the playbook library."""


@playbooks.command("list")
@SERVICE
@LANG
@JSON
@click.option("--markdown", is_flag=True, help="Print the Markdown index (playbooks/README.md is generated this way).")
def playbooks_list(service: str | None, lang: str, as_json: bool, markdown: bool) -> None:
    """List every playbook: id, service, title.

    \b
    Examples:
      triage playbooks list --service azureml-endpoint
      triage playbooks list --json --lang ja
      triage playbooks list --markdown > playbooks/README.md
    """
    items = playbooks_cmd.list_playbooks(service)
    if as_json:
        emit_json([{"id": pb.id, "service": pb.service, "title": pb.title.get(lang)} for pb in items])
    elif markdown:
        emit(render.render_playbook_index(items))
    else:
        emit(render.render_playbook_list(items, lang))


@playbooks.command("show")
@click.argument("playbook_id", metavar="ID")
@LANG
@JSON
def playbooks_show(playbook_id: str, lang: str, as_json: bool) -> None:
    """Show one playbook: what it matches, its steps, its sources."""
    pb = playbooks_cmd.show_playbook(playbook_id)
    if as_json:
        emit_json(pb.model_dump())
    else:
        emit(render.render_playbook(pb, lang))


@playbooks.command("lint")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), help="Playbook directory (default: the shipped one).")
def playbooks_lint(directory: Path | None) -> None:
    """Validate every playbook file and check that every example matches its playbook first."""
    report = playbooks_cmd.lint(directory)
    if not report.ok:
        for problem in report.problems:
            click.echo(f"error: {problem}", err=True)
        raise SystemExit(1)
    emit(f"ok: {report.playbooks} playbooks, {report.examples} examples")


# ---- lookups: ids, status, config check (bot/commands/{ids,status,config_check}.py) -------------


def provider_overrides(ctx: click.Context) -> dict[str, dict[str, Any]] | None:
    """Test seam: CliRunner.invoke(cli, …, obj={"provider_overrides": {"rekognition": {"client": c}}})."""
    return (ctx.find_root().obj or {}).get("provider_overrides")


TARGET = click.option("--target", "target", metavar="NAME", help="Only this target (its `name` in triage.toml).")


@cli.group()
def ids() -> None:
    """Print the IDs support will ask for: Project Id, Iteration Id, Resource ID, ARNs.

    \b
    Examples:
      triage ids customvision
      triage ids customvision 64b822c5-8082-4b36-a426-27225f4aa18c
      triage ids rekognition widgets --json
    """


def _ids(ctx: click.Context, service: str, project: str | None, target: str | None, as_json: bool) -> None:
    from bot.commands import ids as ids_cmd
    from bot.render import lookups

    result = ids_cmd.ids(settings(ctx), service, project, target, overrides=provider_overrides(ctx))
    emit_json(result.to_json()) if as_json else emit(lookups.render_ids(result))
    if any(not t.ok for t in result.targets):
        raise SystemExit(1)


@ids.command("customvision")
@click.argument("project", required=False, metavar="[PROJECT]")
@TARGET
@JSON
@click.pass_context
def ids_customvision(ctx: click.Context, project: str | None, target: str | None, as_json: bool) -> None:
    """Custom Vision: Project Id, iterations (Iteration Id, status, created, trained) and Resource ID.

    PROJECT is a project name or Project Id; without it, the projects listed in
    triage.toml (or all projects of the resource). A ticket needs the Iteration Id
    of the iteration whose status is Failed, and must be filed from the
    subscription shown with the Resource ID.

    \b
    Examples:
      triage ids customvision
      triage ids customvision "widget classifier" --target cv-prod
      triage ids customvision 64b822c5-8082-4b36-a426-27225f4aa18c --json
    """
    _ids(ctx, "customvision", project, target, as_json)


@ids.command("rekognition")
@click.argument("project", required=False, metavar="[PROJECT]")
@TARGET
@JSON
@click.pass_context
def ids_rekognition(ctx: click.Context, project: str | None, target: str | None, as_json: bool) -> None:
    """Rekognition Custom Labels: project ARN and every model version (ARN, status, created).

    PROJECT is a project name, a project ARN or a model ARN; without it, the
    projects listed in triage.toml (or all projects in the region).

    \b
    Examples:
      triage ids rekognition
      triage ids rekognition widgets
      triage ids rekognition arn:aws:rekognition:us-east-1:123456789012:project/widgets/1690000000000
    """
    _ids(ctx, "rekognition", project, target, as_json)


@ids.command("azureml")
@click.argument("endpoint", required=False, metavar="[ENDPOINT]")
@TARGET
@JSON
@click.pass_context
def ids_azureml(ctx: click.Context, endpoint: str | None, target: str | None, as_json: bool) -> None:
    """Azure ML: workspace resource ID, online endpoints and deployments, recent jobs.

    For each deployment: provisioning state, instance type and count, traffic share;
    for each endpoint its scoring URI. Without ENDPOINT, every endpoint of the
    workspace (or those listed in triage.toml) and the 20 newest jobs with their
    status, compute and studio URL. Credentials come from DefaultAzureCredential
    (`az login`, a service principal in AZURE_* variables, or a managed identity).

    \b
    Examples:
      triage ids azureml
      triage ids azureml image-classifier --target aml-prod
      triage ids azureml --json
    """
    _ids(ctx, "azureml", endpoint, target, as_json)


@cli.group()
def logs() -> None:
    """Fetch a deployment's container log or a failed job's error and log, and diagnose them."""


@logs.command("azureml")
@click.argument("names", nargs=-1, metavar="[ENDPOINT DEPLOYMENT]")
@click.option("--job", "job", metavar="NAME", help="A job (run) name instead of ENDPOINT DEPLOYMENT.")
@click.option("--lines", type=click.IntRange(1, 10000), default=100, show_default=True, help="How many lines from the end.")
@click.option("--container", type=click.Choice(["inference-server", "storage-initializer"]), default="inference-server",
              show_default=True, help="Deployment container: the scoring server, or the model/code download.")
@TARGET
@click.option("--lang", type=click.Choice(["en", "ja"]), default=None, help="Language of the diagnosis (default: defaults.lang in triage.toml).")
@JSON
@click.pass_context
def logs_azureml(ctx: click.Context, names: tuple[str, ...], job: str | None, lines: int, container: str,
                 target: str | None, lang: str | None, as_json: bool) -> None:
    """Azure ML: the tail of a deployment's container log, or a job's error and user log.

    With ENDPOINT DEPLOYMENT, the last --lines lines of the inference-server log
    (score.py, init(), the scoring server) or, with --container
    storage-initializer, of the model and code download. With --job NAME, the
    job's error code and message from its run details and the tail of its user
    log (user_logs/std_log.txt) when the run lists it. The text is redacted and
    matched against the playbooks.

    \b
    Examples:
      triage logs azureml image-classifier green
      triage logs azureml image-classifier green --container storage-initializer --lines 50
      triage logs azureml --job quiet_lamp_x7k2m9 --json
    """
    from bot.commands import logs as logs_cmd
    from bot.render import azureml as render_aml

    if job is not None:
        if names:
            raise InputError("give either ENDPOINT DEPLOYMENT or --job NAME, not both")
        if container != "inference-server":
            raise InputError("--container applies to deployments, not to --job")
        result: Any = logs_cmd.job_logs(settings(ctx), job, lines, target, lang=lang, overrides=provider_overrides(ctx))
        emit_json(result.to_json()) if as_json else emit(render_aml.render_job_logs(result))
        return
    if len(names) != 2:
        raise InputError(
            "expected ENDPOINT DEPLOYMENT, or --job NAME",
            hint="e.g. triage logs azureml image-classifier green; `triage ids azureml` lists them",
        )
    result = logs_cmd.deployment_logs(settings(ctx), names[0], names[1], lines, container, target, lang=lang,
                                      overrides=provider_overrides(ctx))
    emit_json(result.to_json()) if as_json else emit(render_aml.render_deployment_logs(result))


@cli.command()
@click.argument("service", required=False, metavar="[SERVICE]")
@click.argument("target", required=False, metavar="[TARGET]")
@JSON
@click.pass_context
def status(ctx: click.Context, service: str | None, target: str | None, as_json: bool) -> None:
    """Sweep the configured targets for failed trainings, jobs and deployments.

    Every target is read at the same time; each failure comes diagnosed (matched
    playbook, evidence, first steps) with the IDs a ticket needs. A target that
    cannot be read (bad key, missing role, timeout) is reported on its own line and
    does not stop the others. SERVICE is customvision, azureml or rekognition; a
    lone argument that is not a service is taken as a TARGET name.

    Exit code: 0 when every target was read (failures or not), 1 when some could not be.

    \b
    Examples:
      triage status
      triage status customvision
      triage status rekognition aws-prod --json
      triage status cv-prod
    """
    from bot.commands import status as status_cmd
    from bot.commands.targets import CLOUD_SERVICES
    from bot.render import lookups

    if service is not None and target is None and service not in CLOUD_SERVICES and not service.startswith("azureml"):
        service, target = None, service
    result = status_cmd.status(settings(ctx), service, target, overrides=provider_overrides(ctx))
    emit_json(result.to_json()) if as_json else emit(lookups.render_status(result))
    if result.errors:
        raise SystemExit(1)


@cli.group("config")
def config_group() -> None:
    """Check triage.toml and the credentials it names."""


@config_group.command("check")
@click.option("--live", is_flag=True, help="Also make one cheap read call per target to prove the credentials work.")
@JSON
@click.pass_context
def config_check(ctx: click.Context, live: bool, as_json: bool) -> None:
    """Validate triage.toml and name every problem at once.

    Checks that each Custom Vision key variable is set, that project IDs and
    Rekognition ARNs are well formed, that Entra ID auth uses a custom subdomain,
    and that tickets would be filed from the subscription holding the resource.
    With --live, each target gets one read call (concurrently) that shows whether
    the credentials and roles work. Exit code 1 when there is an error.

    \b
    Examples:
      triage config check
      triage --config prod.toml config check --live --json
    """
    from bot.commands import config_check as check_cmd
    from bot.render import lookups

    report = check_cmd.config_check(settings(ctx), live, overrides=provider_overrides(ctx))
    emit_json(report.to_json()) if as_json else emit(lookups.render_config_check(report))
    if not report.ok:
        raise SystemExit(1)


# -- tickets --------------------------------------------------------------------------------

TICKET_FORMAT = click.option("--format", "fmt", type=click.Choice(["md", "json", "text"]), default="md", show_default=True,
                             help="md for the support form, json for tools, text for plain forms.")


def _store(ctx: click.Context) -> "Store":
    from bot.store import Store

    return Store(settings(ctx).config.db_path())


def _actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name (containers): still audit the action
        return "cli:unknown"


def _print_draft(result: Any, fmt: str) -> None:
    from bot.render.ticket import render_ticket

    t = result.ticket
    if fmt == "json":
        emit_json(result.to_json())
        return
    state = "created" if result.created else "updated (same failure, same ticket)"
    click.echo(redact(f"ticket #{t.id} {state}; status {t.status}"), err=True)
    for w in t.blocking:
        click.echo(redact(f"  blocking: {w.message}"), err=True)
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
    click.echo(f"stored diagnosis #{diagnosis_id}", err=True)
    _print_draft(result, fmt)


@ticket_draft.command("diagnosis")
@click.argument("diagnosis_id", type=int)
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
@click.argument("ticket_id", type=int)
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
@click.argument("ticket_id", type=int)
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
    click.echo(f"ticket #{t.id}: status {t.status}" + (f"; missing {', '.join(t.missing)}" if t.missing else ""), err=True)
    emit(render_ticket(t, fmt))


@ticket.command("export")
@click.argument("ticket_id", type=int)
@TICKET_FORMAT
@click.option("--lang", type=click.Choice(["en", "ja"]), help="Render in this language (default: the ticket's).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file instead of stdout.")
@click.pass_context
def ticket_export(ctx: click.Context, ticket_id: int, fmt: str, lang: str | None, output: Path | None) -> None:
    """Export a ticket to paste into the vendor's support form."""
    from bot.render.ticket import render_ticket
    from bot.tickets import TicketStore

    t = TicketStore(_store(ctx)).get(ticket_id)
    if lang:
        t.lang = lang
    text = render_ticket(t, fmt)
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        emit(text)


@ticket.command("mark-sent")
@click.argument("ticket_id", type=int)
@click.pass_context
def ticket_mark_sent(ctx: click.Context, ticket_id: int) -> None:
    """Record that the ticket was filed with the vendor (only once nothing blocks it)."""
    from bot.tickets import TicketStore

    t = TicketStore(_store(ctx)).mark(ticket_id, "sent", actor=_actor())
    emit(f"ticket #{t.id}: sent")


@cli.group()
def manifest() -> None:
    """Check Amazon Rekognition Custom Labels manifests before training.

    \b
    After a failed training, give the manifest_summary.json or a
    *_manifest_with_validation.json to `triage diagnose FILE`: it recognises
    them by content and reports the counts and every error code by line.

    \b
    Examples:
      triage manifest lint train.manifest --test test.manifest
      triage diagnose manifest_summary.json
    """


@manifest.command("lint")
@click.argument("file", metavar="FILE|-")
@click.option("--type", "model_type", type=click.Choice(["classification", "detection"]),
              help="Model type the manifest is for (default: inferred from its valid lines).")
@click.option("--test", "test_file", metavar="FILE", help="The test manifest: also checks label overlap and images in both.")
@click.option("--limit", type=click.IntRange(0, 1_000_000), default=200, show_default=True,
              help="Findings listed per manifest; every line is still checked and counted.")
@JSON
def manifest_lint(file: str, model_type: str | None, test_file: str | None, limit: int, as_json: bool) -> None:
    """Lint a SageMaker Ground Truth manifest before Rekognition trains on it.

    Checks every line against the documented rules and reports, by line, the codes
    Rekognition would: source-ref (missing, not s3://bucket/key, duplicated, images in
    several buckets), label attributes and their -metadata (type
    groundtruth/image-classification or groundtruth/object-detection, class-name,
    class-map ids, confidence, human-annotated, creation-date), bounding boxes
    (off-frame, too small, more than 50), label names (256 characters), labels per
    image (50), unique labels (at least 2 for classification, 1 for detection, at most
    250), JSON-line length (100,000 characters), rows and file size against the quotas,
    and with --test the label overlap (50%) and images in both manifests. Image files
    are not downloaded: ERROR_INVALID_IMAGE and image dimensions are listed as not
    checked.

    Exit code 1 when a terminal error is predicted (more than 20% invalid lines, too
    many or too few labels, several buckets, size or rows over the quota), else 0.

    \b
    Examples:
      triage manifest lint train.manifest
      triage manifest lint train.manifest --test test.manifest --type detection
      triage manifest lint --json train.manifest > lint.json
      aws s3 cp s3://bucket/train.manifest - | triage manifest lint -
    """
    stdin = sys.stdin.buffer if file == "-" or test_file == "-" else None
    report = manifest_cmd.lint(file, test=test_file, model_type=model_type, max_findings=limit, stdin=stdin)
    if as_json:
        emit_json(report.to_json())
    else:
        emit(render_manifest.render_lint(report))
    if report.exit_code:
        raise SystemExit(report.exit_code)


# -- Slack ------------------------------------------------------------------------------------


@cli.command()
@click.option("--http", "http_mode", is_flag=True, help="HTTP mode (Events API request URL) instead of Socket Mode.")
@click.option("--port", type=click.IntRange(1, 65535), default=3000, show_default=True, help="Port for HTTP mode.")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address for HTTP mode.")
@click.pass_context
def serve(ctx: click.Context, http_mode: bool, port: int, host: str) -> None:
    """Run the Slack app: /triage, the "Diagnose with triage" shortcut, buttons, modals, App Home.

    \b
    Socket Mode (default) needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN (xapp-…, connections:write)
    and no public URL. HTTP mode (--http) needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET and serves
    POST /slack/events (and GET /healthz for a load balancer).

    \b
    Examples:
      triage serve
      triage serve --http --port 8080
    """
    import logging

    from bot.slack.app import serve as serve_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve_app(settings(ctx), http=http_mode, host=host, port=port)


@cli.command()
@click.option("--once", is_flag=True, help="One poll cycle, then exit (cron-style).")
@click.option("--interval", type=click.FloatRange(5, 86_400), help="Seconds between polls (default: [watch] interval_s, 120).")
@click.option("--post-baseline", is_flag=True, help="On first start, post failures that already exist instead of recording them silently.")
@click.pass_context
def watch(ctx: click.Context, once: bool, interval: float | None, post_baseline: bool) -> None:
    """Alert on-call about new failures: one diagnosed Slack message per failure, updates in its thread.

    \b
    Polls every configured target; a Custom Vision iteration that became Failed, an Azure ML job
    that failed or a deployment whose provisioning failed, a Rekognition model that became
    TRAINING_FAILED or FAILED is posted once to the target's channel ([watch.routes], else
    [slack] alert_channel), mentioning [slack] oncall_group, with Acknowledge, Show logs and
    Draft ticket buttons. Recoveries, acknowledgements and drafted tickets go in the thread.
    State lives in SQLite: alerts survive crashes and restarts, and two watchers never both post.

    \b
    Examples:
      triage watch
      triage watch --once --post-baseline
    """
    import logging
    import signal

    from bot.slack.alerts import SlackSink, alert_client
    from bot.store import Store
    from bot.watch import Watcher

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    s = settings(ctx)
    token = s.env.get("SLACK_BOT_TOKEN", "")
    if not token:
        raise config.ConfigError("SLACK_BOT_TOKEN is not set", hint="the watcher posts alerts with the bot token (xoxb-…)")
    watcher = Watcher(s, Store(s.config.db_path()), SlackSink(alert_client(token, s.env.get("SLACK_API_URL"))),
                      post_baseline=post_baseline or None)
    if interval:
        watcher.interval = interval
    # A stop (deploy, Ctrl-C, systemd) releases the lease, so a standby watcher takes over at once.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    try:
        watcher.run(once=once)
    finally:
        watcher.release()


def main(argv: list[str] | None = None) -> None:
    """Entry point: named errors become one friendly line, never a stack trace."""
    try:
        cli.main(args=argv, prog_name="triage", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except TriageError as e:
        click.echo(redact(f"error: {e}"), err=True)
        sys.exit(e.exit_code)
    except BrokenPipeError:
        sys.stderr.close()  # `triage … | head` closed the pipe; not an error
        sys.exit(0)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # the last line of defence at the process edge
        if os.environ.get("TRIAGE_DEBUG"):
            raise
        click.echo(redact(f"internal error: {type(e).__name__}: {e}\n  set TRIAGE_DEBUG=1 to see the trace"), err=True)
        sys.exit(70)
