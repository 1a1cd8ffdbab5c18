"""`logs azureml`: deployment container logs and job errors/logs, through the real MLClient on replayed responses."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from aml_replay import CONFIG, RG, SUB, WS, FakeCredential, ReplayAdapter, Reply, fixture, settings_for, standard_routes, transport_for
from bot.commands import logs
from bot.errors import CloudAuthError, CloudNotFound, ConfigError, InputError
from bot.playbooks import cached

PLAYBOOK_IDS = {pb.id for pb in cached()}
SECRET_KEY = "q8Vd1cXk3mN0pLr7sT2uW9yZbA4eF6hJ5kG8oI1uY3tR7eW0qA2sD4fG6hJ8kL0zX1cV3bN5mQ7wE9rT2yU4iO6p=="
WANDB_KEY = "5a1f0c9e7b3d2a4f6e8c0b1d3f5a7c9e2b4d6f80"


class Seam:
    """Provider overrides for the commands: one replay adapter, a fake credential, tiny retry waits."""

    def __init__(self, routes=None):
        self.adapter = ReplayAdapter(standard_routes() if routes is None else routes)
        self.cred = FakeCredential()

    @property
    def overrides(self):
        return {"azureml": {"credential": self.cred, "transport": transport_for(self.adapter), "retry_total": 1,
                            "retry_backoff_factor": 0.01, "retry_backoff_max": 0.05}}


@pytest.fixture
def settings():
    return settings_for()


# ---- deployment logs ------------------------------------------------------------------------------


def test_inference_server_log_is_redacted_and_diagnosed(settings):
    seam = Seam()
    r = logs.deployment_logs(settings, "image-classifier", "green", overrides=seam.overrides)
    (call,) = seam.adapter.calls
    assert call.method == "POST" and "/onlineEndpoints/image-classifier/deployments/green/getLogs?" in call.url
    assert json.loads(call.body) == {"containerType": "InferenceServer", "tail": 100}
    assert call.headers["Authorization"] == "Bearer fake-token"
    assert "ModuleNotFoundError: No module named 'torchvision'" in r.text
    assert "AccountKey=[REDACTED]" in r.text and SECRET_KEY not in r.text
    assert SECRET_KEY not in json.dumps(r.to_json())
    assert (r.target, r.workspace, r.endpoint, r.deployment, r.container) == (
        "aml-prod", WS, "image-classifier", "green", "inference-server",
    )
    assert r.line_count == len(r.text.splitlines()) > 30
    assert r.matches, "a crashed init() with ModuleNotFoundError should match a playbook"
    for m in r.matches:
        assert all(SECRET_KEY not in e.text for e in m.evidence)
    if "azureml.endpoint.ERR_2200.missing_package" in PLAYBOOK_IDS:
        assert "azureml.endpoint.ERR_2200.missing_package" in [m.id for m in r.matches]


def test_only_the_requested_number_of_lines_comes_back(settings):
    # The service tails server-side; if it sends more (older servers, proxies), we still cut.
    r = logs.deployment_logs(settings, "image-classifier", "green", lines=4, overrides=Seam().overrides)
    assert r.text.splitlines() == [
        "",
        "2024-05-14T13:38:03,418 | gunicorn.error | INFO | Worker exiting (pid: 62)",
        "2024-05-14T13:38:03,702 | gunicorn.error | INFO | Shutting down: Master",
        "2024-05-14T13:38:03,702 | gunicorn.error | INFO | Reason: Worker failed to boot.",
    ]


def test_storage_initializer_container_and_lines_reach_the_wire(settings):
    routes = [("POST", r"/deployments/green/getLogs\?", Reply(body="getlogs_green_storage_initializer.json"))]
    seam = Seam(routes)
    r = logs.deployment_logs(settings, "image-classifier", "green", lines=50, container="storage-initializer",
                             overrides=seam.overrides)
    (call,) = seam.adapter.calls
    assert json.loads(call.body) == {"containerType": "StorageInitializer", "tail": 50}
    assert "Download complete: 1 file(s), 97.8 MB" in r.text
    assert r.to_json()["container"] == "storage-initializer"
    assert r.to_json()["lines_requested"] == 50


@pytest.mark.parametrize(
    "endpoint,deployment,kwargs,complaint",
    [
        ("1st-endpoint", "green", {}, "not a valid Azure ML endpoint name"),
        ("ep", "green", {}, "not a valid Azure ML endpoint name"),
        ("image_classifier", "green", {}, "not a valid Azure ML endpoint name"),
        ("image-classifier", "g" * 33, {}, "not a valid Azure ML deployment name"),
        ("image-classifier", "green/../../x", {}, "not a valid Azure ML deployment name"),
        ("image-classifier", "green", {"lines": 0}, "--lines must be between 1 and 10000"),
        ("image-classifier", "green", {"lines": 10001}, "--lines must be between 1 and 10000"),
        ("image-classifier", "green", {"container": "InferenceServer"}, "unknown container"),
        ("image-classifier", "green", {"target": "no such/target"}, "not a target name"),
    ],
)
def test_bad_input_is_rejected_before_any_request(settings, endpoint, deployment, kwargs, complaint):
    seam = Seam()
    with pytest.raises(InputError) as e:
        logs.deployment_logs(settings, endpoint, deployment, overrides=seam.overrides, **kwargs)
    assert complaint in str(e.value)
    assert seam.adapter.calls == [] and seam.cred.scopes == []


def test_missing_deployment_suggests_the_close_name(settings):
    routes = [("POST", r"/deployments/gren/getLogs\?", Reply(404, {"error": {"code": "UserError",
              "message": "Resource Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments/gren not found."}}))]
    seam = Seam(routes + standard_routes())
    with pytest.raises(CloudNotFound) as e:
        logs.deployment_logs(settings, "image-classifier", "gren", overrides=seam.overrides)
    assert e.value.message == "deployment 'gren' not found on endpoint 'image-classifier'"
    assert e.value.hint == "did you mean 'green'?"


def test_missing_endpoint_suggests_the_close_name(settings):
    routes = [("POST", r"/onlineEndpoints/fraud-scorr/deployments/blue/getLogs\?", Reply(404, "error_404_endpoint.json"))]
    seam = Seam(routes + standard_routes())
    with pytest.raises(CloudNotFound) as e:
        logs.deployment_logs(settings, "fraud-scorr", "blue", overrides=seam.overrides)
    assert e.value.message == f"endpoint 'fraud-scorr' not found in workspace {WS}"
    assert e.value.hint == "did you mean 'fraud-scorer'?"


def test_get_logs_forbidden_names_the_data_scientist_role(settings):
    seam = Seam([("POST", r"/getLogs\?", Reply(403, "error_403_getlogs.json"))])
    with pytest.raises(CloudAuthError) as e:
        logs.deployment_logs(settings, "image-classifier", "green", overrides=seam.overrides)
    assert "deployments/getLogs/action" in e.value.message
    assert "'AzureML Data Scientist' role" in e.value.hint
    assert "--assignee 0f1e2d3c-4b5a-4697-8877-665544332211" in e.value.hint
    assert len(seam.adapter.calls) == 1  # 403 is not retried


def test_target_is_required_when_several_are_configured():
    two = CONFIG + f"""
[[azureml]]
name = "aml-dev"
subscription_id = "{SUB}"
resource_group = "{RG}-dev"
workspace = "{WS}-dev"
"""
    seam = Seam()
    with pytest.raises(InputError) as e:
        logs.deployment_logs(settings_for(two), "image-classifier", "green", overrides=seam.overrides)
    assert "aml-prod" in e.value.hint and "aml-dev" in e.value.hint
    assert seam.adapter.calls == []
    r = logs.deployment_logs(settings_for(two), "image-classifier", "green", target="aml-prod", overrides=seam.overrides)
    assert r.target == "aml-prod"


def test_no_azureml_target_configured_says_how_to_add_one():
    empty = settings_for("[defaults]\nlang = 'en'\n")
    with pytest.raises(ConfigError) as e:
        logs.deployment_logs(empty, "image-classifier", "green")
    assert "[[azureml]]" in e.value.hint


# ---- job logs ------------------------------------------------------------------------------------


def test_job_error_and_user_log_tail(settings):
    seam = Seam()
    r = logs.job_logs(settings, "quiet_lamp_x7k2m9", lines=5, overrides=seam.overrides)
    assert r.job.name == "quiet_lamp_x7k2m9" and r.job.status == "Failed"
    assert r.error_code == "UserError"
    assert "CUDA out of memory. Tried to allocate 2.00 GiB" in r.error_message
    assert r.error_time.startswith("2024-05-20T07:31:45")
    assert (r.correlation_id, r.request_id) == ("8f4c1a2b3d5e6f708192a3b4c5d6e7f8", "b7d9e1f3a5c70912")
    assert r.warnings == ["AzureMLCompute job failed: UserError"]
    assert r.log_name == "user_logs/std_log.txt" and not r.log_partial
    assert len(r.text.splitlines()) == 5
    assert r.text.splitlines()[-1].startswith("torch.OutOfMemoryError: CUDA out of memory")
    assert r.note is None
    # Wire: job (ARM) -> workspace -> discovery -> run details (Run History) -> the log's SAS URL.
    hosts = [c.url.split("/")[2] for c in seam.adapter.calls]
    assert hosts == ["management.azure.com", "management.azure.com", "westeurope.api.azureml.ms",
                     "westeurope.api.azureml.ms", "visionws4173025842.blob.core.windows.net"]
    assert "Authorization" not in seam.adapter.calls[-1].headers
    assert r.matches
    if "azureml.job.out_of_memory" in PLAYBOOK_IDS:
        assert r.matches[0].id == "azureml.job.out_of_memory"
    doc = r.to_json()
    assert doc["error"]["code"] == "UserError" and doc["log_file"] == "user_logs/std_log.txt"
    assert "sig=" not in json.dumps(doc)  # SAS URLs never leave the provider


def test_job_log_secret_is_redacted(settings):
    r = logs.job_logs(settings, "quiet_lamp_x7k2m9", lines=100, overrides=Seam().overrides)
    assert "WANDB_API_KEY=[REDACTED]" in r.text
    assert WANDB_KEY not in json.dumps(r.to_json())


def test_job_without_listed_log_files_says_where_the_log_is(settings):
    details = fixture("rundetails_quiet_lamp_x7k2m9.json")
    details["logFiles"] = {}
    seam = Seam([("GET", r"/runs/quiet_lamp_x7k2m9/details", Reply(body=details))] + standard_routes())
    r = logs.job_logs(settings, "quiet_lamp_x7k2m9", overrides=seam.overrides)
    assert r.error_code == "UserError" and r.log_name is None and r.text == ""
    assert "az ml job download --name quiet_lamp_x7k2m9 --all" in r.note
    assert "user_logs/std_log.txt" in r.note
    assert not seam.adapter.seen("GET", r"blob\.core\.windows\.net")
    assert r.matches  # the error message alone still gets diagnosed


def test_expired_log_sas_still_returns_the_error(settings):
    expired = Reply(403, "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code>"
                         "<Message>Signed expiry time has to be after signed start time</Message></Error>")
    seam = Seam([("GET", r"blob\.core\.windows\.net", expired)] + standard_routes())
    r = logs.job_logs(settings, "quiet_lamp_x7k2m9", overrides=seam.overrides)
    assert r.error_code == "UserError" and r.log_name is None
    assert "the user log could not be downloaded" in r.note and "az ml job download" in r.note
    assert r.matches  # diagnosed from the error alone


def test_run_history_forbidden_still_shows_the_job(settings):
    seam = Seam([("GET", r"/runs/quiet_lamp_x7k2m9/details", Reply(403, "error_403_authorization_failed.json"))]
                + standard_routes())
    r = logs.job_logs(settings, "quiet_lamp_x7k2m9", overrides=seam.overrides)
    assert r.job.status == "Failed" and r.error_code is None
    assert "run details could not be read" in r.note and "Reader" in r.note


def test_big_job_log_is_read_from_its_end(settings, monkeypatch):
    import bot.providers.azureml as aml

    monkeypatch.setattr(aml, "LOG_FULL_READ_MAX", 1000)
    monkeypatch.setattr(aml, "LOG_TAIL_BYTES", 200)
    big = "".join(f"step {i} loss 0.{i:04d}\n" for i in range(200))
    end = big.encode()[-200:].decode()
    routes = [("GET", r"blob\.core\.windows\.net/.*std_log\.txt", [Reply(body=big), Reply(206, end)])] + standard_routes()
    seam = Seam(routes)
    r = logs.job_logs(settings, "quiet_lamp_x7k2m9", lines=3, overrides=seam.overrides)
    first, ranged = seam.adapter.seen("GET", r"blob\.core\.windows\.net")
    assert "x-ms-range" not in first.headers
    assert ranged.headers["x-ms-range"] == f"bytes={len(big) - 200}-{len(big) - 1}"
    assert r.log_partial
    assert r.text.splitlines() == ["step 197 loss 0.0197", "step 198 loss 0.0198", "step 199 loss 0.0199"]


def test_missing_job_suggests_a_recent_name(settings):
    seam = Seam([("GET", r"/jobs/quiet_lamp_x7k2m8\?", Reply(404, "error_404_job.json"))] + standard_routes())
    with pytest.raises(CloudNotFound) as e:
        logs.job_logs(settings, "quiet_lamp_x7k2m8", overrides=seam.overrides)
    assert e.value.message.startswith("job 'quiet_lamp_x7k2m8' not found")
    assert e.value.hint == "did you mean 'quiet_lamp_x7k2m9'?"


@pytest.mark.parametrize("bad", ["quiet lamp", "job;ls", "../etc/passwd", "-x", "", "j" * 256])
def test_bad_job_name_is_rejected_before_any_request(settings, bad):
    seam = Seam()
    with pytest.raises(InputError) as e:
        logs.job_logs(settings, bad, overrides=seam.overrides)
    assert "job name" in str(e.value)
    assert seam.adapter.calls == []


# ---- CLI end to end ---------------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    """triage.toml on disk; bot.providers.azureml.connect (the seam) returns the replaying connection."""
    import bot.providers.azureml as aml

    path = tmp_path / "triage.toml"
    path.write_text(CONFIG, encoding="utf-8")
    state = {"routes": standard_routes(), "adapter": None}

    def connect(target):
        state["adapter"] = ReplayAdapter(state["routes"])
        return aml.Connection(FakeCredential(), transport_for(state["adapter"]), retry_total=1,
                              retry_backoff_factor=0.01, retry_backoff_max=0.05, timeout_s=target.timeout_s)

    monkeypatch.setattr(aml, "connect", connect)
    return path, state


def invoke(path, *args):
    from bot.cli import cli

    return CliRunner().invoke(cli, ["--config", str(path), "logs", "azureml", *args])


def test_cli_deployment_logs_text(cli_env):
    path, state = cli_env
    r = invoke(path, "image-classifier", "green", "--lines", "40")
    assert r.exit_code == 0, r.output + repr(r.exception)
    assert r.output.startswith("azureml · target aml-prod · image-classifier/green · inference-server log")
    assert "ModuleNotFoundError: No module named 'torchvision'" in r.output
    assert "AccountKey=[REDACTED]" in r.output and SECRET_KEY not in r.output
    assert "Diagnosis:" in r.output
    (call,) = state["adapter"].calls
    assert json.loads(call.body) == {"containerType": "InferenceServer", "tail": 40}


def test_cli_deployment_logs_json_storage_initializer(cli_env):
    path, state = cli_env
    r = invoke(path, "image-classifier", "green", "--container", "storage-initializer", "--json")
    assert r.exit_code == 0, r.output + repr(r.exception)
    doc = json.loads(r.output)
    assert doc["container"] == "storage-initializer" and doc["endpoint"] == "image-classifier"
    assert isinstance(doc["matches"], list)
    assert json.loads(state["adapter"].calls[0].body)["containerType"] == "StorageInitializer"


def test_cli_job_logs_json(cli_env):
    path, state = cli_env
    r = invoke(path, "--job", "quiet_lamp_x7k2m9", "--lines", "3", "--json")
    assert r.exit_code == 0, r.output + repr(r.exception)
    doc = json.loads(r.output)
    assert doc["job"]["name"] == "quiet_lamp_x7k2m9" and doc["job"]["status"] == "Failed"
    assert doc["error"]["code"] == "UserError"
    assert len(doc["log"].splitlines()) == 3
    assert WANDB_KEY not in r.output


def test_cli_job_logs_text(cli_env):
    path, _ = cli_env
    r = invoke(path, "--job", "quiet_lamp_x7k2m9")
    assert r.exit_code == 0, r.output + repr(r.exception)
    assert "Error code:    UserError" in r.output
    assert "user_logs/std_log.txt, last 11 line(s)" in r.output
    assert "WANDB_API_KEY=[REDACTED]" in r.output


@pytest.mark.parametrize(
    "args,complaint",
    [
        (["Image Classifier", "green"], "not a valid Azure ML endpoint name"),
        (["image-classifier"], "expected ENDPOINT DEPLOYMENT, or --job NAME"),
        (["image-classifier", "green", "--job", "quiet_lamp_x7k2m9"], "not both"),
        (["--job", "quiet_lamp_x7k2m9", "--container", "storage-initializer"], "--container applies to deployments"),
        (["--job", "bad name"], "not a valid Azure ML job name"),
    ],
)
def test_cli_bad_input_fails_cleanly_without_a_call(cli_env, args, complaint):
    path, state = cli_env
    r = invoke(path, *args)
    assert isinstance(r.exception, InputError), repr(r.exception)
    assert complaint in str(r.exception)
    assert state["adapter"] is None or state["adapter"].calls == []


def test_cli_lines_out_of_range_is_a_usage_error(cli_env):
    path, state = cli_env
    r = invoke(path, "image-classifier", "green", "--lines", "0")
    assert r.exit_code == 2 and "1<=x<=10000" in r.output
    assert state["adapter"] is None


def test_entry_point_prints_one_line_not_a_trace(cli_env, capsys):
    from bot.cli import main

    path, state = cli_env
    state["routes"] = [("GET", r"/jobs/quiet_lamp_x7k2m8\?", Reply(404, "error_404_job.json"))] + standard_routes()
    with pytest.raises(SystemExit) as e:
        main(["--config", str(path), "logs", "azureml", "--job", "quiet_lamp_x7k2m8"])
    out = capsys.readouterr()
    assert e.value.code == 2
    assert out.err.startswith("error: job 'quiet_lamp_x7k2m8' not found")
    assert "did you mean 'quiet_lamp_x7k2m9'?" in out.err
    assert "Traceback" not in out.err and "ActivityCompleted" not in out.err


def test_japanese_diagnosis(settings):
    r = logs.job_logs(settings, "quiet_lamp_x7k2m9", lang="ja", overrides=Seam().overrides)
    assert r.lang == "ja" and r.matches
    assert any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in r.matches[0].title)
    with pytest.raises(InputError):
        logs.job_logs(settings, "quiet_lamp_x7k2m9", lang="fr", overrides=Seam().overrides)


# ---- helpers -----------------------------------------------------------------------------------------


def test_user_log_choice_follows_the_sdk_order():
    from bot.providers.azureml import pick_user_log

    assert pick_user_log(["user_logs/std_log_process_1.txt", "user_logs/std_log.txt", "system_logs/x.log"]) == "user_logs/std_log.txt"
    assert pick_user_log(["user_logs/std_log_process_01.txt", "user_logs/std_log_process_00.txt"]) == "user_logs/std_log_process_00.txt"
    assert pick_user_log(["azureml-logs/55_azureml-execution-tvmps.txt", "azureml-logs/70_driver_log.txt"]) == "azureml-logs/70_driver_log.txt"
    assert pick_user_log(["azureml-logs/20_image_build_log.txt", "azureml-logs/55_azureml-execution.txt"]) == "azureml-logs/55_azureml-execution.txt"
    assert pick_user_log(["system_logs/lifecycler/execution-wrapper.log"]) is None


def test_streamed_log_without_length_keeps_only_its_end():
    from bot.providers.azureml import _last_bytes

    chunks = (f"line {i}\n".encode() for i in range(100_000))
    data, cut = _last_bytes(chunks, 64)
    assert cut and len(data) == 64 and data.endswith(b"line 99999\n")
    assert _last_bytes([b"short\n"], 64) == (b"short\n", False)
