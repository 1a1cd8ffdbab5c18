"""The playbook schema: pydantic models that validate a YAML file once, when the library is built.

Everything else reads the plain records of bot/playbooks/model.py that the loader makes from them
(and keeps in the on-disk cache), so a diagnose served from the cache never imports pydantic.
Field names and order are those of the records; tests/test_loader.py keeps them in step.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.playbooks.fields import TICKET_FIELDS
from bot.playbooks import model
from bot.playbooks.model import ID_RE, Service, service_for_id


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, defer_build=True)


class Text(Strict):
    """A text in both languages."""

    en: str = Field(min_length=1)
    ja: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        return self.ja if lang == "ja" else self.en


class Step(Strict):
    """One thing to do, in order; `run` is a command or API call to copy."""

    en: str = Field(min_length=1)
    ja: str = Field(min_length=1)
    run: str | None = None

    def get(self, lang: str) -> str:
        text = self.ja if lang == "ja" else self.en
        return f"{text}\n    $ {self.run}" if self.run else text


class Match(Strict):
    """What makes a playbook match.

    codes: documented error codes, matched as whole tokens, case-sensitive (strongest).
    messages: literal message strings, case-insensitive, whitespace-tolerant.
    statuses: status values (TRAINING_FAILED, Failed…), whole tokens, case-sensitive.
    patterns: RE2 regular expressions for real log output (weakest).
    context: RE2 expressions that never match alone but support a match; with
    requires_context, the playbook only matches when a context line or its parent matched.
    facts: RE2 expressions with named groups (?P<module>…) that read facts from the text once
    the playbook matched; they never make it match nor change its score. Patterns and context
    may carry named groups too. Names come from bot/playbooks/fields.py FACTS.
    """

    codes: list[str] = []
    messages: list[str] = []
    statuses: list[str] = []
    patterns: list[str] = []
    context: list[str] = []
    facts: list[str] = []
    requires_context: bool = False

    @model_validator(mode="after")
    def _not_empty(self) -> "Match":
        if not (self.codes or self.messages or self.statuses or self.patterns):
            raise ValueError("needs at least one of codes, messages, statuses, patterns")
        if self.requires_context and not self.context:
            raise ValueError("requires_context is set but context is empty")
        return self

    @field_validator("codes", "messages", "statuses", "patterns", "context", "facts")
    @classmethod
    def _no_blank(cls, values: list[str]) -> list[str]:
        for v in values:
            if not v.strip():
                raise ValueError("blank entry")
            if "\n" in v:
                raise ValueError("entries match within one line; remove the newline")
        return values


class Source(Strict):
    """Where the playbook's knowledge comes from, and what was decided."""

    seed: str | None = None
    section: str | None = None
    lines: str | None = None
    url: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _has_origin(self) -> "Source":
        if not (self.seed or self.url):
            raise ValueError("a source names a seed file or a url")
        return self


class Example(Strict):
    """A realistic input that must match this playbook first (with `service` named, if given)."""

    text: str = Field(min_length=1)
    service: Service | None = None
    note: str | None = None


class ServiceContext(Strict):
    """RE2 expressions that show a text comes from one of our products (playbooks/_context.yaml).

    A playbook with `requires_context` matches when its own context, its product's context here,
    or the service the caller named says the text is about that product.
    """

    customvision: list[str] = Field(min_length=1)
    azureml: list[str] = Field(min_length=1)
    rekognition: list[str] = Field(min_length=1)
    names: dict[Literal["customvision", "azureml", "rekognition"], list[str]] = {}
    """The product's bare name (`azureml`, `azureml-core`): it shows where the product is what
    failed ("No module named 'azureml'") as well as where the failure happened, so it counts only
    on another line than the match, or before the match on its line."""

    facts: dict[Literal["customvision", "azureml", "rekognition"], list[str]] = {}
    """Expressions with named groups that read facts any playbook of the product can use (the
    endpoint of `--endpoint-name`, the region of a resource ID); they are no evidence."""

    def get(self, fam: str) -> list[str]:
        return list(getattr(self, fam))


class Playbook(Strict):
    id: str
    service: Service
    severity: Literal["critical", "error", "warning", "info"]
    retryable: bool
    refines: str | None = None
    title: Text
    summary: Text
    match: Match
    steps: list[Step] = Field(min_length=1)
    collect: list[str] = []
    source: list[Source] = Field(min_length=1)
    examples: list[Example] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _id_scheme(cls, v: str) -> str:
        if not ID_RE.match(v):
            raise ValueError("id must look like <service>.<area>.<condition>[.<branch>], e.g. azureml.endpoint.ERR_2200")
        return v

    @field_validator("collect")
    @classmethod
    def _known_fields(cls, values: list[str]) -> list[str]:
        unknown = [v for v in values if v not in TICKET_FIELDS]
        if unknown:
            raise ValueError(f"unknown ticket field(s) {unknown}; known fields are in bot/playbooks/fields.py")
        return values

    @model_validator(mode="after")
    def _service_agrees(self) -> "Playbook":
        expected = service_for_id(self.id)
        if self.service != expected:
            raise ValueError(f"service is {self.service!r} but id {self.id!r} belongs to {expected!r}")
        if self.refines == self.id:
            raise ValueError("a playbook cannot refine itself")
        return self


def record(value: Any) -> Any:
    """A validated schema model as the plain record of the same name in bot.playbooks.model."""
    if isinstance(value, BaseModel):
        cls = getattr(model, type(value).__name__)
        return cls(**{name: record(getattr(value, name)) for name in type(value).model_fields})
    if isinstance(value, list):
        return [record(v) for v in value]
    if isinstance(value, dict):
        return {k: record(v) for k, v in value.items()}
    return value
