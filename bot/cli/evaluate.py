"""`triage eval`: accuracy and false positives on a corpus of real failure texts."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli import JSON, cli, emit, emit_json
from bot.commands import evaluate as evaluate_cmd
from bot.render.evaluate import render_eval


@cli.command("eval")
@click.argument("corpus_dir", metavar="CORPUS_DIR", type=click.Path(path_type=Path))
@click.option("--no-hint", is_flag=True, help="Only run without the service hint (the text alone).")
@click.option("--quiet", "-q", is_flag=True, help="Figures only, no list of misses.")
@JSON
def eval_command(corpus_dir: Path, no_hint: bool, quiet: bool, as_json: bool) -> None:
    """Measure diagnosis on a corpus of real texts: top-1 accuracy, false positives.

    Each case in CORPUS_DIR (one YAML file: text, service, expected playbook id or
    `none`, lang, source, why) is diagnosed with the service named (as `--service`
    would) and without it. Prints top-1 accuracy on the in-scope cases, the rate of
    diagnoses on look-alike texts from other platforms, figures per service and per
    language, and each miss with what was expected and what came out.

    \b
    Examples:
      triage eval tests/corpus
      triage eval --no-hint --json tests/corpus
    """
    result = evaluate_cmd.evaluate(corpus_dir, hint=not no_hint)
    if as_json:
        emit_json(result.to_json())
    else:
        emit(render_eval(result, show_misses=not quiet))
