"""Amazon Rekognition Custom Labels through boto3: projects, model versions, and what a failed
training left in S3 (manifest summary, validation manifests)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSOError,
    TokenRetrievalError,
)

from bot.config import RekognitionTarget, Settings
from bot.errors import (
    CloudAuthError,
    CloudError,
    CloudNotFound,
    CloudThrottled,
    CloudTimeout,
    ConfigError,
    InputError,
    TriageError,
)
from bot.failures import Failure
from bot.identifiers import check_rekognition_project_name, did_you_mean, is_arn, parse_rekognition_arn
from bot.pool import pmap
from bot import manifests
from bot.manifests.codes import INVALID_SHARE_LIMIT, playbook_id
from bot.providers.findings import diagnose_lines, merge, playbook_match, playbook_title
from bot.providers.retry import TIMEOUT_ATTEMPTS, Retry, RetryPolicy, body_summary, call_with_retry

T = TypeVar("T")

TRAINED = {"TRAINING_COMPLETED", "STARTING", "RUNNING", "STOPPING", "STOPPED", "COPYING_COMPLETED", "DEPRECATED"}
"""Statuses of a model version that finished training (a later one of these recovers a failed training)."""
FAILED = ("TRAINING_FAILED", "FAILED", "COPYING_FAILED")
MAX_ATTEMPTS = 4
STATUS_PAGE = "https://health.aws.amazon.com/health/status"
PROJECT_WORKERS = 4
STREAM_BUFFER = 1 << 20
TOP_LINE_ERRORS = 5
_AUTH_CODES = {
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "InvalidClientTokenId",
    "InvalidAccessKeyId",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidToken",
    "MissingAuthenticationToken",
}
_DENIED_CODES = {"AccessDeniedException", "AccessDenied", "AllAccessDisabled", "Forbidden"}
_THROTTLE_CODES = {
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
}
_NOT_FOUND_CODES = {"ResourceNotFoundException", "NoSuchKey", "NoSuchBucket", "NotFound", "404"}


@dataclass
class VersionIds:
    name: str
    arn: str
    status: str
    created: str | None
    status_message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version_arn": self.arn,
            "status": self.status,
            "created": self.created,
            "status_message": self.status_message,
        }


@dataclass
class ProjectIds:
    name: str
    arn: str
    status: str
    created: str | None
    versions: list[VersionIds] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "project_arn": self.arn,
            "status": self.status,
            "created": self.created,
            "versions": [v.to_json() for v in self.versions],
        }


@dataclass
class RekognitionIds:
    """Project ARNs and model (project version) ARNs with their status."""

    target: str
    region: str
    projects: list[ProjectIds]
    service: str = "rekognition"

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "target": self.target,
            "region": self.region,
            "projects": [p.to_json() for p in self.projects],
        }


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else (str(value) if value else None)


def _s3_uri(obj: dict[str, Any] | None) -> str | None:
    if not obj or not obj.get("Bucket") or not obj.get("Name"):
        return None
    return f"s3://{obj['Bucket']}/{obj['Name']}"


def _assets(result: dict[str, Any] | None, part: str) -> list[dict[str, Any]]:
    """S3Objects of TrainingDataResult/TestingDataResult.<part>.Assets[].GroundTruthManifest."""
    assets = ((result or {}).get(part) or {}).get("Assets") or []
    return [a["GroundTruthManifest"]["S3Object"] for a in assets if a.get("GroundTruthManifest", {}).get("S3Object")]


class RekognitionProvider:
    """Read-only view of the Custom Labels projects of one AWS account and region."""

    service = "rekognition"

    def __init__(
        self,
        target: RekognitionTarget,
        settings: Settings,
        *,
        client: Any = None,
        s3_client: Any = None,
        session: Any = None,
        lang: str | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.target = target
        self.retry = retry or RetryPolicy(attempts=max_attempts)
        self.settings = settings
        self.lang = lang or settings.config.defaults.lang
        # botocore does not retry: our policy does, so a timeout is retried once (not four times)
        # and the error can say how many requests were made.
        config = Config(
            retries={"mode": "standard", "total_max_attempts": 1},
            connect_timeout=min(10.0, target.timeout_s),
            read_timeout=target.timeout_s,
            user_agent_extra="triage",
        )
        if client is None or s3_client is None:
            try:
                session = session or boto3.Session(profile_name=target.profile, region_name=target.region)
            except ProfileNotFound:
                raise ConfigError(
                    f"rekognition target {target.name!r}: AWS profile {target.profile!r} not found",
                    hint="check `profile` in triage.toml against ~/.aws/config (aws configure list-profiles)",
                ) from None
        # endpoint_url None lets boto3 apply AWS_ENDPOINT_URL_REKOGNITION / AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL.
        self.client = client or session.client(
            "rekognition", region_name=target.region, endpoint_url=target.endpoint_url, config=config
        )
        self.s3 = s3_client or session.client(
            "s3", region_name=target.region, endpoint_url=target.s3_endpoint_url, config=config
        )
        self.client.meta.events.register("after-call.rekognition", _require_json)

    # ---- calls and their faults ------------------------------------------------------------

    def _call(self, what: str, action: str, fn: Callable[[], T], *, retry: bool = True) -> T:
        """Run one AWS call, retried by our bounded policy when `retry`; translate what it raises."""
        if not retry:
            return self._once(what, action, fn, lambda r: r.error)
        return call_with_retry(lambda: self._once(what, action, fn, lambda r: r), self.retry)

    def _once(self, what: str, action: str, fn: Callable[[], T], transient: Callable[[Retry], Exception]) -> T:
        try:
            return fn()
        except ClientError as e:
            fault = self._client_fault(e, what, action)
            raise (transient(fault) if isinstance(fault, Retry) else fault) from None
        except _NotJson as e:
            raise CloudError(
                f"the answer to {what} is not JSON (HTTP {e.status}, {e.describe}): it did not come from Rekognition",
                hint="a proxy or a wrong endpoint answered: check endpoint_url for this target (or AWS_ENDPOINT_URL*) "
                "and the proxy settings (HTTPS_PROXY, NO_PROXY)",
            ) from None
        except NoCredentialsError:
            raise CloudAuthError(
                f"no AWS credentials found to {what}",
                hint=f"set `profile` for target {self.target.name!r}, export AWS_PROFILE or AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY, or run where an instance/task role is available",
            ) from None
        except (PartialCredentialsError, CredentialRetrievalError, TokenRetrievalError, SSOError) as e:
            raise CloudAuthError(
                f"AWS credentials could not be loaded to {what}: {e}",
                hint="for an SSO profile run `aws sso login --profile <profile>`",
            ) from None
        except (ConnectTimeoutError, ReadTimeoutError):
            raise transient(Retry(CloudTimeout(
                f"AWS did not answer within {self.target.timeout_s:g} s ({what}, region {self.target.region})",
                hint="try again; raise timeout_s for this target if it keeps happening",
            ), limit=TIMEOUT_ATTEMPTS)) from None
        except EndpointConnectionError as e:
            raise transient(Retry(CloudError(
                f"cannot reach AWS to {what}: {e}",
                hint="check the region (Custom Labels is not in every region), endpoint_url and the network",
            ), limit=TIMEOUT_ATTEMPTS)) from None
        except BotoCoreError as e:
            raise CloudError(f"AWS call failed ({what}): {e}") from None

    def _client_fault(self, e: ClientError, what: str, action: str) -> CloudError | Retry:
        err = e.response.get("Error", {})
        code = str(err.get("Code", ""))
        message = str(err.get("Message", "")) or code
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        detail = f"{code}: {message}" if code and code != message else message
        if status and (not code or code == str(status)):
            detail = f"HTTP {status}" + (f": {message}" if message and message != code else "")
        if code in _DENIED_CODES or status == 403 and code not in _AUTH_CODES:
            return CloudAuthError(
                f"not allowed to {what}: the AWS identity lacks {action} ({detail})",
                hint=f"allow {action} for the IAM principal triage runs as (read-only is enough)",
            )
        if code in _AUTH_CODES:
            return CloudAuthError(
                f"AWS rejected the credentials ({detail})",
                hint="check the profile or access keys for this account; refresh an expired session "
                "(`aws sso login`) and check the region",
            )
        if code in _NOT_FOUND_CODES or status == 404:
            if action.startswith("s3:"):
                hint = ("the object is not in the bucket any more: Custom Labels writes it once under the model's "
                        "output location; a lifecycle rule or a cleanup may have removed it")
            else:
                hint = (f"check the name or ARN and the region {self.target.region} "
                        "(`triage ids rekognition` lists the projects and models this target sees)")
            return CloudNotFound(f"not found: {what} ({detail})", hint=hint)
        if code in _THROTTLE_CODES or status == 429:
            return Retry(CloudThrottled(
                f"AWS kept throttling ({detail}) while trying to {what}",
                hint="try again in a minute; Custom Labels Describe* calls share a per-account rate limit",
            ))
        if status and status >= 500:
            return Retry(CloudError(
                f"AWS failed to {what} ({detail}); it kept failing after retries",
                hint=f"the service is failing, not your setup: check {STATUS_PAGE} and try again later",
            ))
        return CloudError(f"AWS refused to {what} ({detail})",
                          hint="the request was rejected as sent; the message above says which part")

    # ---- reads --------------------------------------------------------------------------------

    def _projects_named(self, names: list[str] | None) -> list[dict[str, Any]]:
        """DescribeProjects, all pages; filtered by up to 10 names per call when names are given."""
        batches: list[dict[str, Any]] = [{}] if not names else [
            {"ProjectNames": names[i : i + 10]} for i in range(0, len(names), 10)
        ]
        out: list[dict[str, Any]] = []
        for params in batches:
            pages = self.client.get_paginator("describe_projects").paginate(**params)
            out += self._call(
                "list Custom Labels projects",
                "rekognition:DescribeProjects",
                lambda: [p for page in pages for p in page.get("ProjectDescriptions", [])],
            )
        return out

    def _versions(self, project_arn: str) -> list[dict[str, Any]]:
        pages = self.client.get_paginator("describe_project_versions").paginate(ProjectArn=project_arn)
        return self._call(
            f"list models of {project_arn}",
            "rekognition:DescribeProjectVersions",
            lambda: [v for page in pages for v in page.get("ProjectVersionDescriptions", [])],
        )

    def _wanted(self, items: list[str]) -> tuple[list[str], list[str]]:
        """Split configured/typed projects into names and ARNs, checking each before any call."""
        names, arns = [], []
        for item in items:
            if is_arn(item):
                arn = parse_rekognition_arn(item)
                if arn.region != self.target.region:
                    raise InputError(
                        f"{item} is in region {arn.region}, but target {self.target.name!r} is {self.target.region}",
                        hint=f"use a [[rekognition]] target with region = {arn.region!r}",
                    )
                arns.append(arn.arn)
                names.append(arn.project)
            else:
                names.append(check_rekognition_project_name(item))
        return list(dict.fromkeys(names)), arns

    def _select(self, items: list[str]) -> list[dict[str, Any]]:
        """The projects named (by name, project ARN or model ARN), or all; unknown ones with suggestions."""
        names, arns = self._wanted(items)
        if not items:
            return self._projects_named(None)
        by_name = {_name(p["ProjectArn"]): p for p in self._projects_named(names)}
        missing = [n for n in names if n not in by_name]
        if missing:
            existing = [_name(p["ProjectArn"]) for p in self._projects_named(None)]
            hints = [f"{m!r}: {did_you_mean(m, existing) or 'no projects in this region'}" for m in missing]
            raise CloudNotFound(
                f"no Custom Labels project {', '.join(repr(m) for m in missing)} in {self.target.region} "
                f"(target {self.target.name!r})",
                hint="; ".join(hints),
            )
        for arn in arns:
            parsed = parse_rekognition_arn(arn)
            current = by_name[parsed.project]["ProjectArn"]
            if not parsed.is_version and current != arn:
                raise CloudNotFound(
                    f"no Custom Labels project with ARN {arn}",
                    hint=f"project {parsed.project!r} now has ARN {current} (deleted and created again?)",
                )
        return [by_name[n] for n in names]

    # ---- the provider contract ----------------------------------------------------------------

    def ids(self, name: str | None = None) -> RekognitionIds:
        """Project ARN and model versions (ARN, status, created); one project (name or ARN) or all configured."""
        projects = self._select([name] if name else list(self.target.projects))
        views = pmap(self._project_view, projects, PROJECT_WORKERS)
        return RekognitionIds(self.target.name, self.target.region, views)

    def names(self) -> list[str]:
        """The region's Custom Labels projects by name, live: what `ids` takes for one."""
        return sorted(_name(p["ProjectArn"]) for p in self._projects_named(None))

    def failures(self) -> list[Failure]:
        """Models that failed to train, run or copy, diagnosed; failed trainings with their S3 validation results."""
        projects = self._select(list(self.target.projects))
        found = pmap(self._project_failures, projects, PROJECT_WORKERS)
        return [f for group in found for f in group]

    def probe(self) -> str:
        resp = self._call(
            "list Custom Labels projects",
            "rekognition:DescribeProjects",
            lambda: self.client.describe_projects(MaxResults=1),
        )
        more = " (more exist)" if resp.get("NextToken") else ""
        n = len(resp.get("ProjectDescriptions", []))
        return f"Rekognition {self.target.region}: DescribeProjects allowed, {n} project(s) seen{more}"

    # ---- views ----------------------------------------------------------------------------------

    def _project_view(self, p: dict[str, Any]) -> ProjectIds:
        versions = [
            VersionIds(
                name=_version_name(v["ProjectVersionArn"]),
                arn=v["ProjectVersionArn"],
                status=v.get("Status", ""),
                created=_iso(v.get("CreationTimestamp")),
                status_message=v.get("StatusMessage", ""),
            )
            for v in self._versions(p["ProjectArn"])
        ]
        versions.sort(key=lambda v: v.created or "", reverse=True)
        return ProjectIds(_name(p["ProjectArn"]), p["ProjectArn"], p.get("Status", ""), _iso(p.get("CreationTimestamp")), versions)

    def _project_failures(self, p: dict[str, Any]) -> list[Failure]:
        versions = self._versions(p["ProjectArn"])
        found = [self._failure(p, v) for v in versions if v.get("Status") in FAILED]
        trained = [v for v in versions if v.get("Status") in TRAINED and v.get("CreationTimestamp")]
        for f, v in zip(found, [v for v in versions if v.get("Status") in FAILED]):
            if v.get("Status") != "TRAINING_FAILED" or not v.get("CreationTimestamp"):
                continue
            later = sorted((t for t in trained if t["CreationTimestamp"] > v["CreationTimestamp"]), key=lambda t: t["CreationTimestamp"])
            if later:  # retrained: a newer version of the same project trained
                t = later[0]
                when = _iso(t.get("TrainingEndTimestamp") or t.get("CreationTimestamp"))
                f.details["recovered_by"] = f"model version {_version_name(t['ProjectVersionArn'])!r} trained ({t['Status']}) at {when}"
        return found

    def _failure(self, project: dict[str, Any], v: dict[str, Any]) -> Failure:
        arn = parse_rekognition_arn(v["ProjectVersionArn"])
        status, message = v.get("Status", ""), v.get("StatusMessage", "")
        lines = [f"ProjectVersionArn: {v['ProjectVersionArn']}", f"Status: {status}", f"StatusMessage: {message}"]
        details: dict[str, Any] = {"project_name": arn.project, "version_name": arn.version}
        fields = {
            "project_arn": project["ProjectArn"],
            "version_arn": v["ProjectVersionArn"],
            "region": self.target.region,
            "aws_account_id": arn.account,
            "status_message": message,
        }
        when = v.get("TrainingEndTimestamp") or v.get("CreationTimestamp")
        if when:
            fields["failure_time"] = _iso(when) or ""
        out = v.get("OutputConfig") or {}
        if out.get("S3Bucket"):
            fields["output_location"] = f"s3://{out['S3Bucket']}/{out.get('S3KeyPrefix', '')}"
        given = _assets(v.get("TrainingDataResult"), "Input") + _assets(v.get("TestingDataResult"), "Input")
        inputs = [u for u in map(_s3_uri, given) if u]
        if inputs:
            fields["manifest_location"] = ", ".join(inputs)
        if v.get("KmsKeyId"):
            fields["kms_key"] = v["KmsKeyId"]
        extra: list[Any] = []
        if status == "TRAINING_FAILED":
            report = self._training_outputs(v)
            details["manifest"] = report
            lines += report.pop("_lines", [])
            extra = report.pop("_matches", [])
            if report.get("summary"):
                fields["manifest_summary"] = report["summary_line"]
                codes = [e["code"] for e in report["summary"]["terminal_errors"]]
                if codes:
                    fields["error_code"] = codes[0]
            if report.get("validation_locations"):
                fields["validation_manifest"] = ", ".join(report["validation_locations"])
        matches = merge(diagnose_lines(lines, "rekognition", self.lang), extra)
        return Failure(
            service=self.service,
            target=self.target.name,
            kind="model",
            key=v["ProjectVersionArn"],
            status=status,
            message=message,
            occurred_at=when if isinstance(when, datetime) else None,
            fields=fields,
            matches=matches,
            log_excerpt="\n".join(lines),
            details=details,
        )

    # ---- S3: manifest summary and validation manifests ---------------------------------------

    def _open(self, obj: dict[str, Any], what: str) -> io.BufferedReader:
        """An S3 object as a buffered binary stream; read faults are translated like call faults."""
        uri = _s3_uri(obj) or "?"
        params = {"Bucket": obj["Bucket"], "Key": obj["Name"]}
        if obj.get("Version"):
            params["VersionId"] = obj["Version"]
        resp = self._call(f"read the {what} {uri}", "s3:GetObject", lambda: self.s3.get_object(**params))
        # a body half read cannot be asked again: stream reads are not retried
        raw = _S3Raw(resp["Body"], lambda fn: self._call(f"read the {what} {uri}", "s3:GetObject", fn, retry=False))
        return io.BufferedReader(raw, STREAM_BUFFER)

    def _training_outputs(self, v: dict[str, Any]) -> dict[str, Any]:
        """Summary totals and invalid share, commonest line errors with playbooks; partial when S3 refuses."""
        report: dict[str, Any] = {"summary": None, "line_errors": [], "validation": {}, "problems": []}
        lines: list[str] = []
        matches: list[Any] = []
        summary_obj = (v.get("ManifestSummary") or {}).get("S3Object")
        if not summary_obj:
            report["problems"].append(
                "no manifest_summary.json: validation results are written only when there was no terminal "
                "manifest file error, so the StatusMessage names the cause"
            )
        else:
            report["summary_location"] = _s3_uri(summary_obj)
            try:
                with self._open(summary_obj, "manifest summary") as stream:
                    data = stream.read(manifests.MAX_SUMMARY_BYTES + 1)
                if len(data) > manifests.MAX_SUMMARY_BYTES:
                    raise CloudError(f"{report['summary_location']} is over {manifests.MAX_SUMMARY_BYTES >> 20} MB; "
                                     "not a manifest summary")
                summary = manifests.parse_summary(data)
            except TriageError as e:
                report["problems"].append(e.message)
            else:
                report["summary"] = summary.to_json()
                report["summary_line"] = _summary_line(summary)
                shares = [
                    f"{d.name}: {d.invalid_json_lines} of {d.total_json_lines} JSON lines invalid "
                    f"({d.invalid_share:.1%}; training stops above {INVALID_SHARE_LIMIT:.0%})"
                    for d in summary.datasets
                    if d.invalid_share is not None and d.invalid_json_lines
                ]
                for issue in summary.terminal:
                    where = "manifest_summary.json" + ("" if issue.scope == "both" else f" {issue.scope}")
                    lines.append(f"{where}: {issue.code}: {issue.message}")
                    evidence = [f"{where}: {issue.code}: {issue.message}"] + shares  # same text as the diagnosed line
                    matches.append(playbook_match(playbook_id(issue.code), evidence, 90, self.lang))
        rows: list[dict[str, Any]] = []
        for dataset, result in (("training", v.get("TrainingDataResult")), ("testing", v.get("TestingDataResult"))):
            for obj in _assets(result, "Validation"):
                uri = _s3_uri(obj) or "?"
                try:
                    with self._open(obj, "validation manifest") as stream:
                        checked = manifests.analyse(stream)
                except TriageError as e:
                    report["problems"].append(e.message)
                    continue
                report["validation"][uri] = {
                    "dataset": dataset,
                    "lines": checked.lines,
                    "valid": checked.valid,
                    "invalid": checked.invalid,
                    "ignored": checked.ignored,
                    "invalid_share": round(checked.invalid_share, 4) if checked.invalid_share is not None else None,
                }
                for stat in checked.errors[:TOP_LINE_ERRORS]:
                    pid = playbook_id(stat.code)
                    rows.append({
                        "code": stat.code,
                        "dataset": dataset,
                        "lines": stat.lines,
                        "count": stat.count,
                        "message": stat.message,
                        "example_lines": [s.line for s in stat.samples],
                        "playbook": pid,
                        "title": playbook_title(pid, self.lang),
                        "location": uri,
                    })
        rows.sort(key=lambda r: (-r["lines"], r["code"], r["dataset"]))
        report["line_errors"] = rows[:TOP_LINE_ERRORS]
        report["validation_locations"] = list(report["validation"])
        report["_lines"], report["_matches"] = lines, matches
        return report


class _NotJson(Exception):
    """A 2xx answer to a JSON API call whose body is not a JSON object (a proxy page, another service)."""

    def __init__(self, status: int, describe: str) -> None:
        super().__init__(describe)
        self.status = status
        self.describe = describe


def _require_json(http_response: Any = None, **kwargs: Any) -> None:
    """after-call hook: botocore turns a 200 body it cannot parse into {"message": body}; we refuse it."""
    if http_response is None or getattr(http_response, "raw", None) is None or http_response.status_code >= 300:
        return
    body = http_response.content or b""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        return
    summary = body_summary(http_response.headers.get("Content-Type"), body.decode("utf-8", "replace"))
    raise _NotJson(http_response.status_code, summary)


class _S3Raw(io.RawIOBase):
    """A botocore StreamingBody as a raw stream, so the manifest readers get read() and readline()."""

    def __init__(self, body: Any, guard: Callable[[Callable[[], bytes]], bytes]) -> None:
        self.body = body
        self.guard = guard

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.guard(lambda: self.body.read(len(buffer)))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self.body.close()
        super().close()


def _summary_line(summary: Any) -> str:
    """One line for the ticket's manifest_summary field: totals per dataset and the terminal codes."""
    parts = [
        f"{d.name}: {d.invalid_json_lines}/{d.total_json_lines} invalid ({d.invalid_share:.0%})"
        for d in summary.datasets
        if d.invalid_share is not None
    ]
    codes = list(dict.fromkeys(e.code for e in summary.terminal))
    if codes:
        parts.append("errors: " + ", ".join(codes))
    return "; ".join(parts)


def _name(project_arn: str) -> str:
    return project_arn.split(":project/", 1)[-1].split("/", 1)[0]


def _version_name(version_arn: str) -> str:
    part = version_arn.split("/version/", 1)[-1]
    return part.rsplit("/", 1)[0]
