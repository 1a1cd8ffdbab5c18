"""Playbooks as plain frozen records: one YAML file under playbooks/ becomes one Playbook.

The loader validates each file with the pydantic schema in bot/playbooks/schema.py and keeps
these records (in the on-disk cache too): reading them needs no pydantic.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

SERVICES = ("customvision", "azureml", "azureml-endpoint", "azureml-job", "rekognition")
"""Service names for --service and config; `azureml` covers both Azure ML areas."""

Service = Literal["customvision", "azureml", "azureml-endpoint", "azureml-job", "rekognition"]
Lang = Literal["en", "ja"]

ID_RE = re.compile(r"^(customvision|azureml|rekognition)(\.[A-Za-z0-9_]+)+$")


def service_for_id(playbook_id: str) -> str:
    """The service a playbook ID belongs to, by its prefix."""
    if playbook_id.startswith("azureml.endpoint."):
        return "azureml-endpoint"
    if playbook_id.startswith("azureml.job."):
        return "azureml-job"
    return playbook_id.split(".", 1)[0]


def service_matches(selected: str | None, service: str) -> bool:
    """True when a playbook of `service` belongs to the --service selection."""
    if selected is None or selected == service:
        return True
    return selected == "azureml" and service.startswith("azureml")


FAMILIES = ("customvision", "azureml", "rekognition")


def family(service: str) -> str:
    """The product a service name belongs to: both Azure ML areas are `azureml`."""
    return service.split("-", 1)[0]


class Record:
    """A validated, immutable piece of a playbook."""

    @classmethod
    def model_validate(cls, raw: Any) -> Any:
        """Validate a raw mapping with the schema of the same name (pydantic.ValidationError if invalid)."""
        from bot.playbooks import schema

        return schema.record(getattr(schema, cls.__name__).model_validate(raw))

    def model_dump(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True, kw_only=True)
class Text(Record):
    """A text in both languages."""

    en: str
    ja: str

    def get(self, lang: str) -> str:
        return self.ja if lang == "ja" else self.en


@dataclass(frozen=True, kw_only=True)
class Step(Record):
    """One thing to do, in order; `run` is a command or API call to copy."""

    en: str
    ja: str
    run: str | None = None

    def get(self, lang: str) -> str:
        text = self.ja if lang == "ja" else self.en
        return f"{text}\n    $ {self.run}" if self.run else text


@dataclass(frozen=True, kw_only=True)
class Match(Record):
    """What makes a playbook match (see schema.Match for what each list means)."""

    codes: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)
    context: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    requires_context: bool = False


@dataclass(frozen=True, kw_only=True)
class Source(Record):
    """Where the playbook's knowledge comes from, and what was decided."""

    seed: str | None = None
    section: str | None = None
    lines: str | None = None
    url: str | None = None
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class Example(Record):
    """A realistic input that must match this playbook first (with `service` named, if given)."""

    text: str
    service: Service | None = None
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class ServiceContext(Record):
    """RE2 expressions that show a text comes from one of our products (playbooks/_context.yaml);
    `names`: the product's bare names, `facts`: expressions reading facts any of its playbooks use."""

    customvision: list[str]
    azureml: list[str]
    rekognition: list[str]
    names: dict[str, list[str]] = field(default_factory=dict)
    facts: dict[str, list[str]] = field(default_factory=dict)

    def get(self, fam: str) -> list[str]:
        return list(getattr(self, fam))


@dataclass(frozen=True, kw_only=True)
class Playbook(Record):
    id: str
    service: Service
    severity: Literal["critical", "error", "warning", "info"]
    retryable: bool
    refines: str | None = None
    title: Text
    summary: Text
    match: Match
    steps: list[Step]
    collect: list[str] = field(default_factory=list)
    source: list[Source]
    examples: list[Example]
