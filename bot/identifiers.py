"""Check the IDs and ARNs people type before any cloud call; a bad one names the expected shape."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.errors import InputError

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
UUID_EXAMPLE = "64b822c5-8082-4b36-a426-27225f4aa18c"
# Something that is trying to be a UUID: hex digits and dashes only, and long enough.
_UUID_ISH = re.compile(r"^[0-9a-fA-F]{4,}(-[0-9a-fA-F]*)+$|^[0-9a-fA-F]{32}$")

REK_PROJECT_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,255}$")
_REK_ARN = re.compile(
    r"^arn:aws:rekognition:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d):(?P<account>\d{12}):"
    r"project/(?P<project>[A-Za-z0-9_.\-]{1,255})/"
    r"(?:version/(?P<version>[A-Za-z0-9_.\-]{1,255})/)?(?P<ts>\d{13})$"
)
REK_PROJECT_ARN_SHAPE = "arn:aws:rekognition:<region>:<12-digit account>:project/<name>/<13-digit timestamp>"
REK_VERSION_ARN_SHAPE = (
    "arn:aws:rekognition:<region>:<12-digit account>:project/<name>/version/<version name>/<13-digit timestamp>"
)
TARGET_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def looks_like_uuid_attempt(value: str) -> bool:
    """True for text that is meant to be a UUID (hex and dashes), valid or not."""
    return bool(_UUID_ISH.match(value.strip()))


def check_uuid(value: str, what: str) -> str:
    """A UUID such as a Custom Vision Project Id or Iteration Id, or InputError showing the shape."""
    v = value.strip()
    if not UUID_RE.match(v):
        raise InputError(
            f"{what} {value!r} is not a valid ID",
            hint=f"expected a UUID: 8-4-4-4-12 hex digits, e.g. {UUID_EXAMPLE}",
        )
    return v.lower()


def check_text_name(value: str, what: str, max_len: int = 200) -> str:
    """A free-form name (e.g. a Custom Vision project name): non-empty, one line, bounded."""
    v = value.strip()
    if not v or len(v) > max_len or any(ord(c) < 32 for c in v):
        raise InputError(f"{what} {value[:60]!r} is not a valid name", hint=f"one line of 1 to {max_len} characters")
    return v


@dataclass(frozen=True)
class RekognitionArn:
    """The parts of a Rekognition Custom Labels project or model (project version) ARN."""

    arn: str
    region: str
    account: str
    project: str
    version: str | None

    @property
    def is_version(self) -> bool:
        return self.version is not None


def parse_rekognition_arn(value: str, *, kind: str | None = None) -> RekognitionArn:
    """Parse a project ARN or a model ARN; `kind` ("project" or "version") insists on one of them."""
    v = value.strip()
    m = _REK_ARN.match(v)
    shapes = {"project": REK_PROJECT_ARN_SHAPE, "version": REK_VERSION_ARN_SHAPE}
    if not m or (kind == "project" and m["version"]) or (kind == "version" and not m["version"]):
        wanted = [shapes[kind]] if kind else list(shapes.values())
        raise InputError(
            f"{value[:200]!r} is not a Rekognition Custom Labels {kind or 'project or model'} ARN",
            hint="expected " + " or ".join(wanted),
        )
    return RekognitionArn(v, m["region"], m["account"], m["project"], m["version"])


def is_arn(value: str) -> bool:
    return value.strip().startswith("arn:")


def check_rekognition_project_name(value: str) -> str:
    v = value.strip()
    if not REK_PROJECT_NAME_RE.match(v):
        raise InputError(
            f"{value[:80]!r} is not a Rekognition project name",
            hint="1 to 255 letters, digits, '_', '.' or '-', or a project ARN: " + REK_PROJECT_ARN_SHAPE,
        )
    return v


def check_target_name(value: str) -> str:
    if not TARGET_NAME_RE.match(value):
        raise InputError(
            f"{value[:80]!r} is not a target name",
            hint="target names are the `name` of a [[customvision]], [[azureml]] or [[rekognition]] entry in triage.toml",
        )
    return value


def suggest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Close matches for a mistyped name, best first (case-insensitive)."""
    pool = list(dict.fromkeys(candidates))
    lowered = {c.lower(): c for c in pool}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    return [lowered[c] for c in close]


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A hint line naming close matches, or listing what exists when nothing is close."""
    pool = list(dict.fromkeys(candidates))
    close = suggest(name, pool)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    if pool:
        shown = ", ".join(repr(c) for c in pool[:8]) + (" …" if len(pool) > 8 else "")
        return f"existing: {shown}"
    return None


# Azure ML online endpoint and deployment names: 3-32 characters, a letter first, then letters,
# digits and '-'. Job (run) names: letters, digits, '_' and '-' (the generated ones look like
# quiet_lamp_x7k2m9).
AML_ENDPOINT_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{2,31}$")
AML_JOB_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,254}$")


def check_aml_endpoint_name(value: str, what: str = "endpoint") -> str:
    """An Azure ML online endpoint (or, with what="deployment", deployment) name, before any call."""
    v = value.strip()
    if not AML_ENDPOINT_NAME_RE.match(v):
        raise InputError(
            f"{value[:80]!r} is not a valid Azure ML {what} name",
            hint=f"{what} names are 3 to 32 characters: a letter first, then letters, digits or '-'",
        )
    return v


def check_aml_job_name(value: str) -> str:
    """An Azure ML job (run) name such as quiet_lamp_x7k2m9, before any call."""
    v = value.strip()
    if not AML_JOB_NAME_RE.match(v):
        raise InputError(
            f"{value[:80]!r} is not a valid Azure ML job name",
            hint="job names use letters, digits, '_' and '-' (e.g. quiet_lamp_x7k2m9); `triage ids azureml` lists recent jobs",
        )
    return v
