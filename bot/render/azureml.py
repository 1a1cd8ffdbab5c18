"""Terminal text for Azure ML: `ids azureml` and `logs azureml`. IDs sit on their own lines to copy cleanly."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

from bot.render.text import render_diagnosis

if TYPE_CHECKING:
    from bot.commands.logs import DeploymentLogs, JobLogs

MAX_MATCHES = 3


def render_azureml_ids(doc: dict[str, Any]) -> str:
    """One workspace from AzureMLIds.to_json(): resource IDs, endpoints with deployments, recent jobs."""
    out = [
        f"azureml · target {doc['target']}",
        f"  Workspace:        {doc['workspace']}",
        f"  Workspace ID:     {doc['workspace_resource_id']}",
        f"  Subscription ID:  {doc['subscription_id']}",
        f"  Resource group:   {doc['resource_group']}",
    ]
    if doc.get("region"):
        out.append(f"  Region:           {doc['region']}")
    for note in doc.get("notes") or []:
        out.append(f"  note: {note}")
    out += ["", f"  Online endpoints ({len(doc['endpoints'])}):" if doc["endpoints"] else "  Online endpoints: none"]
    for ep in doc["endpoints"]:
        out += [
            f"    {ep['name']}  {ep['provisioning_state']}" + (f"  auth {ep['auth_mode']}" if ep.get("auth_mode") else ""),
            f"      Endpoint ID:  {ep['id']}",
        ]
        if ep.get("scoring_uri"):
            out.append(f"      Scoring URI:  {ep['scoring_uri']}")
        if not ep["deployments"]:
            out.append("      (no deployments)")
            continue
        width = max(len(d["name"]) for d in ep["deployments"])
        for d in ep["deployments"]:
            size = f"{d['instance_type'] or '?'} x {d['instance_count'] if d['instance_count'] is not None else '?'}"
            traffic = f"traffic {d['traffic_percent']}%" if d["traffic_percent"] is not None else "no traffic"
            line = f"      {d['name']:<{width}}  {d['provisioning_state']:<9}  {size:<24}  {traffic}"
            if d["provisioning_state"] == "Failed":
                line += f"   → triage logs azureml {ep['name']} {d['name']}"
            out.append(line)
    jobs = doc.get("jobs")
    if jobs is not None:
        out += ["", f"  Recent jobs, newest first ({len(jobs)}):" if jobs else "  Recent jobs: none"]
        if jobs:
            wn = max(len(j["name"]) for j in jobs)
            ws = max(len(j["status"]) for j in jobs)
            out.append(f"    {'Name':<{wn}}  {'Status':<{ws}}  {'Created (UTC)':<16}  {'Compute':<16}  Experiment / display name")
            for j in jobs:
                created = (j["created_at"] or "-")[:16].replace("T", " ")
                label = " / ".join(x for x in (j.get("experiment"), j.get("display_name")) if x) or "-"
                out.append(f"    {j['name']:<{wn}}  {j['status']:<{ws}}  {created:<16}  {j['compute'] or '-':<16}  {label}")
            for j in jobs:
                if j["status"] == "Failed":
                    out.append(f"    {j['name']} failed → triage logs azureml --job {j['name']}")
                    if j.get("studio_url"):
                        out.append(f"      Studio: {j['studio_url']}")
    return "\n".join(out)


def _matches(matches: list[Any], lang: str) -> list[str]:
    if not matches:
        return ["No playbook explains this log. Nothing was guessed; `triage diagnose` a longer excerpt for more."]
    out = ["Diagnosis:"]
    for n, d in enumerate(matches[:MAX_MATCHES], 1):
        out.append(render_diagnosis(d, n, lang))
    return out


def render_deployment_logs(r: DeploymentLogs) -> str:
    head = f"azureml · target {r.target} · {r.endpoint}/{r.deployment} · {r.container} log, last {r.line_count} line(s)"
    out = [head, "-" * min(len(head), 100)]
    out.append(r.text.rstrip("\n") if r.text.strip() else "(the log is empty: the container may not have started yet)")
    if not r.text.strip() and r.container == "inference-server":
        out.append(f"Try the model download log: triage logs azureml {r.endpoint} {r.deployment} --container storage-initializer")
    out += ["-" * min(len(head), 100), ""]
    return "\n".join(out + _matches(r.matches, r.lang))


def render_job_logs(r: JobLogs) -> str:
    j = r.job
    out = [
        f"azureml · target {r.target} · job {j.name}  {j.status}",
        f"  Display name:  {j.display_name or '-'}",
        f"  Experiment:    {j.experiment or '-'}",
        f"  Compute:       {j.compute or '-'}",
    ]
    if j.studio_url:
        out.append(f"  Studio:        {j.studio_url}")
    if r.error_code or r.error_message:
        out += ["", f"  Error code:    {r.error_code or '-'}" + (f"   at {r.error_time}" if r.error_time else "")]
        msg = (r.error_message or "").rstrip()
        lines = msg.splitlines() or ["-"]
        pad = " " * 17
        out += textwrap.wrap(lines[0], 96, initial_indent="  Message:       ", subsequent_indent=pad)
        out += [f"{pad}{line}" for line in lines[1:]]
        if r.correlation_id or r.request_id:
            out.append(f"  Correlation:   operation {r.correlation_id or '-'}, request {r.request_id or '-'}")
    elif j.status == "Failed":
        out += ["", "  (run details carry no error for this job)"]
    for w in r.warnings:
        out.append(f"  warning: {w}")
    if r.log_name:
        cut = " (read from the end of a large file)" if r.log_partial else ""
        head = f"{r.log_name}, last {len(r.text.splitlines())} line(s){cut}"
        out += ["", head, "-" * min(len(head), 100), r.text.rstrip("\n") or "(empty)", "-" * min(len(head), 100)]
    if r.note:
        out += [""] + textwrap.wrap("note: " + r.note, 100, subsequent_indent="      ")
    out.append("")
    return "\n".join(out + _matches(r.matches, r.lang))
