"""Rekognition provider: botocore Stubber on the rekognition client, moto `mock_aws` for S3."""

from __future__ import annotations

import datetime
import json
import socket
import threading

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner
from moto import mock_aws

from bot import config
from bot.cli import cli
from bot.errors import CloudAuthError, CloudNotFound, CloudThrottled, CloudTimeout, ConfigError, InputError
from bot.providers.rekognition import RekognitionProvider
from bot.providers.retry import RetryPolicy
from standin_playbooks import standin_library  # noqa: F401  (fixture)

REGION = "us-east-1"
ACCOUNT = "123456789012"
PROJECT_ARN = f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/widgets/1690000000000"
OTHER_ARN = f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/gadgets/1690000000001"
V_FAILED = f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/widgets/version/widgets.2024-05-01T10.00.00/1714557600000"
V_OK = f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/widgets/version/widgets.2024-04-01T10.00.00/1711965600000"
V_COPY = f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/widgets/version/widgets.copy/1714557600001"
BUCKET = "cl-output-widgets"
NOW = datetime.datetime(2024, 5, 1, 10, 0, tzinfo=datetime.timezone.utc)
STATUS_MESSAGE = "The manifest file contains too many invalid data objects."

# manifest_summary.json as Custom Labels writes it (tm-debugging-summary.md; seed 003 L5503-5555).
SUMMARY = {
    "errors": [],
    "statistics": {
        "training": {
            "use_case": "OBJECT_LOCALIZATION",
            "total_json_lines": 10,
            "valid_json_lines": 4,
            "invalid_json_lines": 6,
            "ignored_json_lines": 0,
            "errors": [
                {"code": "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST", "message": "The manifest file contains too many invalid rows."}
            ],
            "error_json_line_indices": [1, 2, 3, 5, 7, 9],
        },
        "testing": {
            "use_case": "OBJECT_LOCALIZATION",
            "total_json_lines": 4,
            "valid_json_lines": 4,
            "invalid_json_lines": 0,
            "ignored_json_lines": 0,
            "errors": [],
            "error_json_line_indices": [],
        },
    },
}


def _line(n: int, image_errors=(), meta_errors=(), box_errors=()) -> str:
    box = {"class_id": 0, "left": 10, "top": 10, "width": 50, "height": 50}
    if box_errors:
        box["errors"] = [{"code": c, "message": "The height and width of the bounding box is too small."} for c in box_errors]
    doc = {
        "source-ref": f"s3://{BUCKET}/images/{n:04d}.jpg" if not image_errors else f"https://{BUCKET}/images/{n:04d}.jpg",
        "bounding-box": {"image_size": [{"width": 640, "height": 480, "depth": 3}], "annotations": [box]},
        "bounding-box-metadata": {
            "objects": [{"confidence": 1}],
            "class-map": {"0": "widget"},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2024-04-30T10:00:00",
            "job-name": "labeling-job/widgets",
        },
    }
    if meta_errors:
        doc["bounding-box-metadata"]["errors"] = [
            {"code": c, "message": "One or more class IDs are missing from the class map."} for c in meta_errors
        ]
    if image_errors:
        doc["errors"] = [{"code": c, "message": "The source reference value format is invalid."} for c in image_errors]
    return json.dumps(doc)


# training_manifest_with_validation.json: 4 valid lines, 3 bad source-refs, 2 missing class ids, 1 tiny box.
VALIDATION = "\n".join(
    [_line(0), _line(1, image_errors=["ERROR_INVALID_SOURCE_REF_FORMAT"]), _line(2, image_errors=["ERROR_INVALID_SOURCE_REF_FORMAT"]),
     _line(3, meta_errors=["ERROR_MISSING_CLASS_MAP_ID"]), _line(4), _line(5, image_errors=["ERROR_INVALID_SOURCE_REF_FORMAT"]),
     _line(6), _line(7, meta_errors=["ERROR_MISSING_CLASS_MAP_ID"]), _line(8), _line(9, box_errors=["ERROR_BOUNDING_BOX_TOO_SMALL"])]
) + "\n"


def s3obj(key: str) -> dict:
    return {"S3Object": {"Bucket": BUCKET, "Name": key}}


def failed_version(**extra) -> dict:
    v = {
        "ProjectVersionArn": V_FAILED,
        "CreationTimestamp": NOW,
        "Status": "TRAINING_FAILED",
        "StatusMessage": STATUS_MESSAGE,
        "OutputConfig": {"S3Bucket": BUCKET, "S3KeyPrefix": "runs/"},
        "TrainingDataResult": {
            "Input": {"Assets": [{"GroundTruthManifest": s3obj("manifests/train.manifest")}]},
            "Validation": {"Assets": [{"GroundTruthManifest": s3obj("runs/training_manifest_with_validation.json")}]},
        },
        "TestingDataResult": {
            "Validation": {"Assets": [{"GroundTruthManifest": s3obj("runs/testing_manifest_with_validation.json")}]},
        },
        "ManifestSummary": s3obj("runs/manifest_summary.json"),
    }
    v.update(extra)
    return v


VERSIONS = [
    failed_version(),
    {"ProjectVersionArn": V_OK, "CreationTimestamp": NOW - datetime.timedelta(days=30), "Status": "TRAINING_COMPLETED",
     "StatusMessage": "The model is ready to run."},
]


@pytest.fixture
def aws(monkeypatch):
    """moto S3 holding the validation results, and a stubbed rekognition client (moto has no Custom Labels)."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_REKOGNITION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="runs/manifest_summary.json", Body=json.dumps(SUMMARY, indent=2).encode())
        s3.put_object(Bucket=BUCKET, Key="runs/training_manifest_with_validation.json", Body=VALIDATION.encode())
        s3.put_object(Bucket=BUCKET, Key="runs/testing_manifest_with_validation.json", Body=(_line(20) + "\n").encode())
        rek = boto3.client("rekognition", region_name=REGION)
        stub = Stubber(rek)
        stub.activate()
        yield type("AWS", (), {"s3": s3, "rek": rek, "stub": stub})
        stub.deactivate()


def settings_for(projects: str = '["widgets"]', extra: str = "") -> config.Settings:
    toml = f"""
[[rekognition]]
name = "aws-prod"
region = "{REGION}"
projects = {projects}
{extra}
"""
    return config.Settings(config.parse(toml), {})


def make(aws, projects: str = '["widgets"]', extra: str = "") -> RekognitionProvider:
    s = settings_for(projects, extra)
    return RekognitionProvider(s.config.rekognition[0], s, client=aws.rek)


def expect_projects(aws, names=("widgets",), arns=(PROJECT_ARN,)) -> None:
    params = {"ProjectNames": list(names)} if names else {}
    projects = [{"ProjectArn": a, "CreationTimestamp": NOW, "Status": "CREATED"} for a in arns]
    aws.stub.add_response("describe_projects", {"ProjectDescriptions": projects}, params)


def expect_versions(aws, versions=VERSIONS, arn=PROJECT_ARN) -> None:
    aws.stub.add_response("describe_project_versions", {"ProjectVersionDescriptions": versions}, {"ProjectArn": arn})


# ---- the done-when: TRAINING_FAILED with ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST ----------------------


def test_training_failed_shows_playbook_invalid_share_and_commonest_line_errors(aws, standin_library):
    expect_projects(aws)
    expect_versions(aws)
    [f] = make(aws).failures()
    aws.stub.assert_no_pending_responses()
    assert (f.service, f.kind, f.key, f.status, f.message) == ("rekognition", "model", V_FAILED, "TRAINING_FAILED", STATUS_MESSAGE)

    # the terminal error's playbook first, with the invalid share as evidence
    assert f.matches[0].id == "rekognition.ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST"
    assert "rekognition.status.TRAINING_FAILED" in [m.id for m in f.matches]
    evidence = [e.text for e in f.matches[0].evidence]
    assert any("training: 6 of 10 JSON lines invalid (60.0%" in e for e in evidence)

    summary = f.details["manifest"]["summary"]
    assert summary["datasets"]["training"]["invalid_share"] == 0.6
    assert summary["datasets"]["training"]["over_invalid_limit"] is True

    # commonest line errors, each with its playbook
    rows = f.details["manifest"]["line_errors"]
    assert [(r["code"], r["lines"]) for r in rows] == [
        ("ERROR_INVALID_SOURCE_REF_FORMAT", 3),
        ("ERROR_MISSING_CLASS_MAP_ID", 2),
        ("ERROR_BOUNDING_BOX_TOO_SMALL", 1),
    ]
    assert rows[0]["playbook"] == "rekognition.ERROR_INVALID_SOURCE_REF_FORMAT"
    assert rows[0]["title"] == "stand-in rekognition.ERROR_INVALID_SOURCE_REF_FORMAT"
    assert rows[0]["example_lines"] == [2, 3, 6]
    assert rows[0]["dataset"] == "training"

    # ticket fields
    assert f.fields["project_arn"] == PROJECT_ARN and f.fields["version_arn"] == V_FAILED
    assert f.fields["aws_account_id"] == ACCOUNT and f.fields["region"] == REGION
    assert f.fields["status_message"] == STATUS_MESSAGE
    assert f.fields["error_code"] == "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST"
    assert "training: 6/10 invalid (60%)" in f.fields["manifest_summary"]
    assert f.fields["output_location"] == f"s3://{BUCKET}/runs/"
    assert f.fields["manifest_location"] == f"s3://{BUCKET}/manifests/train.manifest"
    assert f"s3://{BUCKET}/runs/training_manifest_with_validation.json" in f.fields["validation_manifest"]
    assert f.occurred_at == NOW


SHIPPED_IDS = {
    "rekognition.ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST",
    "rekognition.ERROR_INVALID_SOURCE_REF_FORMAT",
    "rekognition.status.TRAINING_FAILED",
}


def test_training_failed_with_the_shipped_playbooks(aws, library):
    missing = SHIPPED_IDS - {pb.id for pb in library}
    if missing:
        pytest.skip(f"shipped playbooks not written yet: {sorted(missing)}")
    expect_projects(aws)
    expect_versions(aws)
    [f] = make(aws).failures()
    assert f.matches[0].id == "rekognition.ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST"
    assert f.details["manifest"]["line_errors"][0]["playbook"] == "rekognition.ERROR_INVALID_SOURCE_REF_FORMAT"
    assert f.details["manifest"]["line_errors"][0]["title"]


def test_training_failed_without_summary_says_why(aws, standin_library):
    v = failed_version(StatusMessage="The manifest file is empty.")
    del v["ManifestSummary"], v["TrainingDataResult"]["Validation"], v["TestingDataResult"]
    expect_projects(aws)
    expect_versions(aws, [v])
    [f] = make(aws).failures()
    assert f.matches[0].id == "rekognition.status.TRAINING_FAILED"
    assert "no manifest_summary.json" in f.details["manifest"]["problems"][0]
    assert "manifest_summary" not in f.fields


def test_unreadable_validation_results_still_report_the_failure(aws, standin_library):
    aws.s3.delete_object(Bucket=BUCKET, Key="runs/manifest_summary.json")
    expect_projects(aws)
    expect_versions(aws)
    [f] = make(aws).failures()
    problems = f.details["manifest"]["problems"]
    assert any("manifest_summary.json" in p and "NoSuchKey" in p for p in problems)
    assert f.details["manifest"]["line_errors"][0]["code"] == "ERROR_INVALID_SOURCE_REF_FORMAT"


def test_other_failed_statuses_are_reported_and_healthy_ones_are_not(aws, standin_library):
    copy = {"ProjectVersionArn": V_COPY, "CreationTimestamp": NOW, "Status": "COPYING_FAILED",
            "StatusMessage": "Copy failed: the destination project does not exist."}
    running = dict(VERSIONS[1], Status="RUNNING")
    expect_projects(aws)
    expect_versions(aws, [copy, running])
    [f] = make(aws).failures()
    assert (f.key, f.status) == (V_COPY, "COPYING_FAILED")
    assert f.matches[0].id == "rekognition.model.COPYING_FAILED"
    assert "manifest" not in f.details


# ---- ids ------------------------------------------------------------------------------------------


def test_ids_lists_project_and_versions_across_pages(aws):
    expect_projects(aws)
    aws.stub.add_response("describe_project_versions", {"ProjectVersionDescriptions": [VERSIONS[1]], "NextToken": "p2"},
                          {"ProjectArn": PROJECT_ARN})
    aws.stub.add_response("describe_project_versions", {"ProjectVersionDescriptions": [VERSIONS[0]]},
                          {"ProjectArn": PROJECT_ARN, "NextToken": "p2"})
    doc = make(aws).ids().to_json()
    aws.stub.assert_no_pending_responses()
    [p] = doc["projects"]
    assert (p["name"], p["project_arn"]) == ("widgets", PROJECT_ARN)
    assert [(v["name"], v["version_arn"], v["status"]) for v in p["versions"]] == [
        ("widgets.2024-05-01T10.00.00", V_FAILED, "TRAINING_FAILED"),
        ("widgets.2024-04-01T10.00.00", V_OK, "TRAINING_COMPLETED"),
    ]
    assert p["versions"][0]["created"] == NOW.isoformat()


def test_ids_by_arn(aws):
    expect_projects(aws)
    expect_versions(aws)
    doc = make(aws, projects="[]").ids(PROJECT_ARN).to_json()
    assert doc["projects"][0]["project_arn"] == PROJECT_ARN


def test_stale_project_arn_is_not_found_with_the_current_arn(aws):
    stale = PROJECT_ARN.replace("1690000000000", "1600000000000")
    expect_projects(aws)
    with pytest.raises(CloudNotFound) as e:
        make(aws, projects="[]").ids(stale)
    assert PROJECT_ARN in e.value.hint


def test_unknown_project_name_suggests_close_names(aws):
    expect_projects(aws, names=("widgetz",), arns=())
    expect_projects(aws, names=(), arns=(PROJECT_ARN, OTHER_ARN))
    with pytest.raises(CloudNotFound) as e:
        make(aws, projects="[]").ids("widgetz")
    assert "did you mean 'widgets'" in e.value.hint


@pytest.mark.parametrize(
    "bad",
    [
        "arn:aws:rekognition:us-east-1:1234:project/widgets/1690000000000",
        "arn:aws:rekognition:us-east-1:123456789012:project/widgets",
        "arn:aws:s3:::bucket/key",
        "arn:aws:rekognition:us-east-1:123456789012:project/widgets/version/1714557600000",
    ],
)
def test_malformed_arn_is_rejected_before_any_call(aws, bad):
    with pytest.raises(InputError) as e:
        make(aws, projects="[]").ids(bad)
    assert "arn:aws:rekognition:<region>:<12-digit account>:project/<name>/" in e.value.hint
    aws.stub.assert_no_pending_responses()  # nothing was queued, and nothing was called: a call would raise


def test_bad_project_name_is_rejected_before_any_call(aws):
    with pytest.raises(InputError):
        make(aws, projects="[]").ids("widgets; rm -rf /")


def test_arn_in_another_region_is_rejected(aws):
    with pytest.raises(InputError) as e:
        make(aws, projects="[]").ids(PROJECT_ARN.replace("us-east-1", "eu-west-1"))
    assert "eu-west-1" in e.value.message and "us-east-1" in e.value.message


# ---- faults ---------------------------------------------------------------------------------------


def test_access_denied_names_the_missing_permission(aws):
    expect_projects(aws)
    aws.stub.add_client_error("describe_project_versions", service_error_code="AccessDeniedException",
                              service_message="User: arn:aws:iam::123456789012:user/bot is not authorized",
                              http_status_code=400)
    with pytest.raises(CloudAuthError) as e:
        make(aws).failures()
    assert "rekognition:DescribeProjectVersions" in e.value.message


def test_bad_credentials_are_named(aws):
    aws.stub.add_client_error("describe_projects", service_error_code="UnrecognizedClientException",
                              service_message="The security token included in the request is invalid.",
                              http_status_code=400)
    with pytest.raises(CloudAuthError) as e:
        make(aws).probe()
    assert "rejected the credentials" in e.value.message


def test_throttling_becomes_cloud_throttled(aws):
    for _ in range(4):
        aws.stub.add_client_error("describe_projects", service_error_code="ThrottlingException",
                                  service_message="Rate exceeded", http_status_code=400)
    s = settings_for()
    p = RekognitionProvider(s.config.rekognition[0], s, client=aws.rek, retry=RetryPolicy(sleep=lambda s: None))
    with pytest.raises(CloudThrottled) as e:
        p.probe()
    assert "tried 4 times" in e.value.message
    aws.stub.assert_no_pending_responses()


def test_s3_access_denied_names_s3_getobject(aws, standin_library):
    expect_projects(aws)
    expect_versions(aws)
    s = settings_for()

    class DeniedS3:
        def get_object(self, **kw):
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"},
                               "ResponseMetadata": {"HTTPStatusCode": 403}}, "GetObject")

    p = RekognitionProvider(s.config.rekognition[0], s, client=aws.rek, s3_client=DeniedS3())
    [f] = p.failures()
    assert all("s3:GetObject" in problem for problem in f.details["manifest"]["problems"])
    assert len(f.details["manifest"]["problems"]) == 3


def test_unknown_profile_is_a_config_error():
    s = settings_for(extra='profile = "no-such-profile-xyz"')
    with pytest.raises(ConfigError) as e:
        RekognitionProvider(s.config.rekognition[0], s)
    assert "no-such-profile-xyz" in e.value.message


@pytest.fixture
def silent_server():
    """A loopback TCP server that accepts connections and never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                held.append(conn)
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    t.join()
    for c in held:
        c.close()
    srv.close()


def test_timeout_becomes_cloud_timeout_via_endpoint_url(silent_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    s = settings_for(extra=f'endpoint_url = "{silent_server}"\ntimeout_s = 0.2')
    with pytest.raises(CloudTimeout) as e:
        RekognitionProvider(s.config.rekognition[0], s, max_attempts=2).probe()
    assert "0.2 s" in e.value.message


def test_standard_aws_endpoint_url_variable_is_honoured(silent_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", silent_server)
    s = settings_for(extra="timeout_s = 0.2")
    p = RekognitionProvider(s.config.rekognition[0], s, max_attempts=1)
    assert p.client.meta.endpoint_url == silent_server
    with pytest.raises(CloudTimeout):
        p.probe()


# ---- CLI ------------------------------------------------------------------------------------------


@pytest.fixture
def cfg_file(tmp_path):
    path = tmp_path / "triage.toml"
    path.write_text(f'[[rekognition]]\nname = "aws-prod"\nregion = "{REGION}"\nprojects = ["widgets"]\n', encoding="utf-8")
    return path


def test_cli_ids_rekognition_json_through_the_test_seam(aws, cfg_file):
    expect_projects(aws)
    expect_versions(aws)
    res = CliRunner().invoke(
        cli, ["--config", str(cfg_file), "ids", "rekognition", "widgets", "--json"],
        obj={"provider_overrides": {"rekognition": {"client": aws.rek}}},
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["targets"][0]["ids"]["projects"][0]["versions"][0]["version_arn"] == V_FAILED


def test_cli_status_rekognition_text_shows_the_diagnosis(aws, cfg_file, standin_library):
    expect_projects(aws)
    expect_versions(aws)
    res = CliRunner().invoke(
        cli, ["--config", str(cfg_file), "status", "rekognition"],
        obj={"provider_overrides": {"rekognition": {"client": aws.rek}}},
    )
    assert res.exit_code == 0, res.output
    out = res.output
    assert f"Model ARN:            {V_FAILED}" in out
    assert "training manifest: 6 of 10 JSON lines invalid (60.0%, over the 20% limit)" in out
    assert "ERROR_INVALID_SOURCE_REF_FORMAT  3 line(s) in training (e.g. line 2, 3, 6)" in out
    assert "→ rekognition.ERROR_INVALID_SOURCE_REF_FORMAT" in out
    assert "1. stand-in rekognition.ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST" in out


def test_a_newer_version_that_trained_recovers_the_failed_training_and_an_older_one_does_not(aws, standin_library):
    v = failed_version(StatusMessage="The manifest file is empty.")
    del v["ManifestSummary"], v["TrainingDataResult"]["Validation"], v["TestingDataResult"]
    older = {"ProjectVersionArn": V_OK, "CreationTimestamp": NOW - datetime.timedelta(days=30), "Status": "TRAINING_COMPLETED"}
    expect_projects(aws)
    expect_versions(aws, [v, older])
    [f] = make(aws).failures()
    assert "recovered_by" not in f.details  # trained before the failure: not a retrain

    newer_arn = f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/widgets/version/widgets.2024-05-02T08.00.00/1714636800000"
    newer = {"ProjectVersionArn": newer_arn, "CreationTimestamp": NOW + datetime.timedelta(days=1), "Status": "RUNNING",
             "TrainingEndTimestamp": NOW + datetime.timedelta(days=1, hours=1)}
    expect_projects(aws)
    expect_versions(aws, [newer, v, older])
    [f] = make(aws).failures()
    assert f.details["recovered_by"] == "model version 'widgets.2024-05-02T08.00.00' trained (RUNNING) at 2024-05-02T11:00:00+00:00"


def test_names_lists_every_project_in_the_region_by_name(aws):
    expect_projects(aws, names=(), arns=(PROJECT_ARN, OTHER_ARN))  # all of them, not only the configured one
    assert make(aws).names() == ["gadgets", "widgets"]
    aws.stub.assert_no_pending_responses()
