"""`config check`: is triage.toml complete, and (with --live) can each target be reached?"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.commands.targets import CLOUD_SERVICES, overrides_for
from bot.config import AzureMLTarget, CustomVisionTarget, Problem, RekognitionTarget, Settings, Target
from bot.errors import TriageError
from bot.identifiers import check_text_name, check_uuid, is_arn, looks_like_uuid_attempt, parse_rekognition_arn
from bot.identifiers import check_rekognition_project_name
from bot.pool import SWEEP_WORKERS, pmap
from bot.providers import get_provider


@dataclass
class Check:
    service: str
    target: str
    level: str  # ok | warning | error
    message: str
    hint: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"service": self.service, "target": self.target, "level": self.level, "message": self.message, "hint": self.hint}


@dataclass
class ConfigReport:
    path: str | None
    live: bool
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(c.level == "error" for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "live": self.live,
            "ok": self.ok,
            "errors": sum(c.level == "error" for c in self.checks),
            "warnings": sum(c.level == "warning" for c in self.checks),
            "checks": [c.to_json() for c in self.checks],
        }


def config_check(
    settings: Settings,
    live: bool = False,
    *,
    overrides: dict[str, dict[str, Any]] | None = None,
    problems: list[Problem] | None = None,
) -> ConfigReport:
    """Every problem at once: schema errors (from `config.load_checked`), missing key variables,
    malformed project IDs/ARNs, ticket subscription, and with `live` one cheap read per target
    (run concurrently). Targets with a schema error are reported and not probed."""
    report = ConfigReport(str(settings.path) if settings.path else None, live)
    for p in problems or []:
        where = f"{p.field}: " if p.field else ""
        report.checks.append(Check(p.section, p.target, "error", f"{where}{p.message}", _schema_hint(p)))
    pairs = [(s, t) for s in CLOUD_SERVICES for t in settings.config.targets(s)]
    if not pairs and not problems:
        report.checks.append(
            Check("", "", "warning", "no targets configured" + ("" if settings.path else " (no triage.toml found)"),
                  "add a [[customvision]], [[azureml]] or [[rekognition]] section; see README: Configuration")
        )
    static: dict[tuple[str, str], list[Check]] = {}
    for service, target in pairs:
        checks = _static(settings, service, target)
        static[(service, target.name)] = checks
        report.checks += checks
    if live:
        def probe(pair: tuple[str, Target]) -> Check:
            service, target = pair
            try:
                said = get_provider(service, target, settings, **overrides_for(overrides, service)).probe()
                return Check(service, target.name, "ok", f"live: {said}")
            except TriageError as e:
                return Check(service, target.name, "error", f"live: {e.message}", e.hint)

        runnable = [p for p in pairs if not any(c.level == "error" for c in static[(p[0], p[1].name)])]
        report.checks += pmap(probe, runnable, max_workers=SWEEP_WORKERS)
    return report


def _static(settings: Settings, service: str, target: Target) -> list[Check]:
    out: list[Check] = []

    def add(level: str, message: str, hint: str | None = None) -> None:
        out.append(Check(service, target.name, level, message, hint))

    if isinstance(target, CustomVisionTarget):
        if target.auth == "key" and target.training_key_env:
            if settings.env.get(target.training_key_env):
                add("ok", f"training key found in ${target.training_key_env}")
            else:
                add("error", f"environment variable {target.training_key_env} is not set",
                    f"export {target.training_key_env}=<Training key of the resource> before running triage")
        if target.auth == "entra" and ".api.cognitive.microsoft.com" in target.endpoint:
            add("error", f"auth = 'entra' with the regional endpoint {target.endpoint}",
                "Entra ID works only with the custom subdomain endpoint https://<resource>.cognitiveservices.azure.com")
        if target.endpoint.startswith("http://") and not _loopback(target.endpoint):
            add("warning", f"endpoint {target.endpoint} is plain http: the training key would travel unencrypted")
        ticket_sub = settings.config.defaults.subscription_id
        if ticket_sub and ticket_sub.lower() != target.subscription.lower():
            add("warning", f"resource is in subscription {target.subscription}, but defaults.subscription_id is {ticket_sub}",
                "Custom Vision support tickets must be filed from the subscription that holds the resource")
        for p in target.projects:
            _try(add, lambda p=p: check_uuid(p, "Project Id") if looks_like_uuid_attempt(p) else check_text_name(p, "project name"))
    elif isinstance(target, AzureMLTarget):
        add("ok", f"Resource Manager {target.arm_endpoint} ({target.cloud}"
            + (", custom endpoint)" if target.resource_manager_endpoint else ")"))
    elif isinstance(target, RekognitionTarget):
        for p in target.projects:
            def check(p: str = p) -> None:
                if is_arn(p):
                    arn = parse_rekognition_arn(p)
                    if arn.region != target.region:
                        raise _Problem(f"{p} is in {arn.region}, but the target's region is {target.region}")
                else:
                    check_rekognition_project_name(p)
            _try(add, check)
    if not any(c.level in ("error", "warning") for c in out):
        add("ok", "configuration looks complete")
    return out


def _schema_hint(p: Problem) -> str | None:
    if p.field.startswith("training_key_env"):
        return "training_key_env names the variable (CV_TRAINING_KEY), never the key itself"
    if p.message.startswith("Extra inputs"):
        return "remove the key or check its spelling (README: Configuration lists every key)"
    return None


class _Problem(TriageError):
    """A configuration value that cannot work."""


def _try(add: Any, fn: Any) -> None:
    try:
        fn()
    except TriageError as e:
        add("error", f"projects: {e.message}", e.hint)


def _loopback(url: str) -> bool:
    host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    return host in ("127.0.0.1", "localhost", "[::1]")
