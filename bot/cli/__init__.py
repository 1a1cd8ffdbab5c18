"""The `triage` command line: parses options, calls bot.commands, renders the result.

This module holds the root group, the shared options and `diagnose` / `playbooks`; the other
command groups live beside it (lookups, tickets, manifest, slack) and register on import.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from bot import config

from bot import __version__
from bot.commands import diagnose as diagnose_cmd
from bot.commands import playbooks as playbooks_cmd
from bot.errors import InputError, TriageError
from bot.playbooks.model import SERVICES
from bot.redact import redact, redact_obj
from bot import terminal
from bot.render import text as render

LANG = click.option("--lang", type=click.Choice(["en", "ja"]), default="en", show_default=True, help="Language of titles and steps.")
JSON = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
SERVICE = click.option("--service", type=click.Choice(SERVICES), help="Only playbooks of this service (azureml = both Azure ML areas).")


def say(text: str, *, err: bool = False) -> None:
    """Every line printed passes the redactor, then loses escape sequences and control characters."""
    click.echo(terminal.safe(redact(text)), err=err)


def emit(text: str) -> None:
    say(text)


def emit_json(obj: Any) -> None:
    # json.dumps escapes C0 controls itself; safe() removes the C1 and bidi ones it leaves raw
    click.echo(terminal.safe(json.dumps(redact_obj(obj), ensure_ascii=False, indent=2)))


# The command groups that live in modules of their own, by command name: a module is imported only
# when one of its commands runs or help lists them, so `triage diagnose` starts without loading the
# clouds' SDKs, the store or the Slack app. tests/test_docs.py checks that the map is complete.
LAZY_COMMANDS = {
    "eval": "evaluate",
    "ids": "lookups",
    "logs": "lookups",
    "status": "lookups",
    "config": "lookups",
    "manifest": "manifest",
    "serve": "slack",
    "watch": "slack",
    "ticket": "tickets",
    "store": "store",
}


class LazyGroup(click.Group):
    """A click group whose commands in LAZY_COMMANDS are registered by importing their module."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in LAZY_COMMANDS:
            importlib.import_module(f"bot.cli.{LAZY_COMMANDS[name]}")
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
    from bot import config  # not imported by commands that need no settings (diagnose)

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
            say(f"error: {problem}", err=True)
        raise SystemExit(1)
    emit(f"ok: {report.playbooks} playbooks, {report.examples} examples")




def provider_overrides(ctx: click.Context) -> dict[str, dict[str, Any]] | None:
    """Test seam: CliRunner.invoke(cli, …, obj={"provider_overrides": {"rekognition": {"client": c}}})."""
    return (ctx.find_root().obj or {}).get("provider_overrides")


TARGET = click.option("--target", "target", metavar="NAME", help="Only this target (its `name` in triage.toml).")


def _check_utf8(args: list[str]) -> None:
    """Arguments the OS could not decode as UTF-8 arrive with lone surrogates: name them, do not crash later."""
    for n, arg in enumerate(args, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raw = arg.encode("utf-8", "surrogateescape")
            shown = raw.decode("utf-8", "backslashreplace")
            raise InputError(f"argument {n} is not valid UTF-8: {shown}",
                             hint="pass text and paths as UTF-8 (check the terminal's or the script's locale)") from None


def main(argv: list[str] | None = None) -> None:
    """Entry point: named errors become one friendly line, never a stack trace."""
    args = sys.argv[1:] if argv is None else argv
    try:
        _check_utf8(args)
        cli.main(args=args, prog_name="triage", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        shown = io.StringIO()
        e.show(file=shown)  # click's usage and message, which quote the (hostile) arguments
        say(shown.getvalue().rstrip("\n"), err=True)
        sys.exit(e.exit_code)
    except TriageError as e:
        say(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except BrokenPipeError:
        sys.stderr.close()  # `triage … | head` closed the pipe; not an error
        sys.exit(0)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # the last line of defence at the process edge
        from bot.store import database_errors

        if isinstance(e, database_errors()):  # a fault the store did not name: still one line, never a trace
            say(f"error: the state database failed: {e}", err=True)
            sys.exit(1)
        if os.environ.get("TRIAGE_DEBUG"):
            raise
        say(f"internal error: {type(e).__name__}: {e}\n  set TRIAGE_DEBUG=1 to see the trace", err=True)
        sys.exit(70)

