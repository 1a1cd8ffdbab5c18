"""The Azure ML provider: the real azure-ai-ml MLClient over recorded ARM / Run History responses."""

from __future__ import annotations

import json

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from click.testing import CliRunner

from aml_replay import ARM, RG, SUB, WS, WSID, FakeCredential, Reply, fixture, make_provider, standard_routes, transport_for
from bot.errors import CloudAuthError, CloudError, CloudNotFound, CloudThrottled, CloudTimeout, InputError
from bot.playbooks import cached

ARM_SCOPE = ("https://management.azure.com/.default",)
PLAYBOOK_IDS = {pb.id for pb in cached()}


def only(routes_first: list, *rest: tuple) -> list:
    """Routes tried before the standard ones (first match wins)."""
    return list(routes_first) + list(rest) + standard_routes()


# ---- ids -------------------------------------------------------------------------------------


def test_ids_end_to_end():
    provider, adapter, cred = make_provider(standard_routes())
    ids = provider.ids()
    doc = ids.to_json()

    assert doc["workspace_resource_id"] == WSID
    assert (doc["subscription_id"], doc["resource_group"], doc["workspace"]) == (SUB, RG, WS)
    assert doc["region"] == "westeurope"  # from the endpoints, as the target names none
    eps = {e["name"]: e for e in doc["endpoints"]}
    assert list(eps) == ["fraud-scorer", "image-classifier"]
    ic = eps["image-classifier"]
    assert ic["id"] == f"{WSID}/onlineEndpoints/image-classifier"
    assert ic["scoring_uri"] == "https://image-classifier.westeurope.inference.ml.azure.com/score"
    assert ic["provisioning_state"] == "Succeeded"
    deps = {d["name"]: d for d in ic["deployments"]}
    assert deps["green"] == {
        "name": "green",
        "endpoint": "image-classifier",
        "id": f"{WSID}/onlineEndpoints/image-classifier/deployments/green",
        "provisioning_state": "Failed",  # the plain value, not DeploymentProvisioningState.FAILED
        "instance_type": "Standard_NC6s_v3",
        "instance_count": 1,
        "model": f"{WSID}/models/resnet50-cls/versions/4",
        "traffic_percent": 0,
    }
    assert (deps["blue"]["instance_count"], deps["blue"]["traffic_percent"]) == (2, 100)

    jobs = doc["jobs"]
    assert [j["name"] for j in jobs] == ["calm_river_z3n5p8", "quiet_lamp_x7k2m9", "bold_tiger_q4w8e1"]  # newest first
    failed = jobs[1]
    assert failed["status"] == "Failed"
    assert (failed["experiment"], failed["compute"], failed["display_name"]) == (
        "image-classifier-training", "gpu-cluster-nc6", "train-resnet50-bs256",
    )
    assert failed["studio_url"].startswith("https://ml.azure.com/runs/quiet_lamp_x7k2m9?")
    assert failed["created_at"].startswith("2024-05-20T07:12:31")
    json.dumps(doc)  # serialisable as is

    # Read-only ARM calls with the bearer token of the ARM scope, nowhere else.
    assert {c.method for c in adapter.calls} == {"GET"}
    assert all(c.url.startswith(ARM) for c in adapter.calls)
    assert all(c.headers["Authorization"] == "Bearer fake-token" for c in adapter.calls)
    assert set(cred.scopes) == {ARM_SCOPE}


def test_tokens_are_cached_across_jobs():
    # The SDK asks the credential for a token for every job it lists (to find the tenant for
    # studio URLs); with the Azure CLI credential that would run `az` once per job.
    provider, adapter, cred = make_provider(standard_routes())
    provider.ids()
    assert len(cred.scopes) == 1


def test_ids_for_one_endpoint():
    provider, adapter, _ = make_provider(standard_routes())
    doc = provider.ids("image-classifier").to_json()
    assert [e["name"] for e in doc["endpoints"]] == ["image-classifier"]
    assert [d["name"] for d in doc["endpoints"][0]["deployments"]] == ["blue", "green"]
    assert doc["jobs"] is None
    assert not adapter.seen("GET", r"/jobs\?")


def test_configured_endpoints_filter_and_name_missing_ones():
    config = f"""
[[azureml]]
name = "aml-prod"
subscription_id = "{SUB}"
resource_group = "{RG}"
workspace = "{WS}"
endpoints = ["image-classifier", "fraud-scorrer"]
"""
    provider, _, _ = make_provider(standard_routes(), config=config)
    ids = provider.ids()
    assert [e.name for e in ids.endpoints] == ["image-classifier"]
    assert len(ids.notes) == 1
    assert "'fraud-scorrer'" in ids.notes[0] and "did you mean 'fraud-scorer'" in ids.notes[0]


@pytest.mark.parametrize("bad", ["1model", "ab", "x" * 33, "my_endpoint", "ep;rm -rf", ""])
def test_invalid_endpoint_name_is_rejected_before_any_request(bad):
    provider, adapter, cred = make_provider(standard_routes())
    with pytest.raises(InputError) as e:
        provider.ids(bad)
    assert "3 to 32 characters" in e.value.hint
    assert adapter.calls == [] and cred.scopes == []


# ---- failures ---------------------------------------------------------------------------------


def test_failed_job_is_listed_with_its_error_and_diagnosed():
    provider, adapter, _ = make_provider(standard_routes())
    failures = {f.key: f for f in provider.failures()}
    job = failures["quiet_lamp_x7k2m9"]
    assert (job.service, job.target, job.kind, job.status) == ("azureml", "aml-prod", "job", "Failed")
    f = job.fields
    assert f["error_code"] == "UserError"
    assert "CUDA out of memory. Tried to allocate 2.00 GiB" in f["error_message"]
    assert f["job_name"] == "quiet_lamp_x7k2m9"
    assert (f["experiment"], f["compute"]) == ("image-classifier-training", "gpu-cluster-nc6")
    assert (f["subscription_id"], f["resource_group"], f["workspace"], f["region"]) == (SUB, RG, WS, "westeurope")
    assert f["studio_url"].startswith("https://ml.azure.com/runs/quiet_lamp_x7k2m9")
    assert (f["correlation_id"], f["request_id"]) == ("8f4c1a2b3d5e6f708192a3b4c5d6e7f8", "b7d9e1f3a5c70912")
    assert job.occurred_at is not None and job.occurred_at.isoformat().startswith("2024-05-20T07:31:45")
    # The user log tail came from the SAS URL in run details, and its secret is masked.
    assert "torch.OutOfMemoryError" in job.log_excerpt
    assert "WANDB_API_KEY=[REDACTED]" in job.log_excerpt
    assert "5a1f0c9e7b3d2a4f6e8c0b1d3f5a7c9e2b4d6f80" not in json.dumps(job.to_json())
    assert job.details["log_file"] == "user_logs/std_log.txt"
    blob = adapter.seen("GET", r"blob\.core\.windows\.net")
    assert len(blob) == 1 and "Authorization" not in blob[0].headers  # the SAS URL is the credential
    assert job.matches, "a CUDA OOM should match some playbook"
    if "azureml.job.out_of_memory" in PLAYBOOK_IDS:
        assert job.matches[0].id == "azureml.job.out_of_memory"
    # Completed and running jobs are not failures.
    assert "bold_tiger_q4w8e1" not in failures and "calm_river_z3n5p8" not in failures


def test_failed_deployment_is_listed_with_operation_error_and_log_diagnosis():
    provider, adapter, _ = make_provider(standard_routes())
    failures = {f.key: f for f in provider.failures()}
    assert set(failures) == {"image-classifier/green", "quiet_lamp_x7k2m9"}  # blue deployments succeeded
    dep = failures["image-classifier/green"]
    assert (dep.kind, dep.status) == ("deployment", "Failed")
    f = dep.fields
    assert (f["endpoint"], f["deployment"], f["instance_type"], f["instance_count"]) == (
        "image-classifier", "green", "Standard_NC6s_v3", "1",
    )
    assert f["error_code"] == "ResourceNotReady"
    assert f["error_message"].startswith("User container has crashed or terminated")
    assert f["model"] == f"{WSID}/models/resnet50-cls/versions/4"
    assert "ModuleNotFoundError: No module named 'torchvision'" in dep.log_excerpt
    assert "AccountKey=[REDACTED]" in dep.log_excerpt
    assert "q8Vd1cXk3mN0pLr7" not in json.dumps(dep.to_json())
    assert dep.details["container"] == "inference-server"
    assert dep.occurred_at is not None
    # The ARM operation was read with the ARM token; the log with the documented getLogs body.
    op = adapter.seen("GET", r"/mfeOperationsStatus/")
    assert len(op) == 1 and op[0].headers["Authorization"] == "Bearer fake-token"
    logs = adapter.seen("POST", r"/deployments/green/getLogs\?")
    assert [json.loads(c.body) for c in logs] == [{"containerType": "InferenceServer", "tail": 200}]
    assert dep.matches and dep.matches[0].id.startswith("azureml.endpoint.ERR_2200")
    if "azureml.endpoint.ERR_2200.missing_package" in PLAYBOOK_IDS:
        assert "azureml.endpoint.ERR_2200.missing_package" in [m.id for m in dep.matches]


def test_failed_deployment_without_operation_record_falls_back_to_storage_initializer_log():
    routes = only([
        ("GET", r"/mfeOperationsStatus/", Reply(404, {"error": {"code": "NotFound", "message": "operation expired"}})),
        ("POST", r"/deployments/green/getLogs\?", Reply(body={"content": ""})),
    ])
    # Second getLogs (storage-initializer) has its own body: serve both in turn.
    routes[1] = ("POST", r"/deployments/green/getLogs\?", [
        Reply(body={"content": ""}),
        Reply(body={"content": "azureml-models/resnet50-cls/4: Access denied. AuthorizationPermissionMismatch\n"}),
    ])
    provider, adapter, _ = make_provider(routes)
    dep = {f.key: f for f in provider.failures()}["image-classifier/green"]
    assert dep.fields["error_message"] == "deployment provisioning state is Failed"
    assert "error_code" not in dep.fields
    assert dep.details["container"] == "storage-initializer"
    bodies = [json.loads(c.body)["containerType"] for c in adapter.seen("POST", r"/deployments/green/getLogs\?")]
    assert bodies == ["InferenceServer", "StorageInitializer"]
    assert "AuthorizationPermissionMismatch" in dep.log_excerpt


def test_operation_uri_off_arm_never_gets_the_token():
    green = fixture("deployment_image-classifier_green.json")
    green["properties"]["properties"]["AzureAsyncOperationUri"] = "https://collector.example.net/steal?x=1"
    blue = fixture("deployments_image-classifier.json")["value"][0]
    routes = only([("GET", r"/onlineEndpoints/image-classifier/deployments\?", Reply(body={"value": [blue, green]}))])
    provider, adapter, _ = make_provider(routes)
    dep = {f.key: f for f in provider.failures()}["image-classifier/green"]
    assert not [c for c in adapter.calls if "example.net" in c.url]
    assert dep.details["operation"] is None


# ---- cloud faults ----------------------------------------------------------------------------


def test_401_becomes_cloud_auth_error_saying_to_sign_in():
    routes = only([("GET", r"/onlineEndpoints\?", Reply(401, "error_401_expired_token.json",
                                                       {"WWW-Authenticate": 'Bearer error="invalid_token"'}))])
    provider, _, _ = make_provider(routes)
    with pytest.raises(CloudAuthError) as e:
        provider.probe()
    assert "ExpiredAuthenticationToken" in e.value.message
    assert "az login" in e.value.hint


def test_no_credential_at_all_becomes_cloud_auth_error_before_any_request():
    class NoCredential(FakeCredential):
        def get_token(self, *scopes, **kwargs):
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token from the included credentials.")

    provider, adapter, _ = make_provider(standard_routes(), credential=NoCredential())
    with pytest.raises(CloudAuthError) as e:
        provider.ids()
    assert "no Azure credential available" in e.value.message
    assert "az login" in e.value.hint and "DefaultAzureCredential" in e.value.hint
    assert adapter.calls == []


def test_403_authorization_failed_names_the_role_and_the_action():
    routes = only([("GET", r"/onlineEndpoints\?", Reply(403, "error_403_authorization_failed.json"))])
    provider, _, _ = make_provider(routes)
    with pytest.raises(CloudAuthError) as e:
        provider.probe()
    assert "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/read" in e.value.message
    assert "priya@contoso.com" in e.value.message
    assert "'Reader'" in e.value.hint and "AzureML Data Scientist" in e.value.hint
    assert f"--scope {WSID}" in e.value.hint
    assert "d2e4f6a8-0b1c-4d3e-9f5a-7b9c1d3e5f70" in e.value.hint  # the object id to assign the role to


def test_404_endpoint_suggests_a_close_name():
    routes = only([("GET", r"/onlineEndpoints/image-clasifier\?", Reply(404, "error_404_endpoint.json"))])
    provider, _, _ = make_provider(routes)
    with pytest.raises(CloudNotFound) as e:
        provider.ids("image-clasifier")
    assert e.value.message == f"endpoint 'image-clasifier' not found in workspace {WS} (target 'aml-prod')"
    assert e.value.hint == "did you mean 'image-classifier'?"


def test_404_workspace_points_at_the_config():
    routes = [("GET", r"/onlineEndpoints\?", Reply(404, "error_404_workspace.json"))]
    provider, _, _ = make_provider(routes)
    with pytest.raises(CloudNotFound) as e:
        provider.probe()
    assert "vision-wsx" in e.value.message and "triage.toml" in e.value.hint


def test_429_with_retry_after_then_200_is_retried_by_azure_core():
    throttled = Reply(429, "error_429_throttled.json", {"Retry-After": "0.01"})
    routes = only([("GET", r"/onlineEndpoints\?", [throttled, Reply(body="endpoints.json")])])
    provider, adapter, _ = make_provider(routes)
    assert provider.probe().endswith("(2 found)")
    assert len(adapter.seen("GET", r"/onlineEndpoints\?")) == 2


def test_429_that_persists_becomes_cloud_throttled_after_bounded_retries():
    throttled = Reply(429, "error_429_throttled.json", {"Retry-After": "3600"})  # capped by the transport
    routes = only([("GET", r"/onlineEndpoints\?", throttled)])
    provider, adapter, _ = make_provider(routes, retry_total=2)
    with pytest.raises(CloudThrottled) as e:
        provider.probe()
    assert "429" in e.value.message and "tried 3 times" in e.value.message and "429 429" not in e.value.message
    assert len(adapter.seen("GET", r"/onlineEndpoints\?")) == 3


def test_5xx_after_retries_is_a_plain_cloud_error_with_request_id():
    routes = only([("GET", r"/onlineEndpoints\?", Reply(503, {"error": {"code": "ServiceUnavailable", "message": "busy"}}))])
    provider, adapter, _ = make_provider(routes, retry_total=1)
    with pytest.raises(CloudError) as e:
        provider.probe()
    assert type(e.value) is CloudError
    assert "503" in e.value.message and "request id req-0001" in e.value.message
    assert len(adapter.calls) == 2


def test_connection_timeout_becomes_cloud_timeout():
    class Unreachable(requests.adapters.BaseAdapter):
        def __init__(self):
            super().__init__()
            self.calls = 0

        def send(self, request, **kwargs):
            self.calls += 1
            raise requests.exceptions.ConnectTimeout("connect timed out")

        def close(self):
            pass

    adapter = Unreachable()
    provider, _, _ = make_provider([], transport=transport_for(adapter), retry_total=1)
    with pytest.raises(CloudTimeout) as e:
        provider.probe()
    assert "timeout_s = 5" in e.value.hint
    assert adapter.calls == 2  # retried once, then gave up


def test_probe_reads_one_list():
    provider, adapter, _ = make_provider(standard_routes())
    assert provider.probe() == "Azure ML workspace vision-ws: can list online endpoints (2 found)"
    assert len(adapter.calls) == 1


def test_unknown_override_is_refused():
    with pytest.raises(TypeError):
        make_provider(standard_routes(), sessionn=object())


# ---- CLI end to end ------------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    """A triage.toml on disk and the provider's connect() seam pointing at the replay adapter."""
    from aml_replay import CONFIG, ReplayAdapter
    import bot.providers.azureml as aml

    path = tmp_path / "triage.toml"
    path.write_text(CONFIG, encoding="utf-8")
    state = {"routes": standard_routes()}

    def connect(target):
        state["adapter"] = ReplayAdapter(state["routes"])
        return aml.Connection(FakeCredential(), transport_for(state["adapter"]), retry_total=1,
                              retry_backoff_factor=0.01, retry_backoff_max=0.05, timeout_s=target.timeout_s)

    monkeypatch.setattr(aml, "connect", connect)
    return path, state


def invoke(args):
    from bot.cli import cli

    return CliRunner().invoke(cli, args, catch_exceptions=True)


def test_cli_ids_azureml_text(cli_env):
    path, state = cli_env
    r = invoke(["--config", str(path), "ids", "azureml"])
    assert r.exit_code == 0, r.output + repr(r.exception)
    out = r.output
    assert f"Workspace ID:     {WSID}" in out
    assert f"Subscription ID:  {SUB}" in out
    assert f"Endpoint ID:  {WSID}/onlineEndpoints/image-classifier" in out
    green = next(line for line in out.splitlines() if line.strip().startswith("green"))
    assert "Failed" in green and "Standard_NC6s_v3 x 1" in green and "→ triage logs azureml image-classifier green" in green
    assert "quiet_lamp_x7k2m9 failed → triage logs azureml --job quiet_lamp_x7k2m9" in out
    assert "DeploymentProvisioningState" not in out and "JobStatus" not in out


def test_cli_ids_azureml_json_for_one_endpoint(cli_env):
    path, state = cli_env
    r = invoke(["--config", str(path), "ids", "azureml", "fraud-scorer", "--target", "aml-prod", "--json"])
    assert r.exit_code == 0, r.output + repr(r.exception)
    doc = json.loads(r.output)
    (t,) = doc["targets"]
    assert t["ok"] and t["ids"]["workspace_resource_id"] == WSID
    assert [e["name"] for e in t["ids"]["endpoints"]] == ["fraud-scorer"]
    assert t["ids"]["endpoints"][0]["deployments"][0]["instance_count"] == 3


def test_cli_ids_azureml_bad_endpoint_name_makes_no_call(cli_env):
    path, state = cli_env
    r = invoke(["--config", str(path), "ids", "azureml", "9lives"])
    assert isinstance(r.exception, InputError)
    assert "not a valid Azure ML endpoint name" in str(r.exception)
    assert state["adapter"].calls == []


def test_cli_status_azureml_lists_both_failures(cli_env):
    path, state = cli_env
    r = invoke(["--config", str(path), "status", "azureml", "--json"])
    assert r.exit_code == 0, r.output + repr(r.exception)
    doc = json.loads(r.output)
    (t,) = doc["targets"]
    assert t["ok"] and doc["failure_count"] == 2
    assert {f["key"] for f in t["failures"]} == {"image-classifier/green", "quiet_lamp_x7k2m9"}
    assert "[REDACTED]" in r.output and "q8Vd1cXk3mN0pLr7" not in r.output


def test_a_later_completed_run_of_the_same_experiment_recovers_the_failed_job():
    provider, _, _ = make_provider(standard_routes())
    assert "recovered_by" not in {f.key: f for f in provider.failures()}["quiet_lamp_x7k2m9"].details  # its success came before

    jobs = fixture("jobs.json")
    for j in jobs["value"]:
        if j["name"] == "bold_tiger_q4w8e1":  # the same experiment, run again after the failure, completed
            j["systemData"]["createdAt"] = "2024-05-20T08:30:00.0000000Z"
    routes = [r if r[1] != r"/jobs\?" else ("GET", r"/jobs\?", Reply(body=jobs)) for r in standard_routes()]
    provider, _, _ = make_provider(routes)
    job = {f.key: f for f in provider.failures()}["quiet_lamp_x7k2m9"]
    assert job.details["recovered_by"] == "run 'bold_tiger_q4w8e1' of experiment 'image-classifier-training' completed (started 2024-05-20T08:30:00+00:00)"


def test_a_failed_deployment_provisioned_again_is_a_recovery_marker_for_the_watcher():
    provider, _, _ = make_provider(standard_routes())
    failures = provider.failures()
    assert "image-classifier/green" in {f.key for f in failures}
    assert "image-classifier/green" not in {m.key for m in provider.watch_markers()}
    assert "image-classifier/blue" in {m.key for m in provider.watch_markers()}  # never failed: harmless, no alert has its fingerprint

    def deployments(state: str) -> Reply:
        doc = fixture("deployments_image-classifier.json")
        for d in doc["value"]:
            if d["name"] == "green":
                d["properties"]["provisioningState"] = state
                d["systemData"]["lastModifiedAt"] = "2024-05-20T09:15:00.0000000Z"
        return Reply(body=doc)

    for state, details in (("Updating", {"in_progress": "Updating"}),
                           ("Succeeded", {"recovered_by": "deployment image-classifier/green provisioned again (Succeeded) "
                                                          "at 2024-05-20T09:15:00+00:00"})):
        routes = [r if r[1] != r"/onlineEndpoints/image-classifier/deployments\?" else (r[0], r[1], deployments(state))
                  for r in standard_routes()]
        provider, _, _ = make_provider(routes)
        failures = provider.failures()
        assert "image-classifier/green" not in {f.key for f in failures}  # `triage status` lists only what fails now
        (marker,) = [m for m in provider.watch_markers() if m.key == "image-classifier/green"]
        assert marker.details == details
        failed = next(f for f in make_provider(standard_routes())[0].failures() if f.key == "image-classifier/green")
        assert marker.fingerprint == failed.fingerprint  # the same alert


def test_names_lists_the_workspaces_online_endpoints():
    provider, adapter, _ = make_provider(standard_routes())
    assert provider.names() == ["fraud-scorer", "image-classifier"]
    assert not adapter.seen("GET", r"/jobs\?")  # one list call, nothing else
