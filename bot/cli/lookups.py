"""`triage ids`, `logs`, `status`, `config check`: reads from the configured clouds."""

from __future__ import annotations

from typing import Any

import click

from bot.cli import JSON, TARGET, cli, emit, emit_json, provider_overrides, settings
from bot.errors import InputError


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
    from bot import config
    from bot.commands import config_check as check_cmd
    from bot.errors import ConfigError
    from bot.render import lookups

    root = ctx.find_root().obj
    try:
        loaded, problems = config.load_checked(root.get("config_path"))
    except ConfigError as e:  # no file, or not TOML: nothing else can be checked
        report = check_cmd.ConfigReport(None, live, [check_cmd.Check("", "", "error", e.message, e.hint)])
    else:
        root["settings"] = loaded
        report = check_cmd.config_check(loaded, live, overrides=provider_overrides(ctx), problems=problems)
    emit_json(report.to_json()) if as_json else emit(lookups.render_config_check(report))
    if not report.ok:
        raise SystemExit(1)


