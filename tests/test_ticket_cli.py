"""`triage ticket` end to end: a failed Custom Vision iteration on the loopback fake, drafted from the CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bot.cli import cli
from fake_customvision import KEY, FakeCustomVision
from test_customvision import RESOURCE_ID, SUB, cv_toml

WRONG_SUB = "99999999-8888-7777-6666-555555555555"


@pytest.fixture
def toml(tmp_path, fake, store_location):
    """On both backends: [store] path for SQLite, [store] url for PostgreSQL."""
    path = tmp_path / "triage.toml"
    key = "url" if store_location.startswith("postgresql://") else "path"
    path.write_text(f'[store]\n{key} = "{store_location}"\n' + cv_toml(fake.endpoint), encoding="utf-8")
    return str(path)


def failed_iteration(fake: FakeCustomVision) -> tuple[str, str]:
    for pid, iterations in fake.iterations.items():
        for it in iterations:
            if it["status"] == "Failed":
                return pid, it["id"]
    raise AssertionError("the fake has no failed iteration")


def run(toml: str, *args: str):
    return CliRunner().invoke(cli, ["--config", toml, *args], env={"CV_KEY": KEY}, catch_exceptions=False)


def test_ticket_for_a_failed_iteration_has_the_three_ids_and_passes_the_gate(toml, fake):
    pid, iid = failed_iteration(fake)
    r = run(toml, "ticket", "draft", "customvision", iid, "--subscription", SUB, "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    t = doc["ticket"]
    assert doc["created"] is True
    assert (t["fields"]["project_id"], t["fields"]["iteration_id"], t["fields"]["resource_id"]) == (pid, iid, RESOURCE_ID)
    assert not [w for w in t["warnings"] if w["code"].startswith(("subscription", "filing"))]
    md = run(toml, "ticket", "export", str(t["id"]), "--format", "md").stdout
    assert pid in md and iid in md and RESOURCE_ID in md
    assert KEY not in md
    # the same failure again: the same ticket, updated
    again = json.loads(run(toml, "ticket", "draft", "customvision", iid, "--subscription", SUB, "--format", "json").stdout)
    assert again["created"] is False and again["ticket"]["id"] == t["id"]
    listed = json.loads(run(toml, "ticket", "list", "--json").stdout)
    assert len(listed) == 1


def test_wrong_subscription_is_blocked_with_the_reason(toml, fake):
    _, iid = failed_iteration(fake)
    r = run(toml, "ticket", "draft", "customvision", iid, "--subscription", WRONG_SUB)
    assert r.exit_code == 0
    assert "blocking" in r.stderr and "cannot investigate" in r.stderr
    from bot.tickets import TicketStateError

    with pytest.raises(TicketStateError, match="still a draft"):
        run(toml, "ticket", "mark-sent", "1")
    fixed = run(toml, "ticket", "edit", "1", "--subscription", SUB, "--ready")
    assert fixed.exit_code == 0 and "status ready" in fixed.stderr
    assert run(toml, "ticket", "mark-sent", "1").stdout.strip() == "ticket #1: sent"


def test_japanese_draft_and_text_export(toml, fake):
    _, iid = failed_iteration(fake)
    r = run(toml, "ticket", "draft", "customvision", iid, "--subscription", SUB, "--lang", "ja")
    assert "トレーニングの失敗" in r.stdout and "識別子" in r.stdout
    text = run(toml, "ticket", "export", "1", "--format", "text").stdout
    assert "|" not in text.splitlines()[0] and "Iteration Id" in text


@pytest.mark.parametrize("args,message", [
    (["ticket", "draft", "customvision", "not-a-uuid"], "expected"),
    (["ticket", "draft", "customvision", "00000000-0000-0000-0000-000000000000"], "no failed customvision object"),
    (["ticket", "show", "42"], "no ticket #42"),
    (["ticket", "edit", "1", "--set", "novalue"], "expected FIELD=VALUE"),
    (["ticket", "edit", "1", "--waive", "region"], "--waive needs --reason"),
])
def test_bad_ticket_input_gets_a_clear_message(toml, fake, args, message, monkeypatch, capsys):
    from bot.cli import main

    monkeypatch.setenv("CV_KEY", KEY)
    run(toml, "ticket", "draft", "customvision", failed_iteration(fake)[1], "--subscription", SUB)
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["--config", toml, *args])
    err = capsys.readouterr().err
    assert e.value.code != 0
    assert message in err and "Traceback" not in err
