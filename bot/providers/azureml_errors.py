"""Azure errors (azure-core, azure-ai-ml) as named CloudErrors a person can act on.

401 / no credential -> CloudAuthError (sign in: `az login`, DefaultAzureCredential's chain);
403 AuthorizationFailed -> CloudAuthError naming the action, the scope and the role to grant;
404 -> CloudNotFound with close names; 429 after retries -> CloudThrottled; no answer -> CloudTimeout.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from azure.ai.ml.exceptions import MlException
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    DecodeError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from bot.config import AzureMLTarget
from bot.errors import CloudAuthError, CloudError, CloudNotFound, CloudThrottled, CloudTimeout
from bot.identifiers import did_you_mean

# Roles that carry the actions triage needs (Azure built-in roles).
READ_ROLE = "Reader"  # */read: list endpoints, deployments, jobs, run details
ACTION_ROLE = "AzureML Data Scientist"  # adds workspaces/*/action, e.g. deployments/getLogs/action

Missing = tuple[str, str, Callable[[], Iterable[str]]]
"""(kind, name, names that do exist): what a 404 means at this call site."""


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


_ACTION = re.compile(r"perform action '([^']+)'")
_SCOPE = re.compile(r"over scope '([^']+)'")
_CLIENT = re.compile(r"The client '([^']+)'(?: with object id '([^']+)')?")


def role_for(action: str | None) -> str:
    """The built-in role that grants an action triage needs: Reader reads, Data Scientist also runs */action."""
    if action and not action.lower().endswith("/read"):
        return ACTION_ROLE
    return READ_ROLE


def _error_parts(e: AzureError) -> tuple[int | None, str, str, str | None]:
    """(status, code, message, request id) of an azure-core error."""
    status = getattr(e, "status_code", None)
    err = getattr(e, "error", None)
    code = str(getattr(err, "code", "") or "")
    message = str(getattr(err, "message", "") or "") or first_line(getattr(e, "message", None) or str(e))
    response = getattr(e, "response", None)
    request_id = None
    if response is not None:
        headers = response.headers
        request_id = headers.get("x-ms-request-id") or headers.get("x-ms-correlation-request-id")
    return status, code, message, request_id


STATUS_PAGE = "https://azure.status.microsoft/status"


def _said(status: int | None, code: str) -> str:
    """`404 ResourceNotFound`, or just `404` when the code repeats the status (never `404 404`)."""
    if status is None:
        return code or "no status"
    return f"{status} {code}" if code and code != str(status) else str(status)


def not_json(doing: str, target: AzureMLTarget, said: str = "") -> CloudError:
    """An answer that is not JSON: a proxy's login page or another service, not Resource Manager."""
    return CloudError(
        f"the answer while {doing} is not JSON" + (f" ({said})" if said else "") + ": it did not come from Azure",
        hint=f"a proxy or a wrong endpoint answered: check cloud / resource_manager_endpoint ({target.arm_endpoint}) "
        "for this target and the proxy settings (HTTPS_PROXY, NO_PROXY)",
    )


def translate(
    e: AzureError,
    *,
    doing: str,
    target: AzureMLTarget,
    missing: Missing | None = None,
    retries: int = 0,
) -> CloudError:
    """An azure-core or azure-ai-ml error as a CloudError a person can act on."""
    status, code, message, request_id = _error_parts(e)
    ref = f" (request id {request_id})" if request_id else ""
    where = f"workspace {target.workspace} (target {target.name!r})"
    if isinstance(e, ClientAuthenticationError):
        if status is None:  # no HTTP response: the credential chain itself could not get a token
            return CloudAuthError(
                f"no Azure credential available while {doing}: {first_line(message)}",
                hint="run `az login` (add --tenant <tenant> if needed), or set AZURE_CLIENT_ID / AZURE_TENANT_ID / "
                "AZURE_CLIENT_SECRET, or run where a managed identity is assigned: triage uses DefaultAzureCredential",
            )
        return CloudAuthError(
            f"Azure rejected the credential while {doing} ({_said(status, code)}): {message}{ref}",
            hint="sign in again with `az login` (or check the service principal / managed identity DefaultAzureCredential "
            "picks up); the token must be for the tenant that owns subscription " + target.subscription_id,
        )
    if isinstance(e, ResourceNotFoundError) or status == 404:
        if code in ("ResourceGroupNotFound", "SubscriptionNotFound") or re.search(r"workspaces/[^/'\s]+'", message):
            return CloudNotFound(
                f"{where} not found: {message}{ref}",
                hint="check subscription_id, resource_group and workspace of this [[azureml]] target in triage.toml",
            )
        if missing is not None:
            kind, name, candidates = missing
            try:
                hint = did_you_mean(name, candidates())
            except (AzureError, CloudError):
                hint = None
            return CloudNotFound(f"{kind} {name!r} not found in {where}", hint=hint)
        return CloudNotFound(
            f"not found while {doing} ({_said(status, code)}): {message}{ref}",
            hint=f"check the names in triage.toml for target {target.name!r} (`triage ids azureml` lists what exists) "
            f"and that {target.arm_endpoint} is the Resource Manager of the workspace's cloud ({target.cloud})",
        )
    if status == 403 or code in ("AuthorizationFailed", "LinkedAuthorizationFailed"):
        action = _ACTION.search(message)
        scope = _SCOPE.search(message)
        client = _CLIENT.search(message)
        who = f"the credential ({client.group(1)})" if client else "the credential"
        what = f"perform {action.group(1)}" if action else doing
        on = f" on {scope.group(1)}" if scope else ""
        role = role_for(action.group(1) if action else None)
        needs = f"the '{role}' role" if role == ACTION_ROLE else f"the '{READ_ROLE}' (or '{ACTION_ROLE}') role"
        assignee = client.group(2) if client and client.group(2) else "<object id>"
        return CloudAuthError(
            f"{who} may not {what}{on} ({_said(status, code or 'Forbidden')}){ref}",
            hint=f"it needs {needs} on workspace {target.workspace}: "
            f'az role assignment create --assignee {assignee} --role "{role}" '
            f"--scope {target.workspace_resource_id} (role changes take a few minutes; then sign in again)",
        )
    if status == 429:
        return CloudThrottled(
            f"Azure kept throttling while {doing} ({_said(429, code)}; tried {retries + 1} times): {message}{ref}",
            hint="ARM limits reads per subscription and per principal; wait a minute and try again",
        )
    if isinstance(e, DecodeError):
        return not_json(doing, target, _said(status, code))
    if isinstance(e, (ServiceRequestError, ServiceResponseError)) or "timeout" in type(e).__name__.lower():
        return CloudTimeout(
            f"no answer from Azure while {doing} ({type(e).__name__}: {first_line(message)}; a timeout is retried once)",
            hint=f"check the network or proxy; timeout_s = {target.timeout_s:g} for this target in triage.toml",
        )
    if isinstance(e, HttpResponseError) and status is not None and status >= 500:
        return CloudError(
            f"Azure ML failed while {doing} ({_said(status, code)}; tried {retries + 1} times): {message}{ref}",
            hint=f"the service is failing, not your setup: check {STATUS_PAGE} and try again later; "
            "quote the request id if it persists",
        )
    if isinstance(e, MlException):
        return CloudError(f"Azure ML SDK error while {doing}: {first_line(message)}")
    return CloudError(f"Azure ML refused {doing} ({_said(status, code) if status else type(e).__name__}): {message}{ref}")
