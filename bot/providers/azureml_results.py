"""What the Azure ML provider returns (plain dataclasses, and the diagnosis of a failure),
importable without azure-ai-ml so commands and renderers stay fast."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.diagnosis import Diagnosis, diagnose_log
from bot.redact import redact


def iso(x: Any) -> str | None:
    return x.isoformat() if isinstance(x, datetime) else (str(x) if x else None)


@dataclass
class DeploymentIds:
    name: str
    endpoint: str
    id: str
    provisioning_state: str
    instance_type: str | None
    instance_count: int | None
    model: str | None
    traffic_percent: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "endpoint": self.endpoint,
            "id": self.id,
            "provisioning_state": self.provisioning_state,
            "instance_type": self.instance_type,
            "instance_count": self.instance_count,
            "model": self.model,
            "traffic_percent": self.traffic_percent,
        }


@dataclass
class EndpointIds:
    name: str
    id: str
    provisioning_state: str
    scoring_uri: str | None
    auth_mode: str | None
    location: str | None
    traffic: dict[str, int]
    deployments: list[DeploymentIds] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.id,
            "provisioning_state": self.provisioning_state,
            "scoring_uri": self.scoring_uri,
            "auth_mode": self.auth_mode,
            "location": self.location,
            "traffic": dict(self.traffic),
            "deployments": [d.to_json() for d in self.deployments],
        }


@dataclass
class JobIds:
    name: str
    status: str
    display_name: str | None
    experiment: str | None
    compute: str | None
    studio_url: str | None
    created_at: datetime | None
    created_by: str | None
    job_type: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "display_name": self.display_name,
            "experiment": self.experiment,
            "compute": self.compute,
            "studio_url": self.studio_url,
            "created_at": iso(self.created_at),
            "created_by": self.created_by,
            "type": self.job_type,
        }


@dataclass
class AzureMLIds:
    """What support asks for: workspace resource ID, endpoints and deployments, recent jobs."""

    target: str
    subscription_id: str
    resource_group: str
    workspace: str
    workspace_resource_id: str
    region: str | None
    endpoints: list[EndpointIds]
    jobs: list[JobIds] | None  # None: not looked up (ids for one endpoint)
    notes: list[str] = field(default_factory=list)
    service: str = "azureml"

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "target": self.target,
            "subscription_id": self.subscription_id,
            "resource_group": self.resource_group,
            "workspace": self.workspace,
            "workspace_resource_id": self.workspace_resource_id,
            "region": self.region,
            "endpoints": [e.to_json() for e in self.endpoints],
            "jobs": None if self.jobs is None else [j.to_json() for j in self.jobs],
            "notes": list(self.notes),
        }


@dataclass
class JobError:
    """A job's error from Run History run details, plus where its logs are."""

    status: str
    code: str
    message: str
    time: str | None
    operation_id: str | None
    request_id: str | None
    warnings: list[str]
    log_files: dict[str, str]  # name -> SAS URL; never shown (the URL is a credential)

    @property
    def text(self) -> str:
        """The error as a person would paste it, for diagnosis."""
        lines = [f"{self.code}: {self.message}" if self.code else self.message]
        lines += self.warnings
        return "\n".join(line for line in lines if line)


@dataclass
class LogTail:
    name: str | None  # which log file, e.g. user_logs/std_log.txt
    text: str  # raw; the caller redacts
    partial: bool = False  # read from the end of a big file, the first line may be cut


@dataclass
class JobReport:
    job: JobIds
    error: JobError | None
    log: LogTail | None
    note: str | None


@dataclass
class OperationError:
    status: str
    code: str
    message: str
    end_time: str | None


def diagnose_failure(error_lines: list[str], log: str, lang: str) -> list[Diagnosis]:
    """The error lines and the log tail in one pass, so the engine weighs all the evidence together
    (a log showing why init() crashed outranks the "Liveness probe failed" symptom in the error).

    The log is redacted first; evidence line numbers count the error lines, then the log.
    """
    text = "\n".join(line.replace("\n", " ") for line in error_lines if line)
    if log.strip():
        text = f"{text}\n{redact(log)}" if text else redact(log)
    return diagnose_log(text, service="azureml", lang=lang)
