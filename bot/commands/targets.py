"""Which configured targets a command runs against, named by service and/or target name."""

from __future__ import annotations

from typing import Any

from bot.config import Settings, Target
from bot.errors import ConfigError, InputError
from bot.identifiers import check_target_name, did_you_mean

CLOUD_SERVICES = ("customvision", "azureml", "rekognition")
"""Services with a provider and a triage.toml section."""


def check_service(service: str) -> str:
    if service not in CLOUD_SERVICES:
        hint = f"use one of: {', '.join(CLOUD_SERVICES)}"
        if service.startswith("azureml-"):
            hint = "status and ids cover both Azure ML areas under `azureml`"
        raise InputError(f"unknown service {service!r}", hint=hint)
    return service


def pick(settings: Settings, service: str | None = None, target: str | None = None) -> list[tuple[str, Target]]:
    """(service, target) pairs to run against; an unknown name says which names exist."""
    if service is not None:
        check_service(service)
    if target is not None:
        check_target_name(target)
    services = [service] if service else list(CLOUD_SERVICES)
    pairs = [(s, t) for s in services for t in settings.config.targets(s)]
    if target is not None:
        chosen = [(s, t) for s, t in pairs if t.name == target]
        if not chosen:
            names = [t.name for _, t in pairs]
            where = f"[[{service}]]" if service else "triage.toml"
            raise InputError(
                f"no target named {target!r} in {where}",
                hint=did_you_mean(target, names) or "no targets are configured",
            )
        return chosen
    if not pairs:
        where = f"a [[{service}]] section" if service else "a [[customvision]], [[azureml]] or [[rekognition]] section"
        source = f" in {settings.path}" if settings.path else " (no triage.toml found: pass --config or set TRIAGE_CONFIG)"
        raise ConfigError(f"no targets configured{source}", hint=f"add {where}; see README: Configuration")
    return pairs


def overrides_for(overrides: dict[str, dict[str, Any]] | None, service: str) -> dict[str, Any]:
    """Test seams for one service's provider (e.g. {"rekognition": {"client": stubbed_client}})."""
    return dict((overrides or {}).get(service, {}))
