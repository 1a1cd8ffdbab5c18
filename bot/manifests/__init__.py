"""Rekognition Custom Labels manifests: recognise, analyse validation results, lint before training."""

from bot.manifests.lint import DatasetLint, LintReport, lint_manifest, lint_pair
from bot.manifests.reader import peek_head, prepend
from bot.manifests.sniff import Kind, sniff
from bot.manifests.summary import MAX_SUMMARY_BYTES, SummaryReport, parse_summary
from bot.manifests.validation import ValidationReport, analyse

__all__ = [
    "MAX_SUMMARY_BYTES",
    "DatasetLint",
    "Kind",
    "LintReport",
    "SummaryReport",
    "ValidationReport",
    "analyse",
    "lint_manifest",
    "lint_pair",
    "parse_summary",
    "peek_head",
    "prepend",
    "sniff",
]
