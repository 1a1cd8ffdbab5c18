"""Azure ML workspaces through azure-ai-ml's MLClient: IDs, failed jobs and deployments, logs.

Reads only (docs/research/apis.md §2). Where things live:
- endpoints, deployments, jobs: ARM, through the SDK's public operations;
- a job's error and its log files: Run History run details (apis.md §2.3; the ARM job has no error);
- a failed deployment's error: the ARM async operation its `AzureAsyncOperationUri` property names;
  the cause is usually clearer in the container log (`getLogs`), so both are read.

`connect(target)` is the one seam: it returns the credential and HTTP transport MLClient talks
through. Tests replace it (or pass credential= and transport=) to replay recorded responses.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from azure.ai.ml import MLClient
from azure.core import PipelineClient
from azure.core.credentials import AccessToken
from azure.core.exceptions import AzureError
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
from azure.core.pipeline.transport import HttpTransport, RequestsTransport
from azure.core.rest import HttpRequest

from bot.config import AzureMLTarget, Settings
from bot.errors import CloudError, CloudNotFound, InputError
from bot.failures import Failure
from bot.identifiers import check_aml_endpoint_name, check_aml_job_name, did_you_mean
from bot.pool import pmap
from bot.providers.azureml_errors import Missing, first_line, not_json, translate
from bot.providers.azureml_results import (
    diagnose_failure,
    AzureMLIds,
    DeploymentIds,
    EndpointIds,
    JobError,
    JobIds,
    JobReport,
    LogTail,
    OperationError,
    iso,
)
from bot.redact import redact

CONTAINERS = {"inference-server": "InferenceServer", "storage-initializer": "StorageInitializer"}
"""`--container` values: the SDK's container_type (kebab-case) -> what goes on the wire."""
JOBS_SCANNED = 50  # the first jobs the service lists (newest first in practice); sorted again here
JOBS_SHOWN = 20
FAILED_JOBS_DIAGNOSED = 10
FAILURE_LOG_LINES = 200
LOG_FULL_READ_MAX = 8 * 1024 * 1024  # a bigger job log is read from its last LOG_TAIL_BYTES only
LOG_TAIL_BYTES = 2 * 1024 * 1024
WORKERS = 6
TIMEOUT_RETRIES = 1

# The SDK logs "Proceeding with no tenant id appended to studio URL" at INFO to its own stderr
# handler, and every failed call at ERROR (telemetry). We report errors ourselves, once.
for _name in list(logging.root.manager.loggerDict):
    if _name.startswith("azure.ai.ml"):
        logging.getLogger(_name).setLevel(logging.WARNING)
logging.getLogger("azure.ai.ml").addHandler(logging.NullHandler())  # no "last resort" printing to stderr


# ---- connection (the test seam) --------------------------------------------------------------


@dataclass
class Connection:
    """What MLClient talks through. Retries are azure-core's: 408/429/5xx and connection errors,
    exponential backoff up to retry_backoff_max, Retry-After honoured (a BoundedTransport caps it)."""

    credential: Any
    transport: HttpTransport
    retry_total: int = 3
    retry_backoff_factor: float = 0.8
    retry_backoff_max: float = 20.0
    timeout_s: float = 30.0
    owns_transport: bool = False


def connect(target: AzureMLTarget) -> Connection:
    """The production connection: DefaultAzureCredential and one requests transport bounded by timeout_s."""
    from azure.identity import DefaultAzureCredential

    transport = BoundedTransport(connection_timeout=min(10.0, target.timeout_s), read_timeout=target.timeout_s)
    credential = DefaultAzureCredential(authority=target.authority)  # sign-in host of the target's cloud
    return Connection(credential, transport, timeout_s=target.timeout_s, owns_transport=True)


def cloud_kwargs(target: AzureMLTarget) -> dict[str, Any]:
    """MLClient's cloud arguments: the national cloud, or a custom cloud whose Resource Manager is the override.

    azure-ai-ml keeps clouds in a process-wide table; a custom endpoint is registered under a name of
    its own (the cloud and the URL hashed), so two targets with different endpoints never mix.
    """
    if not target.resource_manager_endpoint:
        return {"cloud": target.cloud}
    from azure.ai.ml._azure_environments import _get_cloud  # the national cloud's other endpoints

    base = dict(_get_cloud(target.cloud))
    base["resource_manager"] = target.resource_manager_endpoint + "/"
    digest = hashlib.sha256(f"{target.cloud} {target.resource_manager_endpoint}".encode()).hexdigest()[:10]
    return {"cloud": f"triage-{target.cloud}-{digest}", "cloud_metadata": base}


class BoundedTransport(RequestsTransport):
    """azure-core's requests transport, but no retry wait is longer than `max_sleep` seconds.

    azure-core's RetryPolicy sleeps as long as a Retry-After header says; it sleeps through the
    transport, so capping here bounds every wait without sharing one policy object (a policy
    instance is chained into one pipeline and must not be shared by MLClient's ~20 clients).
    """

    def __init__(self, *args: Any, max_sleep: float = 20.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_sleep = max_sleep

    def sleep(self, duration: float) -> None:
        time.sleep(max(0.0, min(duration, self.max_sleep)))


class CachedCredential:
    """Caches tokens per scope: the SDK asks the credential for every job it lists (to read the
    tenant for studio URLs), and DefaultAzureCredential's Azure CLI step runs `az` for each ask."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._tokens: dict[tuple, AccessToken] = {}
        self._lock = threading.Lock()

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        if kwargs.get("claims"):  # a claims challenge must reach the real credential
            return self.inner.get_token(*scopes, **kwargs)
        key = (scopes, kwargs.get("tenant_id"))
        with self._lock:
            token = self._tokens.get(key)
            if token is None or token.expires_on - time.time() < 300:
                token = self._tokens[key] = self.inner.get_token(*scopes, **kwargs)
            return token


# ---- values ---------------------------------------------------------------------------------


def _value(x: Any) -> str:
    """Display form of the SDK's (str, Enum) states: 'Failed', not 'DeploymentProvisioningState.FAILED'."""
    return "" if x is None else str(getattr(x, "value", x))


def _created(job: Any) -> float:
    when = _when(getattr(getattr(job, "creation_context", None), "created_at", None))
    return when.timestamp() if when else 0.0


def _when(x: Any) -> datetime | None:
    if isinstance(x, datetime):
        return x
    if isinstance(x, str) and x:
        try:
            return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", x.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


# ---- the provider ----------------------------------------------------------------------------


class AzureMLProvider:
    """Read-only view of one Azure ML workspace."""

    service = "azureml"

    def __init__(self, target: AzureMLTarget, settings: Settings, *, lang: str | None = None, **overrides: Any) -> None:
        self._markers: list[Failure] = []
        known = {f.name for f in fields(Connection)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(f"unknown AzureMLProvider override(s): {', '.join(unknown)}")
        if {"credential", "transport"} <= overrides.keys():
            conn = Connection(**{"timeout_s": target.timeout_s, **overrides})
        else:
            conn = replace(connect(target), **overrides)
        self.target = target
        self.settings = settings
        self.lang = lang or settings.config.defaults.lang
        self.conn = conn
        self.credential = CachedCredential(conn.credential)
        # Each pipeline builds its own RetryPolicy from these (a policy instance cannot be shared).
        self.retry_kwargs: dict[str, Any] = {
            "retry_total": conn.retry_total,
            "retry_backoff_factor": conn.retry_backoff_factor,
            "retry_backoff_max": conn.retry_backoff_max,
            # a connect or read timeout is retried once: one call costs at most about twice timeout_s
            "retry_connect": TIMEOUT_RETRIES,
            "retry_read": TIMEOUT_RETRIES,
        }
        # Construction makes no network call and asks for no token (apis.md §2.1).
        self.ml = MLClient(
            self.credential,
            subscription_id=target.subscription_id,
            resource_group_name=target.resource_group,
            workspace_name=target.workspace,
            transport=conn.transport,
            show_progress=False,
            **cloud_kwargs(target),
            **self.retry_kwargs,
        )
        self._region = target.region
        self._runs_lock = threading.Lock()

    def close(self) -> None:
        if self.conn.owns_transport:
            self.conn.transport.close()

    def __enter__(self) -> "AzureMLProvider":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- contract --------------------------------------------------------------------------

    def ids(self, name: str | None = None) -> AzureMLIds:
        """Workspace resource ID, endpoints with their deployments, and (for the whole workspace) recent jobs."""
        notes: list[str] = []
        if name is not None:
            name = check_aml_endpoint_name(name)
            with self._cloud(f"reading endpoint {name!r}", missing=("endpoint", name, self._endpoint_names)):
                endpoints = [self.ml.online_endpoints.get(name)]
            jobs = None
        else:
            endpoints = self._endpoints(notes)
            jobs = self._recent_jobs()
        views = pmap(self._endpoint_view, endpoints, WORKERS)
        if self._region is None:
            self._region = next((e.location for e in views if e.location), None)
        return AzureMLIds(
            target=self.target.name,
            subscription_id=self.target.subscription_id,
            resource_group=self.target.resource_group,
            workspace=self.target.workspace,
            workspace_resource_id=self.target.workspace_resource_id,
            region=self._region,
            endpoints=views,
            jobs=[self._job_view(j) for j in jobs] if jobs is not None else None,
            notes=notes,
        )

    def failures(self) -> list[Failure]:
        """Failed deployments (configured endpoints, or all) and recent failed jobs, each diagnosed."""
        endpoints = self._endpoints([])
        if self._region is None:
            self._region = next((_value(getattr(e, "location", None)) or None for e in endpoints), None)
        deployments = [d for group in pmap(self._deployments_of, [e.name for e in endpoints], WORKERS) for d in group]
        failed_deps = [d for d in deployments if _value(d.provisioning_state) == "Failed"]
        self._markers = [m for m in map(self._deployment_marker, deployments) if m is not None]
        recent = self._recent_jobs(scan=JOBS_SCANNED)
        failed_jobs = [j for j in recent if _value(j.status) == "Failed"]
        failed_jobs = failed_jobs[:FAILED_JOBS_DIAGNOSED]
        history_down: CloudError | None = None
        if failed_jobs:
            try:
                self._warm_run_history()
            except CloudError as e:  # Run History is down: deployments (ARM) are still reported
                history_down = e
        out = pmap(self._deployment_failure, failed_deps, WORKERS)
        jobs = pmap(lambda j: self._job_failure(j, history_down), failed_jobs, WORKERS)
        for f, j in zip(jobs, failed_jobs):
            later = _later_success(j, recent)
            if later is not None:  # retrained: a later run of the same experiment completed
                f.details["recovered_by"] = later
        return out + jobs

    def watch_markers(self) -> list[Failure]:
        """Deployments of the last `failures()` call that are not failed now, under a failed deployment's
        identity: provisioned again (what recovered it, and when), or being re-provisioned."""
        return list(self._markers)

    def _deployment_marker(self, dep: Any) -> Failure | None:
        state = _value(dep.provisioning_state)
        if state == "Failed":
            return None
        key = f"{dep.endpoint_name}/{dep.name}"
        if state != "Succeeded":  # Creating, Updating, Scaling, Deleting, Canceled: not settled, not fixed
            details: dict[str, Any] = {"in_progress": state}
        else:
            ctx = getattr(dep, "creation_context", None)
            when = _when(getattr(ctx, "last_modified_at", None) or getattr(ctx, "created_at", None))
            at = f" at {when.isoformat(timespec='seconds')}" if when else ""
            details = {"recovered_by": f"deployment {key} provisioned again ({state}){at}"}
        return Failure(service=self.service, target=self.target.name, kind="deployment", key=key, status="Failed", details=details)

    def names(self) -> list[str]:
        """The workspace's online endpoints by name, live: what `ids` takes for one."""
        with self._cloud("listing online endpoints"):
            return sorted(e.name for e in self.ml.online_endpoints.list())

    def probe(self) -> str:
        """One cheap read: list the workspace's online endpoints."""
        with self._cloud("listing online endpoints"):
            count = len(list(self.ml.online_endpoints.list()))
        return f"Azure ML workspace {self.target.workspace}: can list online endpoints ({count} found)"

    # ---- logs ------------------------------------------------------------------------------

    def deployment_logs(self, endpoint: str, deployment: str, *, lines: int, container: str) -> str:
        """The last `lines` lines of a deployment container's log (raw; the caller redacts)."""
        endpoint = check_aml_endpoint_name(endpoint)
        deployment = check_aml_endpoint_name(deployment, "deployment")
        if container not in CONTAINERS:
            raise InputError(f"unknown container {container!r}", hint="use inference-server or storage-initializer")
        doing = f"reading the {container} log of {endpoint}/{deployment}"
        try:
            with self._cloud(doing):
                text = str(self.ml.online_deployments.get_logs(deployment, endpoint, lines, container_type=container))
        except CloudNotFound:
            raise self._not_found_deployment(endpoint, deployment) from None
        return tail(text, lines)  # the service tails too; this keeps the promise if it sends more

    def job_report(self, job_name: str, *, lines: int) -> JobReport:
        """A job's identity, its error from run details, and the tail of its user log when listed."""
        job_name = check_aml_job_name(job_name)
        with self._cloud(f"reading job {job_name!r}", missing=("job", job_name, self._job_names)):
            job = self.ml.jobs.get(job_name)
        view = self._job_view(job)
        notes: list[str] = []
        error: JobError | None = None
        log: LogTail | None = None
        try:
            self._warm_run_history()
            error = self._job_error(job_name)
        except CloudError as e:  # the ARM job is still worth showing; say why the error is missing
            notes.append(f"the job's run details could not be read (Run History): {_said(e)}")
        if error is not None and error.log_files:
            try:
                log = self._job_log_tail(error.log_files, lines)
            except CloudError as e:
                notes.append(f"the user log could not be downloaded: {e.message}")
        if log is None:
            notes.append(
                "find the user log in studio (the job → Outputs + logs → user_logs/std_log.txt), or run "
                f"`az ml job download --name {job_name} --all --download-path ./{job_name}-logs "
                f"-g {self.target.resource_group} -w {self.target.workspace}`"
            )
            if error is not None and not error.log_files:
                notes.insert(0, "run details list no log files for this job (the current runtime keeps them with the job's outputs)")
        note = "; ".join(notes) or None
        return JobReport(view, error if error and (error.code or error.message) else None, log, note)

    # ---- reads ------------------------------------------------------------------------------

    def _endpoints(self, notes: list[str]) -> list[Any]:
        with self._cloud("listing online endpoints"):
            endpoints = list(self.ml.online_endpoints.list())
        wanted = self.target.endpoints
        if not wanted:
            return endpoints
        names = {e.name for e in endpoints}
        for w in wanted:
            if w not in names:
                hint = did_you_mean(w, names)
                notes.append(f"configured endpoint {w!r} is not in workspace {self.target.workspace}" + (f"; {hint}" if hint else ""))
        return [e for e in endpoints if e.name in wanted]

    def _endpoint_names(self) -> list[str]:
        return [e.name for e in self.ml.online_endpoints.list()]

    def _deployments_of(self, endpoint: str) -> list[Any]:
        with self._cloud(f"listing deployments of {endpoint!r}", missing=("endpoint", endpoint, self._endpoint_names)):
            return list(self.ml.online_deployments.list(endpoint_name=endpoint))

    def _recent_jobs(self, scan: int = JOBS_SCANNED, shown: int = JOBS_SHOWN) -> list[Any]:
        """The newest jobs among the first `scan` the service lists, newest first."""
        with self._cloud("listing jobs"):
            jobs = [j for j in itertools.islice(self.ml.jobs.list(), scan) if j is not None]
        jobs.sort(key=_created, reverse=True)
        return jobs[:shown] if shown else jobs

    def _job_names(self) -> list[str]:
        return [j.name for j in self._recent_jobs(shown=0)]

    def _endpoint_view(self, ep: Any) -> EndpointIds:
        traffic = {k: int(v) for k, v in (ep.traffic or {}).items()}
        deps = self._deployments_of(ep.name)
        return EndpointIds(
            name=ep.name,
            id=ep.id or f"{self.target.workspace_resource_id}/onlineEndpoints/{ep.name}",
            provisioning_state=_value(ep.provisioning_state),
            scoring_uri=ep.scoring_uri,
            auth_mode=_value(getattr(ep, "auth_mode", None)) or None,
            location=getattr(ep, "location", None),
            traffic=traffic,
            deployments=[
                DeploymentIds(
                    name=d.name,
                    endpoint=ep.name,
                    id=d.id or f"{self.target.workspace_resource_id}/onlineEndpoints/{ep.name}/deployments/{d.name}",
                    provisioning_state=_value(d.provisioning_state),
                    instance_type=d.instance_type,
                    instance_count=d.instance_count,
                    model=d.model if isinstance(d.model, str) else getattr(d.model, "id", None),
                    traffic_percent=traffic.get(d.name),
                )
                for d in deps
            ],
        )

    def _job_view(self, job: Any) -> JobIds:
        ctx = getattr(job, "creation_context", None)
        return JobIds(
            name=job.name,
            status=_value(job.status),
            display_name=job.display_name,
            experiment=job.experiment_name,
            compute=getattr(job, "compute", None),
            studio_url=job.studio_url,
            created_at=_when(getattr(ctx, "created_at", None)),
            created_by=getattr(ctx, "created_by", None),
            job_type=type(job).__name__,
        )

    def _warm_run_history(self) -> None:
        """Resolve the Run History URL (workspace -> discovery) once, before threads race to do it."""
        with self._runs_lock, self._cloud("finding the workspace's Run History service"):
            try:
                self.ml.jobs._runs_operations  # noqa: B018 - the property makes the two discovery calls
            except (KeyError, TypeError, ValueError):  # the SDK indexes a failed discovery answer
                raise CloudError(
                    "the workspace's Run History service could not be found: the workspace discovery service "
                    "did not give its address (it may be failing)",
                    hint="job errors and logs live in Run History; try again later, or open the job in studio",
                ) from None

    def _job_error(self, job_name: str) -> JobError:
        # Private but documented route (apis.md §2.3): the public one, jobs.stream(), prints to
        # stdout and raises the same error as text.
        with self._cloud(f"reading run details of job {job_name!r}", missing=("job", job_name, self._job_names)):
            details = self.ml.jobs._runs_operations.get_run_details(job_name)
        wrapper = getattr(details, "error", None)
        root = getattr(wrapper, "error", None)
        correlation = getattr(wrapper, "correlation", None) or {}
        warnings = [w.message for w in (getattr(details, "warnings", None) or []) if getattr(w, "message", None)]
        return JobError(
            status=_value(getattr(details, "status", "")),
            code=str(getattr(root, "code", "") or ""),
            message=str(getattr(root, "message", "") or ""),
            time=iso(getattr(wrapper, "time", None)),
            operation_id=correlation.get("operation"),
            request_id=correlation.get("request"),
            warnings=warnings,
            log_files=dict(getattr(details, "log_files", None) or {}),
        )

    def _job_log_tail(self, log_files: dict[str, str], lines: int) -> LogTail | None:
        name = pick_user_log(log_files)
        if name is None:
            return None
        text, partial = self._download_tail(log_files[name], f"downloading {name}")
        return LogTail(name, tail(text, lines), partial)

    def _download_tail(self, sas_url: str, doing: str) -> tuple[str, bool]:
        """A blob's text through its SAS URL (no bearer token: the URL is the credential).

        A log bigger than LOG_FULL_READ_MAX is read from its last LOG_TAIL_BYTES only (a ranged
        GET); without a Content-Length the stream is read keeping only its last bytes. Either way
        the cut first line is dropped.
        """
        client = PipelineClient(base_url="", transport=self.conn.transport, policies=[RetryPolicy(**self.retry_kwargs)])
        with self._cloud(doing):
            resp = client.send_request(HttpRequest("GET", sas_url), stream=True)
            resp.raise_for_status()
            size = int(resp.headers.get("Content-Length") or 0)
            if size > LOG_FULL_READ_MAX:
                resp.close()
                ranged = HttpRequest("GET", sas_url, headers={"x-ms-range": f"bytes={size - LOG_TAIL_BYTES}-{size - 1}"})
                resp = client.send_request(ranged, stream=True)
                resp.raise_for_status()
                data, cut = _last_bytes(resp.iter_bytes(), LOG_TAIL_BYTES)[0], True
            else:
                data, cut = _last_bytes(resp.iter_bytes(), LOG_FULL_READ_MAX)
        text = data.decode("utf-8", "replace")
        if cut and "\n" in text:
            text = text.split("\n", 1)[1]
        return text, cut

    def _operation_error(self, dep: Any) -> OperationError | None:
        """The error of the deployment's last ARM operation, if ARM still has it."""
        uri = (getattr(dep, "properties", None) or {}).get("AzureAsyncOperationUri")
        arm = urlsplit(self.target.arm_endpoint)
        if not uri or urlsplit(uri).scheme != "https" or urlsplit(uri).netloc.lower() != arm.netloc.lower():
            return None  # the bearer token goes to this cloud's Resource Manager only
        client = PipelineClient(
            base_url="",
            transport=self.conn.transport,
            policies=[RetryPolicy(**self.retry_kwargs), BearerTokenCredentialPolicy(self.credential, self.target.arm_scope)],
        )
        with self._cloud(f"reading the last operation of deployment {dep.name!r}"):
            resp = client.send_request(HttpRequest("GET", uri))
            if resp.status_code == 404:
                return None  # ARM keeps operation results for a limited time
            resp.raise_for_status()
            body = resp.json()
        error = body.get("error") or {}
        return OperationError(
            status=str(body.get("status") or ""),
            code=str(error.get("code") or ""),
            message=str(error.get("message") or ""),
            end_time=body.get("endTime"),
        )

    # ---- failures ---------------------------------------------------------------------------

    def _base_fields(self) -> dict[str, str]:
        out = {
            "subscription_id": self.target.subscription_id,
            "resource_group": self.target.resource_group,
            "workspace": self.target.workspace,
        }
        if self._region:
            out["region"] = self._region
        return out

    def _deployment_failure(self, dep: Any) -> Failure:
        notes: list[str] = []
        op = None
        try:
            op = self._operation_error(dep)
        except CloudError as e:
            notes.append(f"the deployment's last operation (Resource Manager) could not be read: {_said(e)}")
        log_text, container = "", None
        for c in CONTAINERS:  # inference-server first; storage-initializer when that one is empty
            try:
                log_text = self.deployment_logs(dep.endpoint_name, dep.name, lines=FAILURE_LOG_LINES, container=c)
            except CloudError as e:
                notes.append(f"the {c} container log could not be read: {e.message}")
                break
            if log_text.strip():
                container = c
                break
        code = op.code if op else ""
        message = op.message if op else ""
        matches = diagnose_failure([f"{code}: {message}" if code else message], log_text, self.lang)
        fields = self._base_fields() | {
            "endpoint": dep.endpoint_name,
            "deployment": dep.name,
            "error_code": code,
            "error_message": message or "deployment provisioning state is Failed",
        }
        if dep.instance_type:
            fields["instance_type"] = dep.instance_type
        if dep.instance_count is not None:
            fields["instance_count"] = str(dep.instance_count)
        for name, value in (("model", dep.model), ("environment", dep.environment)):
            if value:
                fields[name] = value if isinstance(value, str) else str(getattr(value, "id", "") or "")
        excerpt = tail(redact(log_text), 30)  # redact the whole log first: a cut must not split a PEM block
        if excerpt:
            fields["log_excerpt"] = excerpt
        if op and op.end_time:
            fields["failure_time"] = op.end_time
        return Failure(
            service=self.service,
            target=self.target.name,
            kind="deployment",
            key=f"{dep.endpoint_name}/{dep.name}",
            status="Failed",
            message=redact(f"deployment {dep.endpoint_name}/{dep.name} failed" + (f": {code}: {message}" if code else "")),
            occurred_at=_when(op.end_time) if op else None,
            fields={k: redact(v) for k, v in fields.items() if v},
            matches=matches,
            log_excerpt=excerpt,
            details={"container": container, "operation": op.__dict__ if op else None, "notes": notes},
        )

    def _job_failure(self, job: Any, history_down: CloudError | None = None) -> Failure:
        view = self._job_view(job)
        notes: list[str] = []
        error: JobError | None = None
        log: LogTail | None = None
        if history_down is not None:
            notes.append(f"the job's run details could not be read (Run History): {_said(history_down)}")
        else:
            try:
                error = self._job_error(job.name)
            except CloudError as e:
                notes.append(f"the job's run details could not be read (Run History): {_said(e)}")
            if error is not None and error.log_files:
                try:
                    log = self._job_log_tail(error.log_files, FAILURE_LOG_LINES)
                except CloudError as e:
                    notes.append(f"the job's user log could not be downloaded: {e.message}")
        matches = diagnose_failure(error.text.splitlines() if error else [], log.text if log else "", self.lang)
        fields = self._base_fields() | {
            "job_name": view.name,
            "experiment": view.experiment or "",
            "compute": view.compute or "",
            "studio_url": view.studio_url or "",
        }
        if error:
            fields |= {
                "error_code": error.code,
                "error_message": error.message,
                "failure_time": error.time or "",
                "correlation_id": error.operation_id or "",
                "request_id": error.request_id or "",
            }
        excerpt = tail(redact(log.text), 30) if log else ""
        if excerpt:
            fields["log_excerpt"] = excerpt
        summary = f"job {view.name} ({view.display_name or view.experiment or 'job'}) failed"
        if error and error.code:
            summary += f": {error.code}: {first_line(error.message)}"
        elif error is None:
            summary += "; its run details could not be read, so the cause is not known"
        return Failure(
            service=self.service,
            target=self.target.name,
            kind="job",
            key=view.name,
            status="Failed",
            message=redact(summary),
            occurred_at=_when(error.time) if error and error.time else view.created_at,
            fields={k: redact(v) for k, v in fields.items() if v},
            matches=matches,
            log_excerpt=excerpt,
            details={"display_name": view.display_name, "log_file": log.name if log else None, "notes": notes},
        )

    # ---- errors ----------------------------------------------------------------------------

    def _not_found_deployment(self, endpoint: str, deployment: str) -> CloudError:
        """A 404 on endpoint/deployment: say which one is missing and what exists."""
        try:
            endpoints = self._endpoint_names()
            if endpoint not in endpoints:
                return CloudNotFound(
                    f"endpoint {endpoint!r} not found in workspace {self.target.workspace}",
                    hint=did_you_mean(endpoint, endpoints) or "the workspace has no online endpoints",
                )
            names = [d.name for d in self._deployments_of(endpoint)]
        except CloudError as e:
            return e
        return CloudNotFound(
            f"deployment {deployment!r} not found on endpoint {endpoint!r}",
            hint=did_you_mean(deployment, names) or f"endpoint {endpoint!r} has no deployments",
        )

    @contextmanager
    def _cloud(
        self, doing: str, *, missing: Missing | None = None) -> Iterator[None]:
        """Translate azure-core / azure-ai-ml errors raised inside into named CloudErrors."""
        try:
            yield
        except CloudError:
            raise
        except AzureError as e:
            raise translate(e, doing=doing, target=self.target, missing=missing, retries=self.conn.retry_total) from None
        except json.JSONDecodeError:  # the SDK parses a 2xx body itself: an HTML page ends here
            raise not_json(doing, self.target) from None


# ---- helpers ---------------------------------------------------------------------------------


def _said(e: CloudError) -> str:
    """An error and its hint on one line, for a note."""
    return e.message + (f" (hint: {e.hint})" if e.hint else "")

_USER_LOG_ORDER = [
    re.compile(r"^user_logs/std_log[\D]*[0]*(?:_ps)?\.txt$"),  # the primary node's user log
    re.compile(r"^user_logs/std_log.*\.txt$"),
    re.compile(r"^azureml-logs/70_driver_log[\D]*[0]*\.txt$"),  # legacy runtime
    re.compile(r"^azureml-logs/\d{2}.+\.txt$"),
    re.compile(r"^logs/azureml/executionlogs\.txt$"),  # pipeline
]


def pick_user_log(log_files: Iterable[str]) -> str | None:
    """The log file a person reads first, from run details' logFiles (the SDK's stream order)."""
    names = sorted(log_files)
    for i, pattern in enumerate(_USER_LOG_ORDER):
        found = [n for n in names if pattern.match(n)]
        if found:
            # among legacy azureml-logs/NN_*.txt without a driver log, the highest NN is the latest phase
            return found[-1] if i == 3 else found[0]
    return None


def tail(text: str, lines: int) -> str:
    """The last `lines` lines of text."""
    if not text:
        return ""
    kept = deque(text.splitlines(), maxlen=lines)
    return "\n".join(kept) + ("\n" if kept else "")


def _last_bytes(chunks: Iterable[bytes], keep: int) -> tuple[bytes, bool]:
    """The last `keep` bytes of a stream, memory bounded; and whether anything was dropped."""
    buf = bytearray()
    dropped = False
    for chunk in chunks:
        buf += chunk
        if len(buf) > 2 * keep:
            del buf[: len(buf) - keep]
            dropped = True
    if len(buf) > keep:
        del buf[: len(buf) - keep]
        dropped = True
    return bytes(buf), dropped


def _later_success(job: Any, recent: list[Any]) -> str | None:
    """'run NAME of experiment E completed' for the first run of the same experiment created after
    `job` that completed, else None."""
    experiment, created = getattr(job, "experiment_name", None), _created(job)
    if not experiment or not created:
        return None
    done = [r for r in recent if getattr(r, "experiment_name", None) == experiment and _value(r.status) == "Completed" and _created(r) > created]
    if not done:
        return None
    r = min(done, key=_created)
    return f"run {r.name!r} of experiment {experiment!r} completed (started {datetime.fromtimestamp(_created(r), timezone.utc).isoformat(timespec='seconds')})"
