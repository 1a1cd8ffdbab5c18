"""Tickets that never claim what nobody did, and Japanese tickets in Japanese: the CLI against the
loopback Custom Vision and Rekognition stand-ins."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.diagnosis import engine
from fake_customvision import IT_FAILED, KEY, WIDGETS, FakeCustomVision, iteration, tag
from fake_rekognition import FakeRekognition
from test_customvision import SUB, cv_toml
from test_rekognition import BUCKET, NOW, PROJECT_ARN, REGION, SUMMARY, V_FAILED, VALIDATION, _line, failed_version

WRONG_SUB = "99999999-8888-7777-6666-555555555555"
IT_EARLIER = "11111111-aaaa-4bbb-8ccc-222222222222"


@pytest.fixture
def toml(tmp_path, fake):
    path = tmp_path / "triage.toml"
    path.write_text(f'[store]\npath = "{tmp_path / "triage.db"}"\n' + cv_toml(fake.endpoint), encoding="utf-8")
    return str(path)


def run(toml: str, *args: str, stdin: str | None = None):
    return CliRunner().invoke(cli, ["--config", toml, *args], env={"CV_KEY": KEY, "AWS_ACCESS_KEY_ID": "testing",
                                                                   "AWS_SECRET_ACCESS_KEY": "testing"},
                              input=stdin, catch_exceptions=False)


def draft_json(toml: str, *args: str) -> dict:
    r = run(toml, "ticket", "draft", *args, "--format", "json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def two_failed_iterations(fake: FakeCustomVision) -> None:
    fake.iterations[WIDGETS].insert(0, iteration(IT_EARLIER, WIDGETS, "Iteration 0", "Failed", "2024-04-30T10:00:00Z"))


# ---- already tried: only what triage knows --------------------------------------------------------


def test_already_tried_is_the_failed_iteration_count_and_the_tag_figures(toml, fake):
    two_failed_iterations(fake)
    t = draft_json(toml, "customvision", IT_FAILED, "--subscription", SUB)["ticket"]
    assert t["failed_attempts"] == 2
    retry, data = t["tried"]
    assert "failed 2 time(s)" in retry["outcome"] and "Iteration 0" in retry["outcome"] and "Iteration 2" in retry["outcome"]
    assert "cat: 3, dog: 40" in data["outcome"] and "minimum of 5" in data["outcome"]
    steps = [s for pb in t["playbooks"] for s in pb["steps"]]
    assert not any(item["step"] in steps for item in t["tried"])  # never a playbook step presented as done
    assert "not recorded" not in json.dumps(t["tried"])


def test_a_ticket_from_pasted_text_lists_only_what_the_requester_said(toml, fake):
    text = "Iteration status: Failed\nTraining failed for project widgets\nERR_2200 ModuleNotFoundError: No module named 'torch'\n"
    r = run(toml, "ticket", "draft", "text", "-", "--subscription", SUB, "--format", "json", stdin=text)
    t = json.loads(r.stdout)["ticket"]
    assert t["failed_attempts"] is None
    assert t["tried"] == []
    r = run(toml, "ticket", "draft", "text", "-", "--subscription", SUB, "--format", "json",
            "--tried", "restarted the deployment twice", stdin=text + "again\n")
    t = json.loads(r.stdout)["ticket"]
    assert t["tried"] == [{"step": "restarted the deployment twice", "outcome": "reported by the requester"}]


# ---- a sent ticket is never rewritten --------------------------------------------------------------


def test_drafting_again_after_mark_sent_opens_a_linked_follow_up_with_field_history(toml, fake):
    first = draft_json(toml, "customvision", IT_FAILED, "--subscription", SUB)["ticket"]
    assert run(toml, "ticket", "mark-sent", str(first["id"])).exit_code == 0
    sent_md = run(toml, "ticket", "export", str(first["id"])).stdout
    fake.tags[WIDGETS] = [tag("cat", 4), tag("dog", 40)]  # the data changed since
    two_failed_iterations(fake)
    doc = draft_json(toml, "customvision", IT_FAILED, "--subscription", SUB)
    follow = doc["ticket"]
    assert doc["created"] is True and follow["id"] != first["id"] and follow["follows"] == first["id"]
    assert follow["status"] == "draft"
    assert run(toml, "ticket", "export", str(first["id"])).stdout == sent_md  # the sent one is as it was sent
    shown = run(toml, "ticket", "show", str(follow["id"]), "--history").stdout
    assert f"Follow-up to ticket #{first['id']}" in shown
    history = [line for line in shown.splitlines() if f"follow-up of #{first['id']}" in line]
    assert len(history) == 1
    change = json.loads(history[0].split(f"follow-up of #{first['id']}", 1)[1])
    assert change["follows"] == first["id"]
    assert change["changed"]["images_per_tag"] == {"from": "cat: 3, dog: 40", "to": "cat: 4, dog: 40"}
    assert "retries_done" in change["changed"]
    # drafting once more updates the open follow-up, not the sent ticket
    again = draft_json(toml, "customvision", IT_FAILED, "--subscription", SUB)
    assert again["created"] is False and again["ticket"]["id"] == follow["id"]
    assert run(toml, "ticket", "export", str(first["id"])).stdout == sent_md


def test_a_sent_ticket_cannot_go_back_to_ready(toml, fake):
    from bot.tickets import TicketStateError

    t = draft_json(toml, "customvision", IT_FAILED, "--subscription", SUB)["ticket"]
    run(toml, "ticket", "mark-sent", str(t["id"]))
    with pytest.raises(TicketStateError, match="already sent"):
        run(toml, "ticket", "edit", str(t["id"]), "--ready")


# ---- the subscription gate gives the exact command -------------------------------------------------


def test_the_subscription_gate_hint_is_the_exact_command_that_fixes_it(toml, fake, monkeypatch, capsys):
    from bot.cli import main

    r = run(toml, "ticket", "draft", "customvision", IT_FAILED, "--subscription", WRONG_SUB)
    command = f"triage ticket edit 1 --subscription {SUB}"
    assert f"fix: {command}" in r.stderr
    monkeypatch.setenv("CV_KEY", KEY)
    with pytest.raises(SystemExit):
        main(["--config", toml, "ticket", "mark-sent", "1"])
    err = capsys.readouterr().err
    assert command in err
    fixed = run(toml, *command.split()[1:], "--ready")  # exactly what the hint said
    assert fixed.exit_code == 0 and "status ready" in fixed.stderr


# ---- Rekognition: the validation-manifest analysis travels with the ticket --------------------------


@pytest.fixture
def aws(tmp_path):
    server = FakeRekognition().start()
    server.projects.append({"ProjectArn": PROJECT_ARN, "CreationTimestamp": NOW, "Status": "CREATED"})
    server.versions[PROJECT_ARN] = [failed_version()]
    server.put_object(BUCKET, "runs/manifest_summary.json", json.dumps(SUMMARY))
    server.put_object(BUCKET, "runs/training_manifest_with_validation.json", VALIDATION)
    server.put_object(BUCKET, "runs/testing_manifest_with_validation.json", _line(20) + "\n")
    path = tmp_path / "aws.toml"
    path.write_text(f'[store]\npath = "{tmp_path / "t.db"}"\n\n[[rekognition]]\nname = "aws-prod"\nregion = "{REGION}"\n'
                    f'projects = ["widgets"]\nendpoint_url = "{server.endpoint}"\ns3_endpoint_url = "{server.endpoint}"\n',
                    encoding="utf-8")
    yield str(path)
    server.stop()


@pytest.mark.parametrize("lang,heading,dataset", [("en", "Validation manifests (analysed by triage)", "training"),
                                                  ("ja", "検証マニフェスト (triage による分析)", "トレーニング")])
def test_rekognition_ticket_carries_the_validation_manifest_analysis(aws, library, lang, heading, dataset):
    r = run(aws, "ticket", "draft", "rekognition", V_FAILED, "--lang", lang)
    assert r.exit_code == 0, r.output
    md = r.stdout
    assert heading in md
    assert f"| ERROR_INVALID_SOURCE_REF_FORMAT | {dataset} | 3 | 3 | 2, 3, 6 |" in md
    assert f"| ERROR_MISSING_CLASS_MAP_ID | {dataset} | 2 | 2 | 4, 8 |" in md
    assert "s3://cl-output-widgets/runs/training_manifest_with_validation.json" in md and "10" in md


# ---- Japanese tickets are Japanese -----------------------------------------------------------------


def test_japanese_ticket_takes_title_diagnosis_evidence_and_steps_from_the_playbooks_ja_text(toml, fake, library):
    two_failed_iterations(fake)
    doc = draft_json(toml, "customvision", IT_FAILED, "--subscription", SUB, "--lang", "ja")
    t = doc["ticket"]
    eng = engine(None)
    top = eng.playbooks[eng.by_id[t["playbooks"][0]["id"]]]
    assert t["title"].startswith(top.title.ja) and "イテレーション" in t["title"]
    assert [step.split("\n", 1)[0] for step in t["playbooks"][0]["steps"]] == [s.ja.split("\n", 1)[0] for s in top.steps]
    assert all(e.split(" 行目: ", 1)[0].isdigit() for e in t["evidence"])
    md = run(toml, "ticket", "export", str(t["id"])).stdout
    assert "トレーニングは 2 回失敗しました" in md and "2 回失敗しました: Iteration 0" in md
    for english in ("line 1:", "Already tried", "Retried", "tagged images", "has no value", "a retry alone"):
        assert english not in md, english
    assert top.title.ja in md and top.title.en not in md


def test_switching_an_english_ticket_to_japanese_rewrites_every_part(toml, fake, library):
    t = draft_json(toml, "customvision", IT_FAILED, "--subscription", SUB)["ticket"]
    r = run(toml, "ticket", "edit", str(t["id"]), "--lang", "ja")
    assert r.exit_code == 0
    assert "1 行目:" in r.stdout and "line 1:" not in r.stdout
    assert "1 回失敗しました" in r.stdout and "failed 1 time" not in r.stdout
    en = run(toml, "ticket", "export", str(t["id"]), "--lang", "en").stdout
    assert "line 1:" in en and "1 行目" not in en


def test_japanese_gate_warning_is_japanese_and_keeps_the_command(toml, fake):
    r = run(toml, "ticket", "draft", "customvision", IT_FAILED, "--subscription", WRONG_SUB, "--lang", "ja")
    assert "サブスクリプション" in r.stdout and f"triage ticket edit 1 --subscription {SUB}" in r.stdout
    assert "Azure support cannot investigate" not in r.stdout
