"""Azure Custom Vision training, through the Training REST API v3.3 (urllib3: bot/providers/http.py).

The msrest SDK targets v3.4-preview and cannot take azure-identity credentials, so we call
v3.3 directly (docs/research/apis.md §1). Reads only: GetProjects, GetProject, GetIterations,
GetTags, GetDomains, GetDomain.

A status read is one round of calls when triage.toml names the projects by Project Id (GetProject,
GetIterations and GetTags of each, and GetDomains, all at once), two otherwise (GetProjects and
GetDomains, then each project's iterations and tags), except when this process read the target
before: the projects it selected then are read beside GetProjects (`_read_selected`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.config import CustomVisionTarget, Settings
from bot.errors import CloudAuthError, CloudError, CloudNotFound, CloudThrottled, CloudTimeout
from bot.failures import Failure, images_per_tag_lines
from bot.redact import redact
from bot.identifiers import check_text_name, check_uuid, did_you_mean, looks_like_uuid_attempt
from bot.pool import Outcome, attempt, pmap, settle, together
from bot.providers import http
from bot.providers.findings import diagnose_lines, merge, playbook_match
from bot.providers.retry import TIMEOUT_ATTEMPTS, Retry, RetryPolicy, body_summary, call_with_retry, parse_retry_after

API = "/customvision/v3.3/training"
SCOPE = "https://cognitiveservices.azure.com/.default"
MIN_IMAGES_PER_TAG = {"Classification": 5, "ObjectDetection": 15}
RECOMMENDED_IMAGES_PER_TAG = 50
READER_ROLE = "Cognitive Services Custom Vision Reader"
STATUS_PAGE = "https://azure.status.microsoft/status"
PROJECT_WORKERS = 4  # the service allows 10 calls per second per resource for reads
CALLS_IN_FLIGHT = 3 * PROJECT_WORKERS + 1
"""What one target can have in flight (GetDomains, and three calls of each project read at once):
the size of its HTTP connection pool, so no connection is opened only to be thrown away."""


_SELECTED: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}
SELECTED_KEPT = 1024
"""Project Ids each target's last sweep in this process selected (see `_read_selected`), for at most
this many targets: a guess checked against the listing every time, never an answer."""


def _remember(key: tuple[str, str, tuple[str, ...]], project_ids: list[str]) -> None:
    _SELECTED.pop(key, None)
    _SELECTED[key] = project_ids
    while len(_SELECTED) > SELECTED_KEPT:
        _SELECTED.pop(next(iter(_SELECTED)), None)


def forget_selections() -> None:
    """Forget every remembered selection (tests: a new stand-in may reuse an old one's port)."""
    _SELECTED.clear()


@dataclass
class IterationIds:
    id: str
    name: str
    status: str
    created: str | None
    trained_at: str | None
    last_modified: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "iteration_id": self.id,
            "name": self.name,
            "status": self.status,
            "created": self.created,
            "trained_at": self.trained_at,
            "last_modified": self.last_modified,
        }


@dataclass
class ProjectIds:
    id: str
    name: str
    project_type: str | None
    domain: str | None
    iterations: list[IterationIds] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "project_id": self.id,
            "name": self.name,
            "project_type": self.project_type,
            "domain": self.domain,
            "iterations": [i.to_json() for i in self.iterations],
        }


@dataclass
class CustomVisionIds:
    """What support asks for: Project Id, Iteration Ids with status, Resource ID and its subscription."""

    target: str
    endpoint: str
    resource_id: str
    subscription_id: str
    region: str | None
    projects: list[ProjectIds]
    service: str = "customvision"

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "target": self.target,
            "endpoint": self.endpoint,
            "resource_id": self.resource_id,
            "subscription_id": self.subscription_id,
            "region": self.region,
            "projects": [p.to_json() for p in self.projects],
        }


def _is_json(response: http.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return True


def describe_body(response: http.Response) -> str:
    """What came back instead of JSON: its content type and its first words (an HTML page's title)."""
    return body_summary(response.headers.get("Content-Type"), response.text or "")


def _error_parts(response: http.Response) -> tuple[str, str]:
    """(code, message) from a flat service error {code, message} or a gateway {"error": {...}}."""
    try:
        body = response.json()
    except ValueError:
        return str(response.status_code), f"a body that is not JSON: {describe_body(response)}"
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("code") or response.status_code), str(err.get("message") or "")
    return str(response.status_code), redact(str(body))[:300]


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class CustomVisionProvider:
    """Read-only view of one Custom Vision training resource."""

    service = "customvision"

    def __init__(
        self,
        target: CustomVisionTarget,
        settings: Settings,
        *,
        session: http.Client | None = None,
        token_provider: Callable[[], str] | None = None,
        retry: RetryPolicy | None = None,
        lang: str | None = None,
    ) -> None:
        self.target = target
        self.settings = settings
        self.base = target.endpoint + API
        self.session = session or http.Client(target.endpoint, CALLS_IN_FLIGHT, target.timeout_s, settings.env)
        self.retry = retry or RetryPolicy()
        self.lang = lang or settings.config.defaults.lang
        self._key: str | None = None
        self._token_provider = token_provider
        if target.auth == "key":
            assert target.training_key_env  # the config validator guarantees it
            self._key = settings.secret(target.training_key_env)
        self._domains: dict[str, dict[str, Any]] = {}
        self._domain_list: dict[str, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    # ---- HTTP -------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._key is not None:
            headers["Training-Key"] = self._key
            return headers
        headers["Authorization"] = "Bearer " + self._bearer()
        return headers

    def _bearer(self) -> str:
        if self._token_provider is None:
            from azure.identity import DefaultAzureCredential, get_bearer_token_provider

            self._token_provider = get_bearer_token_provider(DefaultAzureCredential(), SCOPE)
        from azure.core.exceptions import ClientAuthenticationError

        try:
            return self._token_provider()
        except ClientAuthenticationError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CloudAuthError(
                f"no Azure credential could get a token for Custom Vision ({first})",
                hint="run `az login`, or set AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_CLIENT_SECRET, "
                "or use a managed identity; or set auth = 'key' with training_key_env",
            ) from None

    def _get(self, path: str, what: str, params: dict[str, str] | None = None) -> Any:
        url = self.base + path

        def once() -> Any:
            try:
                r = self.session.get(url, self._headers(), params)
            except http.Timeout:
                raise Retry(
                    CloudTimeout(
                        f"Custom Vision at {self.target.endpoint} did not answer within {self.target.timeout_s:g} s ({what})",
                        hint="the service may be slow or unreachable; raise timeout_s for this target or try again",
                    ),
                    limit=TIMEOUT_ATTEMPTS,
                ) from None
            except http.Unreachable as e:
                raise Retry(
                    CloudError(
                        f"cannot reach Custom Vision at {self.target.endpoint} ({what}): {e}",
                        hint="check the endpoint in triage.toml and the network",
                    )
                ) from None
            if r.status_code < 400:
                try:
                    return r.json()
                except ValueError:
                    raise self._not_json(r, what) from None
            raise self._fault(r, what)

        return call_with_retry(once, self.retry)

    def _not_json(self, r: http.Response, what: str) -> CloudError:
        """A body that is not JSON: a proxy's login page or another service answered, not Custom Vision."""
        return CloudError(
            f"the answer to {what} is not JSON (HTTP {r.status_code}, {describe_body(r)}): "
            "it did not come from Custom Vision",
            hint=f"a proxy or a wrong endpoint answered: check that endpoint {self.target.endpoint} is the resource's "
            "training endpoint (https://<resource>.cognitiveservices.azure.com) and the proxy settings (HTTPS_PROXY, NO_PROXY)",
        )

    def _fault(self, r: http.Response, what: str) -> Exception:
        """A plain-language error for an HTTP failure; transient ones wrapped in Retry."""
        status = r.status_code
        if not _is_json(r) and status not in (401, 403, 429):
            if status < 500:
                return self._not_json(r, what)
        code, message = _error_parts(r)
        detail = f"HTTP {status}" + (f" {code}" if code and code != str(status) else "") + (f": {message}" if message else "")
        if status == 401:
            if self._key is not None:
                return CloudAuthError(
                    f"Custom Vision rejected the training key in ${self.target.training_key_env} ({detail})",
                    hint=f"put the Training key of this resource in {self.target.training_key_env} (Azure portal → "
                    f"resource → Keys and Endpoint; a Prediction key will not work), and check that endpoint "
                    f"{self.target.endpoint} belongs to that resource",
                )
            return CloudAuthError(
                f"Custom Vision rejected the Entra ID token ({detail})",
                hint="Entra ID needs the custom subdomain endpoint https://<resource>.cognitiveservices.azure.com "
                "(regional endpoints accept keys only)",
            )
        if status == 403:
            if code in ("ForbiddenDRModeEnabled",) or "quota" in message.lower():
                return CloudError(f"Custom Vision refused to {what} ({detail})",
                                  hint="the resource's quota or mode forbids this call; see the message for which")
            return CloudAuthError(
                f"not allowed to {what} on Custom Vision resource {self.target.full_resource_id} ({detail})",
                hint=f"give the identity triage runs as the role '{READER_ROLE}' on that resource "
                "(read-only is enough)",
            )
        if status == 404:
            return CloudNotFound(
                f"Custom Vision could not find it: {what} ({detail})",
                hint=f"check that the ID exists in target {self.target.name!r} (`triage ids customvision` lists them) "
                f"and that endpoint {self.target.endpoint} is this resource's training endpoint",
            )
        if status == 429:
            retry_after = parse_retry_after(r.headers.get("Retry-After"), message)
            return Retry(
                CloudThrottled(
                    f"Custom Vision kept throttling ({detail}) while trying to {what}",
                    hint="the resource allows 10 read calls per second; try again in a minute, "
                    "or list fewer projects in triage.toml",
                ),
                retry_after,
            )
        if status >= 500:
            return Retry(CloudError(
                f"Custom Vision failed to {what} ({detail}); it kept failing after retries",
                hint=f"the service is failing, not your setup: check {STATUS_PAGE} and try again later",
            ))
        return CloudError(f"Custom Vision refused to {what} ({detail})",
                          hint="the request was rejected as sent; the message above says which part")

    # ---- reads --------------------------------------------------------------------------

    def _all_projects(self) -> list[dict[str, Any]]:
        return self._get("/projects", "list projects")

    def _project(self, project_id: str) -> dict[str, Any]:
        try:
            return self._get(f"/projects/{project_id}", f"get project {project_id}")
        except CloudNotFound as e:
            names = [p["id"] for p in self._all_projects()]
            e.hint = did_you_mean(project_id, names) or "this resource has no projects"
            e.message = f"no Custom Vision project with Project Id {project_id} in target {self.target.name!r}"
            raise

    def _iterations(self, project_id: str) -> list[dict[str, Any]]:
        return self._get(f"/projects/{project_id}/iterations", f"list iterations of project {project_id}")

    def _tags(self, project_id: str) -> list[dict[str, Any]]:
        return self._get(f"/projects/{project_id}/tags", f"list tags of project {project_id}")

    def _all_domains(self) -> dict[str, dict[str, Any]]:
        """GetDomains once per provider: the domains are few and fixed, and the list needs no project first."""
        with self._lock:
            if self._domain_list is not None:
                return self._domain_list
        try:
            listed = self._get("/domains", "list domains")
        except CloudNotFound:  # a gateway without GetDomains: each domain is asked for by its ID
            listed = []
        by_id = {str(d.get("id", "")).lower(): d for d in listed if isinstance(d, dict)} if isinstance(listed, list) else {}
        with self._lock:
            self._domain_list = by_id
        return by_id

    def _domain_of(self, domain_id: str | None, domains: Outcome) -> dict[str, Any]:
        """A project's domain from the GetDomains answer; GetDomain only for one the list lacks."""
        if not domain_id:
            return {}
        listed = domains.get()  # its error counts only when a failure needs the domain
        return listed.get(domain_id.lower()) or self._domain(domain_id)

    def _domain(self, domain_id: str | None) -> dict[str, Any]:
        if not domain_id:
            return {}
        with self._lock:
            if domain_id in self._domains:
                return self._domains[domain_id]
        try:
            domain = self._get(f"/domains/{domain_id}", f"get domain {domain_id}")
        except CloudNotFound:
            domain = {}
        with self._lock:
            self._domains[domain_id] = domain
        return domain

    def _select(self, wanted: list[str]) -> list[dict[str, Any]]:
        """Projects by name or Project Id, from one GetProjects call; unknown ones are named with suggestions."""
        projects = self._all_projects()
        if not wanted:
            return projects
        by_key = {p["id"].lower(): p for p in projects} | {p["name"]: p for p in projects}
        chosen, missing = [], []
        for w in wanted:
            p = by_key.get(w.lower() if looks_like_uuid_attempt(w) else w)
            (chosen if p else missing).append(p or w)
        if missing:
            raise self._not_found(missing, projects)
        return list({p["id"]: p for p in chosen}.values())

    def _not_found(self, missing: list[str], projects: list[dict[str, Any]]) -> CloudNotFound:
        pool = [p["name"] for p in projects] + [p["id"] for p in projects]
        hints = [f"{m!r}: {did_you_mean(m, pool) or 'this resource has no projects'}" for m in missing]
        return CloudNotFound(
            f"no Custom Vision project {', '.join(repr(m) for m in missing)} in target {self.target.name!r}",
            hint="; ".join(hints),
        )

    def _project_view(self, project: dict[str, Any]) -> ProjectIds:
        settings = project.get("settings") or {}
        domain, listed = together(lambda: self._domain(settings.get("domainId")), lambda: self._iterations(project["id"]))
        kind = domain.get("type")
        if kind == "Classification" and settings.get("classificationType"):
            kind = f"Classification ({settings['classificationType']})"
        iterations = [
            IterationIds(
                id=i.get("id", ""),
                name=i.get("name", ""),
                status=i.get("status", ""),
                created=i.get("created"),
                trained_at=i.get("trainedAt"),
                last_modified=i.get("lastModified"),
            )
            for i in listed
        ]
        iterations.sort(key=lambda i: i.created or "", reverse=True)
        return ProjectIds(project["id"], project.get("name", ""), kind, domain.get("name"), iterations)

    # ---- the provider contract ----------------------------------------------------------------

    def ids(self, name: str | None = None) -> CustomVisionIds:
        """Project Id, iterations and Resource ID; for one project (name or Project Id) or all configured."""
        if name is not None and looks_like_uuid_attempt(name):
            projects = [self._project(check_uuid(name, "Project Id"))]
        elif name is not None:
            projects = self._select([check_text_name(name, "project name")])
        else:
            projects = self._select(self._configured())
        return CustomVisionIds(
            target=self.target.name,
            endpoint=self.target.endpoint,
            resource_id=self.target.full_resource_id,
            subscription_id=self.target.subscription,
            region=self.target.region,
            projects=pmap(self._project_view, projects, PROJECT_WORKERS),
        )

    def names(self) -> list[str]:
        """The resource's projects by name, live (one GetProjects call): what `ids` takes for one."""
        return sorted(p.get("name", "") for p in self._all_projects() if p.get("name"))

    def _configured(self) -> list[str]:
        out = []
        for p in self.target.projects:
            out.append(check_uuid(p, "Project Id") if looks_like_uuid_attempt(p) else check_text_name(p, "project name"))
        return out

    def failures(self) -> list[Failure]:
        """Failed iterations of the configured projects, each diagnosed, with the images-per-tag check.

        Errors are raised in a fixed order whatever finished first: the project selection, then each
        project in configured (or listed) order, its iterations before its tags before its domain.
        """
        wanted = self._configured()
        if wanted and all(looks_like_uuid_attempt(w) for w in wanted):
            domains, reads = together(
                lambda: settle(self._all_domains)[0],
                lambda: pmap(self._read_by_id, list(dict.fromkeys(wanted)), PROJECT_WORKERS),
            )
            missing = [pid for pid, (project, _, _) in reads if isinstance(project.error, CloudNotFound)]
            if missing:
                raise self._not_found(missing, self._all_projects())
            read = [(project.get(), iterations.get(), tags.get()) for _, (project, iterations, tags) in reads]
        else:
            domains, read = self._read_selected(wanted)
        found = [self._project_failures(p, its, tags, domains) for p, its, tags in read]
        return [f for group in found for f in group]

    def _read_selected(self, wanted: list[str]) -> tuple[Outcome, list[tuple[dict[str, Any], list, list]]]:
        """The projects named (or all of them), listed by GetProjects, with their iterations and tags.

        The projects the last sweep of this process selected are read at once beside the listing
        (one round of calls instead of two: a Slack server or a watcher sweeps again and again). The
        listing still decides what is read: a project it no longer has is dropped with whatever its
        reads answered, one it newly has is read after it; errors come in the same order as when
        the listing is read first.
        """
        key = (self.target.endpoint, self.target.name, tuple(wanted))
        known = _SELECTED.get(key, [])
        domains, selection, early = together(
            lambda: settle(self._all_domains)[0],
            lambda: settle(lambda: self._select(wanted))[0],
            lambda: pmap(lambda pid: (pid, settle(lambda: self._iterations(pid), lambda: self._tags(pid))), known,
                         PROJECT_WORKERS),
        )
        projects = selection.get()
        _remember(key, [p["id"] for p in projects])
        ahead = dict(early)
        # The projects new to the list, read now; their errors are raised below, in project order.
        late = iter(pmap(lambda p: attempt(lambda: self._read(p)), [p for p in projects if p["id"] not in ahead],
                         PROJECT_WORKERS))
        read = []
        for p in projects:
            if p["id"] in ahead:
                iterations, tags = ahead[p["id"]]
                read.append((p, iterations.get(), tags.get()))
            else:
                read.append(next(late).get())
        return domains, read

    def _read_by_id(self, project_id: str) -> tuple[str, list[Outcome]]:
        """GetProject, GetIterations and GetTags of a configured Project Id at once (no GetProjects first)."""
        return project_id, settle(
            lambda: self._get(f"/projects/{project_id}", f"get project {project_id}"),
            lambda: self._iterations(project_id),
            lambda: self._tags(project_id),
        )

    def _read(self, project: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        # The iterations and the tags do not depend on each other: one round of calls, not two
        # (the tags are read even when nothing failed).
        iterations, tags = together(lambda: self._iterations(project["id"]), lambda: self._tags(project["id"]))
        return project, iterations, tags

    def probe(self) -> str:
        projects = self._all_projects()
        return f"Custom Vision {self.target.endpoint}: listed {len(projects)} project(s)"

    # ---- diagnosis ----------------------------------------------------------------------------

    def _project_failures(
        self, project: dict[str, Any], iterations: list[dict[str, Any]], tags: list[dict[str, Any]], domains: Outcome
    ) -> list[Failure]:
        failed = [i for i in iterations if str(i.get("status", "")).lower() == "failed"]
        if not failed:
            return []
        domain = self._domain_of((project.get("settings") or {}).get("domainId"), domains)
        check = images_per_tag(tags, domain.get("type"))
        completed = [i for i in iterations if str(i.get("status", "")).lower() == "completed"]
        found = [self._failure(project, it, domain, check, completed) for it in failed]
        # Seed 000: retry first. Each failed iteration is one attempt; support asks how many were made.
        tried = [{"name": it.get("name", "?"), "at": it.get("lastModified") or it.get("created") or "?"} for it in failed]
        attempts = ", ".join(f"{a['name']} ({a['at']})" for a in tried)
        for f in found:
            later = " a later iteration completed" if f.details.get("superseded") else " no iteration completed since"
            f.details["failed_attempts"] = tried
            f.fields.setdefault("retries_done", f"{len(failed)} failed training attempt(s) in this project: {attempts};{later}")
        return found

    def _failure(
        self,
        project: dict[str, Any],
        it: dict[str, Any],
        domain: dict[str, Any],
        check: "TagCheck",
        completed: list[dict[str, Any]],
    ) -> Failure:
        line = json.dumps(it, ensure_ascii=False)  # the GetIterations entry, as support sees it
        matches = diagnose_lines([line], "customvision", self.lang)
        if not any(m.id == "customvision.training_failed" for m in matches):
            matches.append(playbook_match("customvision.training_failed", [line], 55, self.lang))
        if check.below_minimum:
            matches.append(playbook_match("customvision.insufficient_training_images", check.evidence(self.lang), 85, self.lang))
        elif check.below_recommended:
            matches.append(playbook_match("customvision.insufficient_training_images", check.evidence(self.lang), 45, self.lang))
        fields = {
            "project_id": project["id"],
            "iteration_id": it.get("id", ""),
            "resource_id": self.target.full_resource_id,
            "subscription_id": self.target.subscription,
            "images_per_tag": check.summary(),
            "error_message": f"iteration status {it.get('status')}",
        }
        if self.target.region:
            fields["region"] = self.target.region
        if domain.get("type"):
            fields["project_type"] = f"{domain['type']} ({domain.get('name', 'domain')})"
        if it.get("lastModified"):
            fields["failure_time"] = it["lastModified"]
        created = it.get("created") or ""
        details: dict[str, Any] = {
            "project_name": project.get("name", ""),
            "iteration_name": it.get("name", ""),
            "domain_type": domain.get("type"),
            "images_per_tag": check.to_json(),
            "superseded": any((c.get("created") or "") > created for c in completed),
        }
        later = sorted((c for c in completed if (c.get("created") or "") > created), key=lambda c: c.get("created") or "")
        if later:  # retrained: a later iteration of the same project completed
            c = later[0]
            details["recovered_by"] = f"iteration {c.get('name', '?')!r} completed at {c.get('trainedAt') or c.get('lastModified') or c.get('created')}"
        ticket_sub = self.settings.config.defaults.subscription_id
        if ticket_sub and ticket_sub.lower() != self.target.subscription.lower():
            details["warnings"] = [
                f"support tickets must be filed from subscription {self.target.subscription} (the one holding the "
                f"resource); defaults.subscription_id is {ticket_sub}"
            ]
        return Failure(
            service=self.service,
            target=self.target.name,
            kind="iteration",
            key=it.get("id", ""),
            status=str(it.get("status", "")),
            message=f"iteration {it.get('name', '?')!r} of project {project.get('name', '?')!r} failed",
            occurred_at=_when(it.get("lastModified") or it.get("created")),
            fields=fields,
            matches=merge(matches),
            log_excerpt=line,
            details=details,
        )


@dataclass
class TagCheck:
    """Tagged images per tag against the documented minimum (5 classification, 15 detection) and 50 recommended."""

    counts: dict[str, int]
    domain_type: str | None
    minimum: int
    below_minimum: list[str]
    below_recommended: list[str]

    def evidence(self, lang: str = "en") -> list[str]:
        return images_per_tag_lines(self.to_json(), self.domain_type, lang)

    def summary(self) -> str:
        return ", ".join(f"{k}: {v}" for k, v in sorted(self.counts.items(), key=lambda kv: kv[1])) or "no tags"

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "minimum": self.minimum,
            "recommended": RECOMMENDED_IMAGES_PER_TAG,
            "below_minimum": self.below_minimum,
            "below_recommended": self.below_recommended,
        }


def images_per_tag(tags: list[dict[str, Any]], domain_type: str | None) -> TagCheck:
    """Compare each regular tag's imageCount with the minimum for the project type (no tags at all fails too)."""
    minimum = MIN_IMAGES_PER_TAG.get(domain_type or "", MIN_IMAGES_PER_TAG["Classification"])
    counts = {t.get("name", "?"): int(t.get("imageCount") or 0) for t in tags if t.get("type", "Regular") != "Negative"}
    ordered = sorted(counts, key=lambda n: (counts[n], n))
    below_min = [n for n in ordered if counts[n] < minimum] if counts else ["(no tags)"]
    below_rec = [n for n in ordered if minimum <= counts[n] < RECOMMENDED_IMAGES_PER_TAG]
    return TagCheck(counts, domain_type, minimum, below_min, below_rec)
