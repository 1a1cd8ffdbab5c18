"""`triage manifest lint`: pre-flight checks of Rekognition Custom Labels manifests."""

from __future__ import annotations

import sys

import click

from bot.cli import JSON, cli, emit, emit_json
from bot.commands import manifest as manifest_cmd
from bot.render import manifest as render_manifest
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


