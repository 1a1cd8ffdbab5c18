"""triage.toml: read and validated once at the edge, every problem named at once."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.errors import ConfigError, field_path

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
CV_RESOURCE_ID_RE = re.compile(
    r"^/subscriptions/(?P<sub>[0-9a-fA-F-]{36})/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.CognitiveServices/accounts/(?P<account>[^/]+)$",
    re.IGNORECASE,
)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Target(Section):
    name: str

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError("use letters, digits, '-', '_' or '.', at most 63 characters")
        return v


class CustomVisionTarget(Target):
    """A Custom Vision training resource."""

    endpoint: str
    auth: Literal["key", "entra"] = "key"
    training_key_env: str | None = None
    resource_id: str | None = None
    subscription_id: str | None = None
    resource_group: str | None = None
    account_name: str | None = None
    region: str | None = None
    projects: list[str] = []
    timeout_s: float = Field(default=20.0, gt=0, le=300)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("must be a URL like https://<resource>.cognitiveservices.azure.com")
        return v.rstrip("/")

    @field_validator("training_key_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not ENV_NAME_RE.match(v):
            raise ValueError("name the environment variable that holds the key (e.g. CV_TRAINING_KEY), not the key itself")
        return v

    @field_validator("resource_id")
    @classmethod
    def _resource_id(cls, v: str | None) -> str | None:
        if v is not None and not CV_RESOURCE_ID_RE.match(v):
            raise ValueError(
                "expected /subscriptions/<uuid>/resourceGroups/<rg>/providers/Microsoft.CognitiveServices/accounts/<name>"
            )
        return v

    @model_validator(mode="after")
    def _auth_and_id(self) -> "CustomVisionTarget":
        if self.auth == "key" and not self.training_key_env:
            raise ValueError("auth = 'key' needs training_key_env (the environment variable holding the training key)")
        if not self.resource_id and not (self.subscription_id and self.resource_group and self.account_name):
            raise ValueError("give resource_id, or subscription_id + resource_group + account_name")
        return self

    @property
    def full_resource_id(self) -> str:
        if self.resource_id:
            return self.resource_id
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.CognitiveServices/accounts/{self.account_name}"
        )

    @property
    def subscription(self) -> str:
        m = CV_RESOURCE_ID_RE.match(self.full_resource_id)
        return m.group("sub") if m else (self.subscription_id or "")


AZURE_CLOUDS: dict[str, dict[str, str]] = {
    # Resource Manager and Entra ID hosts per national cloud (azure-ai-ml and azure-identity use the same).
    "AzureCloud": {"resource_manager": "https://management.azure.com", "authority": "login.microsoftonline.com"},
    "AzureChinaCloud": {"resource_manager": "https://management.chinacloudapi.cn", "authority": "login.chinacloudapi.cn"},
    "AzureUSGovernment": {"resource_manager": "https://management.usgovcloudapi.net", "authority": "login.microsoftonline.us"},
}


class AzureMLTarget(Target):
    """An Azure ML workspace; credentials come from DefaultAzureCredential."""

    subscription_id: str
    resource_group: str
    workspace: str
    region: str | None = None
    endpoints: list[str] = []
    timeout_s: float = Field(default=30.0, gt=0, le=300)
    cloud: Literal["AzureCloud", "AzureChinaCloud", "AzureUSGovernment"] = "AzureCloud"
    resource_manager_endpoint: str | None = None
    """Overrides the cloud's Resource Manager URL (a private gateway, Azure Stack, a test stand-in)."""

    @field_validator("resource_manager_endpoint")
    @classmethod
    def _arm(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not re.match(r"^https://[^/\s]+/?$", v):
            raise ValueError("must be an https:// URL with no path, like https://management.azure.com "
                             "(bearer tokens are never sent over plain http)")
        return v.rstrip("/")

    @field_validator("subscription_id")
    @classmethod
    def _sub(cls, v: str) -> str:
        if not UUID_RE.match(v):
            raise ValueError("expected a subscription ID (a UUID such as 00000000-0000-0000-0000-000000000000)")
        return v

    @property
    def workspace_resource_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace}"
        )

    @property
    def arm_endpoint(self) -> str:
        """The Resource Manager every ARM call goes to: the override, else the cloud's."""
        return self.resource_manager_endpoint or AZURE_CLOUDS[self.cloud]["resource_manager"]

    @property
    def arm_scope(self) -> str:
        return self.arm_endpoint + "/.default"

    @property
    def authority(self) -> str:
        return AZURE_CLOUDS[self.cloud]["authority"]


class RekognitionTarget(Target):
    """An AWS region (and optional profile) with Custom Labels projects; boto3's default chain."""

    region: str
    profile: str | None = None
    projects: list[str] = []
    endpoint_url: str | None = None
    s3_endpoint_url: str | None = None
    timeout_s: float = Field(default=30.0, gt=0, le=300)

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        if not re.match(r"^[a-z]{2}(-[a-z]+)+-\d$", v):
            raise ValueError("expected an AWS region such as us-east-1")
        return v


class Defaults(Section):
    lang: Literal["en", "ja"] = "en"
    subscription_id: str | None = None
    """The subscription support tickets are filed from (checked against Resource IDs)."""


class StoreSection(Section):
    """Where state lives: a SQLite file (`path`, the default) or a PostgreSQL server every host shares (`url`)."""

    path: str | None = None
    busy_timeout_s: float = Field(default=10.0, ge=0, le=600)
    """How long to wait for another process's write lock before giving up with an error."""
    url: str | None = None
    """postgresql://user@host:5432/dbname?sslmode=require, without a password."""
    password_env: str | None = None
    """The environment variable holding the PostgreSQL password (else libpq's PGPASSWORD or ~/.pgpass)."""

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        parts = urlsplit(v)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError("use a postgresql://user@host:5432/dbname URL (or `path` for a SQLite file)")
        if parts.password:
            raise ValueError("no password in the file: name the variable that holds it with password_env (or use DATABASE_URL)")
        return v

    @field_validator("password_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not ENV_NAME_RE.match(v):
            raise ValueError("an environment variable name, like TRIAGE_DB_PASSWORD")
        return v

    @model_validator(mode="after")
    def _one_place(self) -> "StoreSection":
        if self.path and self.url:
            raise ValueError("give either path (SQLite) or url (PostgreSQL), not both")
        if self.password_env and not self.url:
            raise ValueError("password_env goes with url")
        return self


class AccessRule(Section):
    """Who may do something: Slack user IDs, user-group IDs, channel IDs. Empty lists mean nobody is limited."""

    users: list[str] = []
    groups: list[str] = []
    channels: list[str] = []

    @field_validator("users", "groups", "channels")
    @classmethod
    def _slack_ids(cls, values: list[str]) -> list[str]:
        bad = [v for v in values if not re.match(r"^[A-Z0-9]{2,}$", v)]
        if bad:
            raise ValueError(f"Slack IDs look like U0123ABCD / S0123ABCD / C0123ABCD, not {bad}")
        return values

    @property
    def open(self) -> bool:
        return not (self.users or self.groups or self.channels)


class SlackSection(Section):
    """The Slack app: tokens come from the environment, never from this file."""

    command: str = "/triage"
    support_channel: str | None = None
    alert_channel: str | None = None
    oncall_group: str | None = None
    read: AccessRule = AccessRule()
    tickets: AccessRule = AccessRule()
    workers: int = Field(default=8, ge=1, le=64)
    file_max_bytes: int = Field(default=50_000_000, ge=1, le=1_073_741_824)
    """The largest attached file the message shortcut downloads and diagnoses."""


class WatchSection(Section):
    interval_s: float = Field(default=120.0, ge=5, le=86_400)
    post_baseline: bool = False
    routes: dict[str, str] = {}
    """target name -> channel ID; targets not listed go to slack.alert_channel."""
    remind_after_s: float = Field(default=1800.0, ge=0, le=7 * 86_400)
    """An alert nobody acknowledged gets one reminder in its thread after this long (0: never)."""
    lease_s: float | None = Field(default=None, ge=2, le=3600)
    """How long a standby watcher waits for a silent one before taking over; default max(30, 3 x interval_s,
    the minimum below). The active watcher renews it every lease_s / 3 seconds, also while it sleeps between
    polls, and before any Slack call that could outlast what is left of it. It must outlast the slowest Slack
    call: at least slack_timeout_s x 4 tries + 3 Retry-After waits of slack_retry_wait_s, + 1 s."""
    slack_timeout_s: float = Field(default=15.0, gt=0, le=120)
    """How long one Slack request may take; a post whose answer does not come stays in the outbox."""
    slack_retry_wait_s: float = Field(default=10.0, ge=0, le=120)
    """The longest Retry-After a Slack call waits out itself (3 times at most); longer ones go back to the outbox."""

    SLACK_RETRIES: ClassVar[int] = 3
    LEASE_MARGIN_S: ClassVar[float] = 1.0

    def slack_call_s(self) -> float:
        """The longest one Slack call can take: every try timing out, every retry waiting its longest Retry-After."""
        return self.slack_timeout_s * (self.SLACK_RETRIES + 1) + self.SLACK_RETRIES * self.slack_retry_wait_s

    def min_lease_s(self) -> float:
        return self.slack_call_s() + self.LEASE_MARGIN_S

    def lease_ttl(self) -> float:
        return self.lease_s if self.lease_s is not None else max(30.0, 3 * self.interval_s, self.min_lease_s())

    @model_validator(mode="after")
    def _lease_outlasts_a_slack_call(self) -> "WatchSection":
        if self.lease_s is not None and self.lease_s < self.min_lease_s():
            raise ValueError(
                f"lease_s = {self.lease_s:g} is below the minimum {self.min_lease_s():g} s: a Slack call can take "
                f"{self.slack_call_s():g} s (slack_timeout_s {self.slack_timeout_s:g} x {self.SLACK_RETRIES + 1} tries + "
                f"{self.SLACK_RETRIES} Retry-After waits of up to slack_retry_wait_s {self.slack_retry_wait_s:g}) and the "
                f"lease must outlast it by {self.LEASE_MARGIN_S:g} s; raise lease_s to {self.min_lease_s():g} or lower the Slack timeouts")
        return self


class Config(Section):
    defaults: Defaults = Defaults()
    store: StoreSection = StoreSection()
    slack: SlackSection = SlackSection()
    watch: WatchSection = WatchSection()
    customvision: list[CustomVisionTarget] = []
    azureml: list[AzureMLTarget] = []
    rekognition: list[RekognitionTarget] = []

    @model_validator(mode="after")
    def _unique_names(self) -> "Config":
        for kind in ("customvision", "azureml", "rekognition"):
            names = [t.name for t in getattr(self, kind)]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{kind}: duplicate target name(s) {dupes}")
        return self

    def targets(self, service: str) -> list[Target]:
        return list(getattr(self, service))

    def default_db_path(self) -> Path:
        if self.store.path:
            return Path(self.store.path).expanduser()
        return Path(platformdirs.user_data_dir("triage")) / "triage.db"


class Settings:
    """The validated config plus the environment it was read with: the only place secrets are looked up."""

    def __init__(self, config: Config, env: Mapping[str, str], path: Path | None = None) -> None:
        self.config = config
        self.env = dict(env)
        self.path = path

    def store_location(self) -> str | Path:
        """[store] url (with the password from password_env), else [store] path, else $DATABASE_URL, else the user data dir."""
        store = self.config.store
        if store.url:
            if not store.password_env:
                return store.url
            parts = urlsplit(store.url)
            user = quote(unquote(parts.username or ""), safe="")
            host = parts.netloc.rsplit("@", 1)[-1]
            netloc = f"{user}:{quote(self.secret(store.password_env), safe='')}@{host}"
            return urlunsplit(parts._replace(netloc=netloc))
        if store.path:
            return self.config.default_db_path()
        url = self.env.get("DATABASE_URL", "").strip()
        if url:
            if urlsplit(url).scheme not in ("postgresql", "postgres"):
                raise ConfigError(f"DATABASE_URL names a {urlsplit(url).scheme or 'non-URL'} database; triage stores state in "
                                  "PostgreSQL (postgresql://…) or SQLite", hint="set [store] path or url in triage.toml")
            return url
        return self.config.default_db_path()

    def secret(self, env_name: str) -> str:
        value = self.env.get(env_name, "")
        if not value:
            raise ConfigError(f"environment variable {env_name} is not set", hint="export it before running triage")
        return value


def parse(text: str, *, source: str = "triage.toml") -> Config:
    """Parse TOML text into a Config; every problem is listed in one ConfigError."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: invalid TOML: {e}") from None
    try:
        return Config.model_validate(raw)
    except ValidationError as e:
        problems = [f"  {field_path(err['loc'])}: {err['msg'].removeprefix('Value error, ')}" for err in e.errors()]
        raise ConfigError(f"{source}: {len(problems)} problem(s):\n" + "\n".join(problems)) from None


def _read(path: str | Path | None, env: Mapping[str, str]) -> tuple[Path | None, str | None]:
    """The chosen config file and its text: --config, else TRIAGE_CONFIG, else ./triage.toml if present."""
    chosen = path or env.get("TRIAGE_CONFIG")
    if chosen is None and Path("triage.toml").is_file():
        chosen = "triage.toml"
    if chosen is None:
        return None, None
    p = Path(chosen).expanduser()
    if p.is_dir():
        raise ConfigError(f"{p}: is a directory, not a config file", hint="pass --config PATH/triage.toml")
    if not p.exists():
        raise ConfigError(f"{p}: config file not found", hint="pass --config PATH or set TRIAGE_CONFIG")
    try:
        return p, p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text", hint="save it as UTF-8") from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot read the config file: {e.strerror}",
                          hint="make it readable by the user running triage (it holds no secrets: keep those in the environment)") from None


def load(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Load from --config, else TRIAGE_CONFIG, else ./triage.toml if present, else an empty config."""
    env = os.environ if env is None else env
    p, text = _read(path, env)
    if p is None or text is None:
        return Settings(Config(), env, None)
    return Settings(parse(text, source=str(p)), env, p)


@dataclass(frozen=True)
class Problem:
    """One schema problem: where (section, target name or index, field) and what is wrong."""

    section: str
    target: str
    field: str
    message: str


def load_checked(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> tuple[Settings, list[Problem]]:
    """Like load, but a section or target that fails validation is set aside and reported, so the
    rest can still be checked (`config check` names every problem at once). TOML syntax errors and a
    missing file still raise: nothing can be checked then."""
    env = os.environ if env is None else env
    p, text = _read(path, env)
    if p is None or text is None:
        return Settings(Config(), env, None), []
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: invalid TOML: {e}") from None
    problems: list[Problem] = []
    for _ in range(3):  # drop what is broken, then validate what is left (a duplicate name can show up late)
        try:
            return Settings(Config.model_validate(raw), env, p), problems
        except ValidationError as e:
            raw = _set_aside(raw, e, problems)
    return Settings(Config(), env, p), problems


_TARGET_KINDS = ("customvision", "azureml", "rekognition")


def _set_aside(raw: dict, error: ValidationError, problems: list[Problem]) -> dict:
    """Record every error, and remove the targets and sections they are in."""
    raw = dict(raw)
    drop_targets: dict[str, set[int]] = {}
    drop_sections: set[str] = set()
    for err in error.errors():
        loc = err["loc"]
        message = err["msg"].removeprefix("Value error, ")
        if not loc:  # Config's own check (duplicate target names): keep the first target of each name
            problems.append(Problem("(top level)", "", "", message))
            for kind in _TARGET_KINDS:
                seen: set[str] = set()
                kept = []
                for t in raw.get(kind) or []:
                    name = t.get("name") if isinstance(t, dict) else None
                    if name not in seen:
                        kept.append(t)
                    seen.add(name)
                raw[kind] = kept
            continue
        section = str(loc[0]) if loc else "(top level)"
        if section in _TARGET_KINDS and len(loc) >= 2 and isinstance(loc[1], int):
            entries = raw.get(section) or []
            entry = entries[loc[1]] if loc[1] < len(entries) and isinstance(entries[loc[1]], dict) else {}
            name = str(entry.get("name") or f"#{loc[1] + 1}")
            problems.append(Problem(section, name, field_path(loc[2:]) if len(loc) > 2 else "", message))
            drop_targets.setdefault(section, set()).add(loc[1])
        else:
            problems.append(Problem(section, "", field_path(loc[1:]) if len(loc) > 1 else "", message))
            drop_sections.add(section)
    for section, indexes in drop_targets.items():
        raw[section] = [t for i, t in enumerate(raw.get(section) or []) if i not in indexes]
    for section in drop_sections:
        raw.pop(section, None)
    return raw
