"""`logs`: an Azure ML deployment's container log, or a failed job's error and user log, diagnosed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.commands import targets
from bot.diagnosis import Diagnosis, check_lang, diagnose_log
from bot.config import AzureMLTarget, Settings
from bot.errors import InputError
from bot.identifiers import check_aml_endpoint_name, check_aml_job_name, check_target_name
from bot.providers import get_provider
from bot.providers.azureml_results import diagnose_failure
from bot.redact import redact

CONTAINERS = ("inference-server", "storage-initializer")
"""The deployment containers `get-logs` can read (the SDK's container_type values)."""
MAX_LINES = 10000


@dataclass
class DeploymentLogs:
    """The tail of one deployment container's log, redacted, and what it shows."""

    target: str
    workspace: str
    endpoint: str
    deployment: str
    container: str
    lines_requested: int
    text: str
    matches: list[Diagnosis]
    lang: str = "en"

    @property
    def line_count(self) -> int:
        return len(self.text.splitlines())

    def to_json(self) -> dict[str, Any]:
        return {
            "service": "azureml",
            "target": self.target,
            "workspace": self.workspace,
            "endpoint": self.endpoint,
            "deployment": self.deployment,
            "container": self.container,
            "lines_requested": self.lines_requested,
            "lines": self.line_count,
            "log": self.text,
            "matches": [m.to_json() for m in self.matches],
        }


@dataclass
class JobLogs:
    """A job's identity, its error (code, message) from run details, and the tail of its user log."""

    target: str
    workspace: str
    job: Any  # bot.providers.azureml.JobIds
    error_code: str | None
    error_message: str | None
    error_time: str | None
    correlation_id: str | None
    request_id: str | None
    warnings: list[str]
    log_name: str | None
    log_partial: bool
    text: str
    note: str | None
    lines_requested: int
    matches: list[Diagnosis] = field(default_factory=list)
    lang: str = "en"

    def to_json(self) -> dict[str, Any]:
        return {
            "service": "azureml",
            "target": self.target,
            "workspace": self.workspace,
            "job": self.job.to_json(),
            "error": None
            if self.error_code is None and self.error_message is None
            else {
                "code": self.error_code,
                "message": self.error_message,
                "time": self.error_time,
                "correlation_id": self.correlation_id,
                "request_id": self.request_id,
            },
            "warnings": list(self.warnings),
            "log_file": self.log_name,
            "log_partial": self.log_partial,
            "lines_requested": self.lines_requested,
            "log": self.text,
            "note": self.note,
            "matches": [m.to_json() for m in self.matches],
        }


def check_lines(lines: int) -> int:
    if not isinstance(lines, int) or isinstance(lines, bool) or not 1 <= lines <= MAX_LINES:
        raise InputError(f"--lines must be between 1 and {MAX_LINES}, not {lines!r}")
    return lines


def check_container(container: str) -> str:
    if container not in CONTAINERS:
        raise InputError(f"unknown container {container!r}", hint="use inference-server or storage-initializer")
    return container


def azureml_target(settings: Settings, target: str | None) -> AzureMLTarget:
    """The one [[azureml]] target to use: the named one, or the only one configured."""
    pairs = targets.pick(settings, "azureml", target)
    if len(pairs) > 1:
        names = ", ".join(t.name for _, t in pairs)
        raise InputError("several [[azureml]] targets are configured", hint=f"pick one with --target ({names})")
    chosen = pairs[0][1]
    assert isinstance(chosen, AzureMLTarget)
    return chosen


def _provider(settings: Settings, target: str | None, lang: str | None, overrides: dict[str, dict[str, Any]] | None,
              lines: int) -> Any:
    """Check what both log commands take (lines, target, language) before any call, then build the provider."""
    check_lines(lines)
    if target is not None:
        check_target_name(target)
    if lang is not None:
        check_lang(lang)
    t = azureml_target(settings, target)
    return get_provider("azureml", t, settings, lang=lang, **targets.overrides_for(overrides, "azureml"))


def deployment_logs(
    settings: Settings,
    endpoint: str,
    deployment: str,
    lines: int = 100,
    container: str = "inference-server",
    target: str | None = None,
    *,
    lang: str | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> DeploymentLogs:
    """The last `lines` lines of a deployment container's log, redacted and diagnosed."""
    endpoint = check_aml_endpoint_name(endpoint)
    deployment = check_aml_endpoint_name(deployment, "deployment")
    check_container(container)
    provider = _provider(settings, target, lang, overrides, lines)
    lang = provider.lang
    try:
        raw = provider.deployment_logs(endpoint, deployment, lines=lines, container=container)
    finally:
        provider.close()
    text = redact(raw)
    matches = diagnose_log(text, service="azureml", lang=lang)
    return DeploymentLogs(
        target=provider.target.name,
        workspace=provider.target.workspace,
        endpoint=endpoint,
        deployment=deployment,
        container=container,
        lines_requested=lines,
        text=text,
        matches=matches,
        lang=lang,
    )


def job_logs(
    settings: Settings,
    job_name: str,
    lines: int = 100,
    target: str | None = None,
    *,
    lang: str | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> JobLogs:
    """A job's error from run details and the tail of its user log, redacted and diagnosed."""
    job_name = check_aml_job_name(job_name)
    provider = _provider(settings, target, lang, overrides, lines)
    lang = provider.lang
    try:
        report = provider.job_report(job_name, lines=lines)
    finally:
        provider.close()
    error = report.error
    text = redact(report.log.text) if report.log else ""
    matches = diagnose_failure(redact(error.text).splitlines() if error else [], text, lang)
    return JobLogs(
        target=provider.target.name,
        workspace=provider.target.workspace,
        job=report.job,
        error_code=error.code if error else None,
        error_message=redact(error.message) if error else None,
        error_time=error.time if error else None,
        correlation_id=error.operation_id if error else None,
        request_id=error.request_id if error else None,
        warnings=[redact(w) for w in error.warnings] if error else [],
        log_name=report.log.name if report.log else None,
        log_partial=report.log.partial if report.log else False,
        text=text,
        note=report.note,
        lines_requested=lines,
        matches=matches,
        lang=lang,
    )
