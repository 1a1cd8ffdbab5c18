"""Azure ML on any cloud, black box: `ids`, `logs`, `status azureml` as processes against an HTTPS
Resource Manager stand-in on loopback, reached through `resource_manager_endpoint`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aml_replay import RG, SUB, WS, Reply, make_provider, standard_routes
from bot import config
from bot.errors import ConfigError
from fake_arm import FakeARM

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def arm():
    server = FakeARM().start()
    yield server
    server.stop()


@pytest.fixture
def toml(tmp_path, arm):
    path = tmp_path / "triage.toml"
    path.write_text(f"""
[store]
path = "{tmp_path / 't.db'}"

[[azureml]]
name = "aml-gov"
subscription_id = "{SUB}"
resource_group = "{RG}"
workspace = "{WS}"
cloud = "AzureUSGovernment"
resource_manager_endpoint = "{arm.endpoint}"
timeout_s = 5
""", encoding="utf-8")
    return str(path)


def triage(arm: FakeARM, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_", "MSI_", "TRIAGE_", "AZUREML_"))}
    env |= arm.env() | {"PYTHONPATH": str(ROOT), "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, timeout=180)


def arm_requests(arm: FakeARM) -> list[tuple[str, str, bool]]:
    return [r for r in arm.requests if r[1].startswith("https://management.azure.com/")]


def test_ids_reaches_the_custom_resource_manager_with_a_token(arm, toml):
    r = triage(arm, "--config", toml, "ids", "azureml", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)["targets"][0]["ids"]
    assert {e["name"] for e in doc["endpoints"]} == {"image-classifier", "fraud-scorer"}
    assert "quiet_lamp_x7k2m9" in {j["name"] for j in doc["jobs"]}
    assert arm_requests(arm) and all(bearer for _, _, bearer in arm_requests(arm))
    assert arm.hosts == {arm.endpoint.removeprefix("https://")}


def test_status_follows_the_last_operation_on_the_clouds_own_host(arm, toml):
    r = triage(arm, "--config", toml, "status", "azureml", "--json")
    assert r.returncode == 0, r.stderr
    failures = {f["key"]: f for f in json.loads(r.stdout)["targets"][0]["failures"]}
    green = failures["image-classifier/green"]
    assert green["fields"]["error_code"] == "ResourceNotReady"
    assert arm.seen("GET", r"/mfeOperationsStatus/")
    assert failures["quiet_lamp_x7k2m9"]["fields"]["error_code"]


def test_logs_of_a_deployment_and_a_job_through_the_stand_in(arm, toml):
    r = triage(arm, "--config", toml, "logs", "azureml", "image-classifier", "green")
    assert r.returncode == 0, r.stderr
    assert arm.seen("POST", r"/deployments/green/getLogs")
    assert r.stdout.strip()
    j = triage(arm, "--config", toml, "logs", "azureml", "--job", "quiet_lamp_x7k2m9")
    assert j.returncode == 0, j.stderr
    assert arm.seen("GET", r"/runs/quiet_lamp_x7k2m9/details")


def test_run_history_outage_keeps_the_deployment_failure_and_names_the_missing_part(arm, toml):
    arm.fail("GET", r"api\.azureml\.ms/discovery", Reply(503, {"error": {"code": "ServiceUnavailable", "message": "down"}},
                                                                {"Retry-After": "0"}))
    r = triage(arm, "--config", toml, "status", "azureml", "--json")
    assert r.returncode == 0, r.stderr
    target = json.loads(r.stdout)["targets"][0]
    assert target["ok"]
    failures = {f["key"]: f for f in target["failures"]}
    assert failures["image-classifier/green"]["fields"]["error_code"] == "ResourceNotReady"
    job = failures["quiet_lamp_x7k2m9"]
    assert any("run details could not be read (Run History)" in n for n in job["details"]["notes"])
    assert "error_code" not in job["fields"] and job["matches"] == []
    assert "cause is not known" in job["message"]
    text = triage(arm, "--config", toml, "status", "azureml")
    assert "note: the job's run details could not be read (Run History)" in text.stdout


def test_a_job_whose_run_details_fail_says_only_that(arm, toml):
    arm.fail("GET", r"/runs/quiet_lamp_x7k2m9/details", Reply(500, {"error": {"code": "InternalError", "message": "boom"}},
                                                                           {"Retry-After": "0"}))
    r = triage(arm, "--config", toml, "status", "azureml", "--json")
    failures = {f["key"]: f for f in json.loads(r.stdout)["targets"][0]["failures"]}
    job = failures["quiet_lamp_x7k2m9"]
    assert [n for n in job["details"]["notes"] if "Run History" in n]
    assert job["matches"] == [] and "error_code" not in job["fields"]
    assert failures["image-classifier/green"]["matches"]


def test_an_operation_uri_on_another_host_gets_no_token():
    routes = standard_routes()
    p, adapter, cred = make_provider(routes, config=CHINA)
    [dep] = [f for f in p.failures() if f.kind == "deployment"]
    assert not adapter.seen("GET", r"/mfeOperationsStatus/")  # recorded on management.azure.com, not chinacloudapi.cn
    assert all(u.url.startswith("https://management.chinacloudapi.cn/") for u in adapter.seen("GET", r"/onlineEndpoints"))


CHINA = f"""
[[azureml]]
name = "aml-cn"
subscription_id = "{SUB}"
resource_group = "{RG}"
workspace = "{WS}"
cloud = "AzureChinaCloud"
"""


def test_national_clouds_set_the_sdk_base_url_and_token_scope():
    p, adapter, cred = make_provider([], config=CHINA)
    assert p.ml._base_url == "https://management.chinacloudapi.cn"
    assert p.target.arm_scope == "https://management.chinacloudapi.cn/.default"


@pytest.mark.parametrize("extra,problem", [
    ('cloud = "AzureGermanCloud"', "cloud"),
    ('resource_manager_endpoint = "http://127.0.0.1:8080"', "https://"),
    ('resource_manager_endpoint = "https://arm.example.com/some/path"', "no path"),
])
def test_bad_cloud_settings_are_named(extra, problem):
    with pytest.raises(ConfigError) as e:
        config.parse(CHINA.replace('cloud = "AzureChinaCloud"', extra))
    assert problem in e.value.message


def test_a_timeout_is_retried_once_and_said_plainly(arm, toml):
    Path(toml).write_text(Path(toml).read_text(encoding="utf-8").replace("timeout_s = 5", "timeout_s = 0.5"), encoding="utf-8")
    arm.fail("GET", r"/onlineEndpoints\?", Reply(0, 3.0))
    r = triage(arm, "--config", toml, "ids", "azureml")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "no answer from Azure while listing online endpoints" in r.stderr and "retried once" in r.stderr
    assert "hint: " in r.stderr
    assert len(arm.seen("GET", r"/onlineEndpoints\?")) == 2


def test_a_login_page_instead_of_json_is_an_error_with_a_hint(arm, toml):
    from fake_customvision import PROXY_LOGIN_PAGE

    arm.fail("GET", r"/onlineEndpoints\?", Reply(200, PROXY_LOGIN_PAGE))
    r = triage(arm, "--config", toml, "status", "azureml", "--json")
    target = json.loads(r.stdout)["targets"][0]
    assert target["ok"] is False and target["failures"] == []
    assert "not JSON" in target["error"]["message"] and "proxy or a wrong endpoint" in target["error"]["hint"]


def test_5xx_after_retries_names_the_status_page_and_true_count(arm, toml):
    arm.fail("GET", r"/onlineEndpoints\?", Reply(503, {"error": {"code": "ServiceUnavailable", "message": "busy"}},
                                                   {"Retry-After": "0"}))
    r = triage(arm, "--config", toml, "status", "azureml", "--json")
    err = json.loads(r.stdout)["targets"][0]["error"]
    n = len(arm.seen("GET", r"/onlineEndpoints\?"))
    assert f"tried {n} times" in err["message"] and "503 ServiceUnavailable" in err["message"]
    assert "azure.status.microsoft" in err["hint"]


def test_config_check_names_the_resource_manager_each_target_uses(arm, toml):
    r = triage(arm, "--config", toml, "config", "check", "--live", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    checks = json.loads(r.stdout)["checks"]
    assert any(f"Resource Manager {arm.endpoint} (AzureUSGovernment, custom endpoint)" in c["message"] for c in checks)
    assert any(c["message"].startswith("live: ") and c["level"] == "ok" for c in checks)
