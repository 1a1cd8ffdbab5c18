"""Rekognition faults, black box: the CLI against a loopback Custom Labels + S3 stand-in with injected faults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.providers.retry import RetryPolicy
from fake_customvision import PROXY_LOGIN_PAGE
from fake_rekognition import FakeRekognition
from standin_playbooks import standin_library  # noqa: F401  (fixture)
from test_rekognition import BUCKET, NOW, PROJECT_ARN, REGION, SUMMARY, V_FAILED, VALIDATION, _line, failed_version

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def aws():
    fake = FakeRekognition().start()
    fake.projects.append({"ProjectArn": PROJECT_ARN, "CreationTimestamp": NOW, "Status": "CREATED"})
    fake.versions[PROJECT_ARN] = [failed_version()]
    fake.put_object(BUCKET, "runs/manifest_summary.json", json.dumps(SUMMARY))
    fake.put_object(BUCKET, "runs/training_manifest_with_validation.json", VALIDATION)
    fake.put_object(BUCKET, "runs/testing_manifest_with_validation.json", _line(20) + "\n")
    yield fake
    fake.stop()


def write_toml(tmp_path, aws, timeout_s: float) -> str:
    path = tmp_path / "triage.toml"
    path.write_text(
        f'[store]\npath = "{tmp_path / "t.db"}"\n\n[[rekognition]]\nname = "aws-prod"\nregion = "{REGION}"\n'
        f'projects = ["widgets"]\nendpoint_url = "{aws.endpoint}"\ns3_endpoint_url = "{aws.endpoint}"\ntimeout_s = {timeout_s}\n',
        encoding="utf-8",
    )
    return str(path)


@pytest.fixture
def toml(tmp_path, aws):
    # Generous: under a loaded CI machine a 0.3 s timeout let an ordinary call time out and be retried,
    # and the retry took the answer queued for the first attempt (seen: the 404 test exited 0).
    return write_toml(tmp_path, aws, 10)


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TRIAGE_"))}
    return out | {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "PYTHONPATH": str(ROOT),
                  "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}


def triage(*args: str) -> subprocess.CompletedProcess:
    """The CLI as a separate process, as a person runs it."""
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env(), timeout=120)


def status_json(toml: str) -> dict:
    r = triage("--config", toml, "status", "rekognition", "--json")
    return json.loads(r.stdout)["targets"][0]


def test_the_stand_in_serves_a_failed_training_with_its_validation_results(toml, aws, library):
    t = status_json(toml)
    assert t["ok"] and [f["key"] for f in t["failures"]] == [V_FAILED]
    codes = {r["code"] for r in t["failures"][0]["details"]["manifest"]["line_errors"]}
    assert "ERROR_INVALID_SOURCE_REF_FORMAT" in codes
    assert aws.count("s3:GetObject") == 3


def test_200_with_a_login_page_is_an_error_for_the_target_never_no_failures(toml, aws):
    aws.queue("DescribeProjectVersions", 200, PROXY_LOGIN_PAGE)
    r = triage("--config", toml, "status", "rekognition", "--json")
    t = json.loads(r.stdout)["targets"][0]
    assert t["ok"] is False and t["failures"] == []
    assert "not JSON" in t["error"]["message"] and "Corporate Proxy - Sign in" in t["error"]["message"]
    assert "proxy or a wrong endpoint" in t["error"]["hint"]
    aws.queue("DescribeProjectVersions", 200, PROXY_LOGIN_PAGE)
    text = triage("--config", toml, "status", "rekognition")
    assert text.returncode != 0
    assert "no failures" not in text.stdout.lower() and "not JSON" in text.stdout


def test_a_timeout_is_retried_once_and_the_count_is_true(tmp_path, aws):
    for _ in range(5):
        aws.queue("DescribeProjects", 0, 2.0)  # every request would stall past timeout_s
    t = status_json(write_toml(tmp_path, aws, 0.3))
    assert t["ok"] is False and t["error"]["type"] == "CloudTimeout"
    assert aws.count("DescribeProjects") == 2
    assert "tried 2 times" in t["error"]["message"] and t["error"]["hint"]


def run_in_process(toml: str, *args: str):
    """The CLI in this process, with backoff waits skipped (the requests are still real)."""
    overrides = {"rekognition": {"retry": RetryPolicy(sleep=lambda s: None)}}
    return CliRunner().invoke(cli, ["--config", toml, *args], env=env(), obj={"provider_overrides": overrides})


def test_5xx_after_retries_says_the_service_is_failing_with_true_counts(toml, aws):
    for _ in range(6):
        aws.queue("DescribeProjectVersions", 503, {"__type": "ServiceUnavailableException", "Message": "Service unavailable"})
    r = run_in_process(toml, "status", "rekognition", "--json")
    t = json.loads(r.stdout)["targets"][0]
    assert aws.count("DescribeProjectVersions") == 4
    assert "tried 4 times" in t["error"]["message"]
    assert "health.aws.amazon.com" in t["error"]["hint"] and "later" in t["error"]["hint"]


def test_throttling_counts_requests_made(toml, aws):
    for _ in range(6):
        aws.queue("DescribeProjects", 400, {"__type": "ThrottlingException", "Message": "Rate exceeded"})
    r = run_in_process(toml, "status", "rekognition", "--json")
    t = json.loads(r.stdout)["targets"][0]
    assert t["error"]["type"] == "CloudThrottled"
    assert aws.count("DescribeProjects") == 4 and "tried 4 times" in t["error"]["message"]


def test_404_is_named_once_with_a_hint(toml, aws):
    aws.queue("DescribeProjects", 404, b"Not Found", {"Content-Type": "text/plain"})
    r = triage("--config", toml, "ids", "rekognition")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "404 404" not in r.stderr and "HTTP 404: Not Found" in r.stderr
    assert "hint:" in r.stderr and "triage ids rekognition" in r.stderr


def test_unreadable_validation_manifest_keeps_the_failure_and_says_which_part(toml, aws, library):
    aws.queue("s3:training_manifest_with_validation", 403,
              b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>", {"Content-Type": "application/xml"})
    t = status_json(toml)
    [f] = t["failures"]
    problems = f["details"]["manifest"]["problems"]
    assert len(problems) == 1 and "s3:GetObject" in problems[0] and "training_manifest_with_validation" in problems[0]


# ---- the sweep gives what one call after another gives ----------------------------------------------


def _sweep(aws, projects: list[str], max_workers: int) -> dict:
    import boto3

    from bot import config
    from bot.commands.status import status

    toml = (f'[[rekognition]]\nname = "aws-prod"\nregion = "{REGION}"\nprojects = {json.dumps(projects)}\n'
            f'endpoint_url = "{aws.endpoint}"\ns3_endpoint_url = "{aws.endpoint}"\n')
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    fast = RetryPolicy(sleep=lambda s: None)
    result = status(config.Settings(config.parse(toml), {}), max_workers=max_workers,
                    overrides={"rekognition": {"session": session, "retry": fast}})
    doc = result.to_json()
    del doc["checked_at"], doc["elapsed_s"], doc["targets"][0]["elapsed_s"]
    return doc


def test_project_arn_sweep_equals_the_sequential_one_with_an_s3_fault(aws, standin_library):
    # the training manifest refused, the testing one read: the problem named, the rest reported
    aws.queue("s3:training_manifest", 403, {"Code": "AccessDenied", "Message": "Access Denied"})
    sequential = _sweep(aws, [PROJECT_ARN], 1)
    aws.queue("s3:training_manifest", 403, {"Code": "AccessDenied", "Message": "Access Denied"})
    concurrent = _sweep(aws, [PROJECT_ARN], 8)
    assert concurrent == sequential
    [t] = concurrent["targets"]
    assert t["ok"] and [f["key"] for f in t["failures"]] == [V_FAILED]
    manifest = t["failures"][0]["details"]["manifest"]
    assert manifest["summary"] is not None
    assert len(manifest["problems"]) == 1 and "s3:GetObject" in manifest["problems"][0]
    assert "training_manifest_with_validation.json" in manifest["problems"][0]
    assert list(manifest["validation"]) == [f"s3://{BUCKET}/runs/testing_manifest_with_validation.json"]


def test_a_stale_project_arn_is_named_with_the_current_one_even_when_its_models_were_asked_for_first(aws):
    stale = PROJECT_ARN.replace("1690000000000", "1600000000000")
    for workers in (1, 8):
        [t] = _sweep(aws, [stale], workers)["targets"]
        assert t["ok"] is False and t["error"]["type"] == "CloudNotFound"
        assert stale in t["error"]["message"] and PROJECT_ARN in t["error"]["hint"]
