"""triage.toml validation, `config check` (static and --live), and the ID/ARN validators."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bot import config
from bot.cli import cli
from bot.commands.config_check import config_check
from bot.errors import ConfigError, InputError
from bot.identifiers import check_uuid, parse_rekognition_arn
from fake_customvision import KEY

SUB = "11111111-2222-3333-4444-555555555555"
RID = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/cv"


def test_config_with_several_problems_names_them_all_at_once():
    toml = """
[[customvision]]
name = "cv prod"
endpoint = "cv.example.com"
auth = "key"
resource_id = "/subscriptions/x/resourceGroups/rg"

[[rekognition]]
name = "aws"
region = "us-east"
colour = "blue"
"""
    with pytest.raises(ConfigError) as e:
        config.parse(toml, source="bad.toml")
    msg = e.value.message
    assert msg.startswith("bad.toml: ") and "problem(s)" in msg
    for expected in ("customvision[0].name", "customvision[0].endpoint", "customvision[0].resource_id",
                     "rekognition[0].region", "rekognition[0].colour"):
        assert expected in msg, expected


def test_config_check_names_every_problem_at_once():
    toml = f"""
[defaults]
subscription_id = "99999999-2222-3333-4444-555555555555"

[[customvision]]
name = "cv-key"
endpoint = "https://cv.cognitiveservices.azure.com"
training_key_env = "CV_MISSING_KEY"
resource_id = "{RID}"
projects = ["widgets", "64b822c5-8082"]

[[customvision]]
name = "cv-entra"
endpoint = "https://westeurope.api.cognitive.microsoft.com"
auth = "entra"
resource_id = "{RID}"

[[rekognition]]
name = "aws"
region = "us-east-1"
projects = ["widgets", "arn:aws:rekognition:eu-west-1:123456789012:project/widgets/1690000000000", "bad name!"]
"""
    report = config_check(config.Settings(config.parse(toml), {}))
    errors = [(c.target, c.message) for c in report.checks if c.level == "error"]
    warnings = [(c.target, c.message) for c in report.checks if c.level == "warning"]
    assert not report.ok
    assert ("cv-key", "environment variable CV_MISSING_KEY is not set") in errors
    assert any(t == "cv-key" and "64b822c5-8082" in m for t, m in errors)
    assert any(t == "cv-entra" and "regional endpoint" in m for t, m in errors)
    assert any(t == "aws" and "eu-west-1" in m for t, m in errors)
    assert any(t == "aws" and "bad name!" in m for t, m in errors)
    assert sum(t in ("cv-key", "cv-entra") and "defaults.subscription_id" in m for t, m in warnings) == 2


def test_config_check_live_probes_each_target(fake, tmp_path):
    path = tmp_path / "triage.toml"
    path.write_text(
        f'[[customvision]]\nname = "cv-ok"\nendpoint = "{fake.endpoint}"\ntraining_key_env = "CV_KEY"\nresource_id = "{RID}"\n'
        f'[[customvision]]\nname = "cv-badkey"\nendpoint = "{fake.endpoint}"\ntraining_key_env = "WRONG_KEY"\nresource_id = "{RID}"\n',
        encoding="utf-8",
    )
    res = CliRunner().invoke(cli, ["--config", str(path), "config", "check", "--live", "--json"],
                             env={"CV_KEY": KEY, "WRONG_KEY": "not-it"})
    assert res.exit_code == 1
    doc = json.loads(res.output)
    live = {c["target"]: c for c in doc["checks"] if c["message"].startswith("live:")}
    assert live["cv-ok"]["level"] == "ok" and "listed 2 project(s)" in live["cv-ok"]["message"]
    assert live["cv-badkey"]["level"] == "error" and "$WRONG_KEY" in live["cv-badkey"]["message"]
    assert "not-it" not in res.output


def test_config_check_skips_live_probe_when_static_check_failed(fake, tmp_path):
    path = tmp_path / "triage.toml"
    path.write_text(f'[[customvision]]\nname = "cv"\nendpoint = "{fake.endpoint}"\ntraining_key_env = "NOT_SET"\nresource_id = "{RID}"\n',
                    encoding="utf-8")
    res = CliRunner().invoke(cli, ["--config", str(path), "config", "check", "--live"], env={})
    assert res.exit_code == 1
    assert "FAIL  customvision/cv: environment variable NOT_SET is not set" in res.output
    assert fake.requests == []


def test_config_check_ok(fake, tmp_path):
    path = tmp_path / "triage.toml"
    path.write_text(f'[[customvision]]\nname = "cv"\nendpoint = "{fake.endpoint}"\ntraining_key_env = "CV_KEY"\nresource_id = "{RID}"\n',
                    encoding="utf-8")
    res = CliRunner().invoke(cli, ["--config", str(path), "config", "check"], env={"CV_KEY": KEY})
    assert res.exit_code == 0, res.output
    assert res.output.strip().endswith("ok")
    assert fake.requests == []  # static checks make no calls


def test_config_check_without_any_target_warns():
    report = config_check(config.Settings(config.Config(), {}))
    assert report.ok and report.checks[0].level == "warning" and "no targets" in report.checks[0].message


def test_missing_config_file_is_a_clean_error(tmp_path):
    res = CliRunner().invoke(cli, ["--config", str(tmp_path / "nope.toml"), "status"])
    assert isinstance(res.exception, ConfigError) and "config file not found" in res.exception.message


# ---- validators -------------------------------------------------------------------------------------


def test_uuid_validator_shows_the_shape():
    assert check_uuid("64B822C5-8082-4B36-A426-27225F4AA18C", "Project Id") == "64b822c5-8082-4b36-a426-27225f4aa18c"
    with pytest.raises(InputError) as e:
        check_uuid("64b822c5", "Iteration Id")
    assert "Iteration Id" in e.value.message and "8-4-4-4-12" in e.value.hint


def test_rekognition_arn_parser():
    v = parse_rekognition_arn(
        "arn:aws:rekognition:ap-northeast-1:123456789012:project/my_proj.v2/version/my_proj.v2.2024-05-01T10.00.00/1714557600000"
    )
    assert (v.region, v.account, v.project, v.version) == ("ap-northeast-1", "123456789012", "my_proj.v2", "my_proj.v2.2024-05-01T10.00.00")
    with pytest.raises(InputError) as e:
        parse_rekognition_arn(v.arn, kind="project")
    assert "project/<name>/<13-digit timestamp>" in e.value.hint and "version" not in e.value.hint


# ---- [store]: a SQLite path, a PostgreSQL url, or DATABASE_URL --------------------------------------


def test_store_location_prefers_the_file_then_database_url_then_the_user_data_dir(tmp_path):
    url = "postgresql://triage@db.internal:5432/triage"
    s = config.Settings(config.parse(f'[store]\nurl = "{url}"\n'), {"DATABASE_URL": "postgresql://other@x/y"})
    assert s.store_location() == url
    s = config.Settings(config.parse(f'[store]\npath = "{tmp_path / "t.db"}"\n'), {"DATABASE_URL": url})
    assert s.store_location() == tmp_path / "t.db"
    assert config.Settings(config.parse(""), {"DATABASE_URL": url}).store_location() == url
    assert str(config.Settings(config.parse(""), {}).store_location()).endswith("triage.db")


def test_store_password_comes_from_the_named_variable_never_the_file():
    s = config.Settings(config.parse('[store]\nurl = "postgresql://triage@db:5432/triage"\npassword_env = "TRIAGE_DB_PASSWORD"\n'),
                        {"TRIAGE_DB_PASSWORD": "p@ss:w/rd"})
    assert s.store_location() == "postgresql://triage:p%40ss%3Aw%2Frd@db:5432/triage"
    with pytest.raises(ConfigError, match="TRIAGE_DB_PASSWORD is not set"):
        config.Settings(s.config, {}).store_location()
    with pytest.raises(ConfigError) as e:
        config.parse('[store]\nurl = "postgresql://triage:hunter2@db/triage"\npath = "x.db"\n')
    assert "no password in the file" in e.value.message and "hunter2" not in e.value.message


@pytest.mark.parametrize("toml, message", [
    ('[store]\nurl = "mysql://db/triage"\n', "use a postgresql://"),
    ('[store]\nurl = "postgresql://db/t"\npath = "t.db"\n', "either path (SQLite) or url (PostgreSQL)"),
    ('[store]\npath = "t.db"\npassword_env = "X"\n', "password_env goes with url"),
])
def test_bad_store_sections_are_named(toml, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config.parse(toml)


def test_a_database_url_that_is_not_postgresql_is_refused_without_echoing_it():
    with pytest.raises(ConfigError) as e:
        config.Settings(config.parse(""), {"DATABASE_URL": "mysql://u:secret@db/x"}).store_location()
    assert "DATABASE_URL names a mysql database" in e.value.message and "secret" not in e.value.message


# ---- config check as a process: schema errors and unset variables together, exit 1 --------------------


def _triage(*args: str, env: dict[str, str] | None = None):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TRIAGE_", "CV_"))}
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=120,
                          env=base | {"PYTHONPATH": str(root)} | (env or {}))


def test_config_check_reports_schema_errors_and_unset_keys_of_every_target_together(tmp_path):
    path = tmp_path / "triage.toml"
    path.write_text(f"""
[defaults]
lang = "fr"

[[customvision]]
name = "cv-broken"
endpoint = "cv.example.com"
training_key_env = "CV_BROKEN_KEY"
resource_id = "{RID}"

[[customvision]]
name = "cv-unset"
endpoint = "https://cv.cognitiveservices.azure.com"
training_key_env = "CV_UNSET_KEY"
resource_id = "{RID}"

[[azureml]]
name = "aml"
subscription_id = "{SUB}"
resource_group = "rg"
workspace = "ws"
colour = "blue"

[[rekognition]]
name = "aws"
region = "us-east"
""", encoding="utf-8")
    r = _triage("--config", str(path), "config", "check", "--json")
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    errors = {(c["service"], c["target"]): c["message"] for c in doc["checks"] if c["level"] == "error"}
    assert "endpoint" in errors[("customvision", "cv-broken")]
    assert errors[("customvision", "cv-unset")] == "environment variable CV_UNSET_KEY is not set"
    assert "colour" in errors[("azureml", "aml")]
    assert "region" in errors[("rekognition", "aws")]
    assert "lang" in errors[("defaults", "")]
    assert doc["errors"] == 5
    text = _triage("--config", str(path), "config", "check")
    assert text.returncode == 1 and "5 error(s)" in text.stdout and "Traceback" not in text.stderr


def test_config_check_of_a_missing_or_broken_file_exits_1(tmp_path):
    r = _triage("--config", str(tmp_path / "nope.toml"), "config", "check")
    assert r.returncode == 1 and "config file not found" in r.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[[customvision]\nname = ", encoding="utf-8")
    r = _triage("--config", str(bad), "config", "check", "--json")
    assert r.returncode == 1 and "invalid TOML" in json.loads(r.stdout)["checks"][0]["message"]
