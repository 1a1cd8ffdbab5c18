"""Terminal text for `ids`, `status` and `config check`. IDs go on their own lines so they copy cleanly."""

from __future__ import annotations

import textwrap
from typing import Any

from bot.commands.config_check import ConfigReport
from bot.commands.ids import IdsResult, TargetIds
from bot.commands.status import StatusResult, TargetStatus
from bot.failures import Failure
from bot.render.azureml import render_azureml_ids

MAX_OTHER_MATCHES = 3
_MARK = {"ok": "ok  ", "warning": "warn", "error": "FAIL"}


def _error_lines(e: Any, indent: str = "  ") -> list[str]:
    out = [f"{indent}error: {e.message}"]
    if e.hint:
        out.append(f"{indent}hint: {e.hint}")
    return out


# ---- ids ------------------------------------------------------------------------------------------


def render_ids(result: IdsResult) -> str:
    blocks = [_render_target_ids(t) for t in result.targets]
    return "\n\n".join(blocks) if blocks else "nothing found"


def _render_target_ids(t: TargetIds) -> str:
    if t.error is not None:
        return "\n".join([f"{t.service} · target {t.target}"] + _error_lines(t.error))
    doc = t.ids.to_json()
    if t.service == "customvision":
        return _render_customvision_ids(doc)
    if t.service == "rekognition":
        return _render_rekognition_ids(doc)
    if t.service == "azureml":
        return render_azureml_ids(doc)
    return "\n".join([f"{t.service} · target {t.target}"] + _generic(doc, "  "))


def _render_customvision_ids(doc: dict[str, Any]) -> str:
    out = [
        f"customvision · target {doc['target']}",
        f"  Resource ID:      {doc['resource_id']}",
        f"  Subscription ID:  {doc['subscription_id']}",
        f"  Endpoint:         {doc['endpoint']}",
    ]
    if doc.get("region"):
        out.append(f"  Region:           {doc['region']}")
    if not doc["projects"]:
        out.append("  (no projects)")
    for p in doc["projects"]:
        kind = p.get("project_type") or "unknown type"
        if p.get("domain"):
            kind += f", domain {p['domain']}"
        out += ["", f"  Project: {p['name']}", f"    Project Id:  {p['project_id']}", f"    Type:        {kind}"]
        if not p["iterations"]:
            out.append("    (no iterations)")
            continue
        out.append("    Iterations, newest first:")
        width = max(len(i["name"]) for i in p["iterations"])
        out.append(f"      {'Iteration Id':<36}  {'Name':<{width}}  {'Status':<9}  {'Created':<20}  Trained")
        for i in p["iterations"]:
            out.append(
                f"      {i['iteration_id']:<36}  {i['name']:<{width}}  {i['status']:<9}  "
                f"{i['created'] or '-':<20}  {i['trained_at'] or '-'}"
            )
    return "\n".join(out)


def _render_rekognition_ids(doc: dict[str, Any]) -> str:
    out = [f"rekognition · target {doc['target']} ({doc['region']})"]
    if not doc["projects"]:
        out.append("  (no projects)")
    for p in doc["projects"]:
        out += ["", f"  Project: {p['name']}  ({p['status']})", f"    Project ARN: {p['project_arn']}"]
        if not p["versions"]:
            out.append("    (no models)")
            continue
        out.append("    Models, newest first:")
        for v in p["versions"]:
            out.append(f"      {v['name']}  {v['status']}  created {v['created'] or '-'}")
            out.append(f"        Model ARN: {v['version_arn']}")
            if v.get("status_message"):
                out += textwrap.wrap(
                    v["status_message"], 96, initial_indent="        StatusMessage: ", subsequent_indent="          "
                )
    return "\n".join(out)


def _generic(value: Any, indent: str) -> list[str]:
    """Any other provider's to_json(), as indented key: value lines."""
    out: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                out.append(f"{indent}{k}:")
                out += _generic(v, indent + "  ")
            else:
                out.append(f"{indent}{k}: {'-' if v in (None, '', [], {}) else v}")
    elif isinstance(value, list):
        for item in value:
            sub = _generic(item, indent + "  ")
            if sub:
                out.append(f"{indent}- {sub[0].strip()}")
                out += sub[1:]
    else:
        out.append(f"{indent}{value}")
    return out


# ---- status ----------------------------------------------------------------------------------------


def render_status(result: StatusResult) -> str:
    n_targets, n_fail, n_err = len(result.targets), len(result.failures), len(result.errors)
    head = f"{n_targets} target(s) checked in {result.elapsed_s:.2f} s: {n_fail} failure(s)"
    if n_err:
        head += f", {n_err} target(s) could not be checked"
    out = [head]
    for t in result.targets:
        out.append("")
        out += _render_target_status(t)
    return "\n".join(out)


def _render_target_status(t: TargetStatus) -> list[str]:
    name = f"{t.service}/{t.target}"
    if t.error is not None:
        return [f"! {name}: could not be checked ({type(t.error).__name__})"] + _error_lines(t.error, "    ")
    if not t.failures:
        return [f"✓ {name}: no failures"]
    out: list[str] = []
    for i, f in enumerate(t.failures):
        if i:
            out.append("")
        out += render_failure(f)
    return out


_FIELD_LABELS = [
    ("project_id", "Project Id"),
    ("iteration_id", "Iteration Id"),
    ("resource_id", "Resource ID"),
    ("subscription_id", "Subscription ID"),
    ("project_arn", "Project ARN"),
    ("version_arn", "Model ARN"),
    ("status_message", "StatusMessage"),
    ("images_per_tag", "Images per tag"),
    ("manifest_summary", "Manifest summary"),
    ("validation_manifest", "Validation manifests"),
    ("workspace", "Workspace"),
    ("endpoint", "Endpoint"),
    ("deployment", "Deployment"),
    ("instance_type", "Instance type"),
    ("job_name", "Job"),
    ("compute", "Compute"),
    ("error_code", "Error code"),
    ("studio_url", "Studio URL"),
]


def render_failure(f: Failure) -> list[str]:
    """One failure: what failed, the IDs to copy, the diagnosis, the first steps."""
    what = f.details.get("iteration_name") or f.details.get("version_name") or f.key
    head = f"✗ {f.service}/{f.target}: {f.kind} {what!r} {f.status}"
    if f.details.get("superseded"):
        head += " (a later iteration completed)"
    out = [head, f"    {f.message}"] if f.message and f.message != f.fields.get("status_message") else [head]
    for key, label in _FIELD_LABELS:
        if f.fields.get(key):
            out.append(f"    {label + ':':<22}{f.fields[key]}")
    for w in f.details.get("warnings", []):
        out.append(f"    warning: {w}")
    for note in f.details.get("notes") or []:
        out.append(f"    note: {note}")
    manifest = f.details.get("manifest") or {}
    for name, d in ((manifest.get("summary") or {}).get("datasets") or {}).items():
        if d.get("invalid_json_lines") and d.get("invalid_share") is not None:
            flag = "over" if d["over_invalid_limit"] else "under"
            out.append(
                f"    {name} manifest: {d['invalid_json_lines']} of {d['total_json_lines']} JSON lines invalid "
                f"({d['invalid_share']:.1%}, {flag} the {manifest['summary']['invalid_share_limit']:.0%} limit)"
            )
    if manifest.get("line_errors"):
        out.append("    Commonest JSON-line errors (validation manifests):")
        for row in manifest["line_errors"]:
            eg = ", ".join(str(n) for n in row["example_lines"])
            title = f": {row['title']}" if row.get("title") else ""
            out.append(f"      {row['code']}  {row['lines']} line(s) in {row['dataset']} (e.g. line {eg})")
            out.append(f"        → {row['playbook']}{title}")
    for problem in manifest.get("problems", []):
        out.append(f"    note: {problem}")
    if not f.matches:
        out.append("    no playbook explains this failure yet; `triage diagnose` the log for more")
        return out
    out.append("    Diagnosis:")
    for n, d in enumerate(f.matches[: 1 + MAX_OTHER_MATCHES], 1):
        out.append(f"      {n}. {d.title}  [{d.id}]  score {d.score}")
        for e in d.evidence[:3]:
            out += textwrap.wrap(e.text, 92, initial_indent="           · ", subsequent_indent="             ",
                                 break_on_hyphens=False, max_lines=3, placeholder=" …")
        if n == 1:
            for i, step in enumerate(d.steps, 1):
                out += textwrap.wrap(step.text, 90, initial_indent=f"         {i}) ", subsequent_indent="            ")
                if step.run:
                    out += [f"            $ {line}" for line in step.run.splitlines()]
    return out


# ---- config check -------------------------------------------------------------------------------


def render_config_check(report: ConfigReport) -> str:
    out = [f"config: {report.path or '(none found)'}" + ("  (live checks included)" if report.live else "")]
    for c in report.checks:
        where = f"{c.service}/{c.target}" if c.target else (c.service or "config")
        out.append(f"  {_MARK.get(c.level, c.level)}  {where}: {c.message}")
        if c.hint and c.level != "ok":
            out.append(f"        hint: {c.hint}")
    errors = sum(c.level == "error" for c in report.checks)
    warnings = sum(c.level == "warning" for c in report.checks)
    out.append("ok" if report.ok and not warnings else f"{errors} error(s), {warnings} warning(s)")
    return "\n".join(out)
