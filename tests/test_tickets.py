"""Ticket drafts: completeness, the subscription gate, one ticket per failure, templates, history."""

from __future__ import annotations

import json
import multiprocessing
from datetime import datetime, timezone
from pathlib import Path

import jinja2
import pytest
from freezegun import freeze_time

from bot.commands.diagnose import diagnose_text
from bot.failures import Failure
from bot.render.ticket import environment, render_ticket, templates_dir
from bot.store import open_store
from bot.tickets import REQUIRED, Ticket, TicketStateError, TicketStore, extract_fields, from_failure

SUB = "6d2c0f7e-1b5a-4c1e-9d6e-2f1a7c3b9e40"
OTHER_SUB = "0b7f6a55-3c1d-4e2f-8a9b-1c2d3e4f5a6b"
RESOURCE_ID = f"/subscriptions/{SUB}/resourceGroups/rg-vision/providers/Microsoft.CognitiveServices/accounts/cv-train-jp"
PROJECT = "64b822c5-8082-4b36-a426-27225f4aa18c"
ITERATION = "fe1e83c4-6f50-4899-9544-6bb08cf0e15a"


def cv_failure(**overrides) -> Failure:
    fields = {
        "project_id": PROJECT, "iteration_id": ITERATION, "resource_id": RESOURCE_ID, "subscription_id": SUB,
        "region": "japaneast", "retries_done": "2 retries, both Failed", "images_per_tag": "dog: 3, cat: 40",
    }
    fields.update(overrides)
    return Failure(
        service="customvision", target="cv-prod", kind="iteration", key=ITERATION, status="Failed",
        message='"status": "Failed"', occurred_at=datetime(2026, 11, 20, 8, 30, tzinfo=timezone.utc), fields=fields,
        matches=diagnose_text('GetIterations: {"id": "%s", "status": "Failed"}\nERR_2200' % ITERATION).matches,
    )


@pytest.fixture
def tickets(store) -> TicketStore:
    """On both backends (tests/conftest.py: a SQLite file, a database on the test PostgreSQL cluster)."""
    return TicketStore(store)


def test_custom_vision_ticket_has_the_three_ids_and_passes_the_gate(tickets):
    t, created = tickets.save_draft(from_failure(cv_failure(), filing_subscription=SUB), actor="U1")
    assert created and t.id == 1 and t.status == "draft"
    assert t.missing == [] and t.blocking == []
    md = render_ticket(t, "md")
    for value in (PROJECT, ITERATION, RESOURCE_ID, "japaneast", "2 retries, both Failed", "2026-11-20T08:30:00+00:00"):
        assert value in md
    assert tickets.mark(t.id, "ready", actor="U1").status == "ready"


def test_wrong_subscription_blocks_with_the_reason(tickets):
    t, _ = tickets.save_draft(from_failure(cv_failure(), filing_subscription=OTHER_SUB), actor="U1")
    (w,) = t.blocking
    assert w.code == "subscription_mismatch" and SUB in w.message and OTHER_SUB in w.message
    assert "cannot investigate" in w.message
    with pytest.raises(TicketStateError, match="still a draft"):
        tickets.mark(t.id, "ready", actor="U1")
    assert "BLOCKING" in render_ticket(t, "md")
    fixed = tickets.edit(t.id, actor="U1", filing_subscription=SUB)
    assert fixed.blocking == []


def test_unknown_filing_subscription_blocks_until_given(tickets):
    t, _ = tickets.save_draft(from_failure(cv_failure()), actor="U1")
    assert [w.code for w in t.blocking] == ["filing_subscription_unknown"]


def test_missing_fields_stay_draft_until_filled_or_waived(tickets):
    failure = cv_failure(retries_done="", region="")
    t, _ = tickets.save_draft(from_failure(failure, filing_subscription=SUB), actor="U1")
    assert t.missing == ["region", "retries_done"]
    with pytest.raises(TicketStateError):
        tickets.mark(t.id, "sent", actor="U1")
    t = tickets.edit(t.id, actor="U2", set_fields={"region": "japaneast"})
    t = tickets.edit(t.id, actor="U2", waive={"retries_done": "retrying costs 3 h of budget; support asked to skip"})
    assert t.missing == []
    assert tickets.mark(t.id, "ready", actor="U2").status == "ready"
    assert "retrying costs" in render_ticket(t, "md")
    # taking the waiver back reopens the gap and sends the ticket back to draft
    t = tickets.edit(t.id, actor="U2", unwaive=["retries_done"])
    assert t.status == "draft" and t.missing == ["retries_done"]


def test_a_waiver_needs_a_reason_and_fields_must_be_known(tickets):
    t, _ = tickets.save_draft(from_failure(cv_failure(), filing_subscription=SUB), actor="U1")
    from bot.errors import InputError

    with pytest.raises(InputError, match="needs a reason"):
        tickets.edit(t.id, actor="U1", waive={"region": ""})
    with pytest.raises(InputError, match="unknown field 'colour'"):
        tickets.edit(t.id, actor="U1", set_fields={"colour": "red"})


def test_same_failure_twice_updates_one_ticket_and_keeps_edits(tickets):
    t1, created1 = tickets.save_draft(from_failure(cv_failure(), filing_subscription=SUB), actor="U1")
    tickets.edit(t1.id, actor="U2", set_fields={"region": "japanwest"})
    t2, created2 = tickets.save_draft(from_failure(cv_failure(images_per_tag="dog: 5"), filing_subscription=SUB), actor="U1")
    assert (created1, created2) == (True, False) and t1.id == t2.id
    assert t2.fields["region"] == "japanwest"  # the person's edit wins over the lookup
    assert t2.fields["images_per_tag"] == "dog: 5"
    assert len(tickets.list()) == 1
    actions = [h["action"] for h in tickets.history(t1.id)]
    assert actions == ["created", "edited", "redrafted"]


def _draft_in_process(location: str, barrier) -> int:
    store = open_store(location)
    barrier.wait()
    t, _ = TicketStore(store).save_draft(from_failure(cv_failure(), filing_subscription=SUB), actor="proc")
    return t.id


def test_concurrent_drafts_from_four_processes_give_one_ticket(store_location):
    open_store(store_location).close()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(4)
        with ctx.Pool(4) as pool:
            ids = pool.starmap(_draft_in_process, [(store_location, barrier)] * 4)
    assert len(set(ids)) == 1
    store = open_store(store_location)
    assert store.counts()["tickets"] == 1
    assert [h["action"] for h in TicketStore(store).history(ids[0])] == ["created"] + ["redrafted"] * 3
    store.close()


@freeze_time("2026-11-21 09:15:00")
def test_times_are_utc_and_recorded(tickets):
    t, _ = tickets.save_draft(from_failure(cv_failure(), filing_subscription=SUB), actor="U1")
    assert t.created == t.updated == "2026-11-21T09:15:00+00:00"
    with freeze_time("2026-11-21 10:00:00"):
        t = tickets.mark(t.id, "sent", actor="U1")
    assert t.updated == "2026-11-21T10:00:00+00:00"
    (row,) = tickets.store.query("select sent_at from tickets")
    assert row["sent_at"] == "2026-11-21T10:00:00+00:00"


def test_no_secret_survives_into_a_ticket(tickets):
    failure = cv_failure()
    failure.log_excerpt = "calling with Training-Key: 0123456789abcdef0123456789abcdef and sig=AbCdEf0123456789%2BxyzXYZ%3D"
    failure.fields["error_message"] = "AccountKey=ZmFrZWtleWZha2VrZXlmYWtla2V5ZmFrZWtleQ==;"
    t, _ = tickets.save_draft(from_failure(failure, filing_subscription=SUB), actor="U1")
    for fmt in ("md", "json", "text"):
        out = render_ticket(t, fmt)
        assert "0123456789abcdef0123456789abcdef" not in out
        assert "AbCdEf0123456789" not in out and "ZmFrZWtleWZha2VrZXlm" not in out
    (stored,) = [r["body"] for r in tickets.store.query("select body from tickets")]
    assert "ZmFrZWtleWZha2VrZXlm" not in stored


TEMPLATE_CASES = [(svc, lang) for svc in ("customvision", "azureml-endpoint", "azureml-job", "rekognition") for lang in ("en", "ja")]


@pytest.mark.parametrize("service,lang", TEMPLATE_CASES)
def test_every_template_renders_full_and_minimal(service, lang):
    full = Ticket(fingerprint="f", service=service, title="t", lang=lang, id=7, created="c", updated="u",
                  fields={name: f"<{name}>" for name in REQUIRED[service]} | {"log_excerpt": "boom", "manifest_summary": "2/10 invalid"},
                  waivers={"region": "n/a"}, tried=[{"step": "retry", "outcome": "failed twice"}],
                  playbooks=[{"id": "x.y", "title": "X", "summary": "s", "collect": [], "steps": ["a"], "retryable": True}],
                  evidence=["line 1: boom"], filing_subscription=SUB)
    minimal = Ticket(fingerprint="f", service=service, title="t", lang=lang)
    for t in (full, minimal):
        for fmt in ("md", "text"):
            out = render_ticket(t, fmt)
            assert out.strip()
    md = render_ticket(full, "md")
    # raw HTML is shown as text: escaped in Markdown lines and cells, verbatim inside code fences
    assert all(f"&lt;{name}&gt;" in md or f"```\n<{name}>\n```" in md for name in REQUIRED[service] if name != "log_excerpt")
    assert all(f"<{name}>" in render_ticket(full, "text") for name in REQUIRED[service] if name != "log_excerpt")
    assert ("MISSING" if lang == "en" else "未入力") in render_ticket(minimal, "md")
    assert "**" not in render_ticket(full, "text") and "|---" not in render_ticket(full, "text")


def test_a_template_error_fails_loudly(tmp_path):
    (tmp_path / "tickets").mkdir()
    (tmp_path / "tickets" / "customvision.en.md.j2").write_text("{{ t.fields.no_such_field }}", encoding="utf-8")
    with pytest.raises(jinja2.UndefinedError):
        render_ticket(Ticket(fingerprint="f", service="customvision", title="t"), "md", directory=str(tmp_path))
    environment.cache_clear()


def test_every_template_file_parses():
    env = environment()
    names = [p.relative_to(templates_dir()).as_posix() for p in Path(templates_dir()).rglob("*.j2")]
    assert len(names) >= 8
    for name in names:
        env.get_template(name)


def test_extract_fields_from_pasted_text():
    text = (
        "$ az ml online-deployment create --endpoint-name fraud-scoring --name blue -g rg-ml -w ws-prod\n"
        f"Not enough quota available for Standard_DS3_v2 in SubscriptionId {SUB}.\n"
        "Code: OutOfQuota\n"
        "x-ms-client-request-id: 3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d\n"
    )
    f = extract_fields(text)
    assert f == {"resource_group": "rg-ml", "workspace": "ws-prod", "endpoint": "fraud-scoring", "deployment": "blue",
                 "instance_type": "Standard_DS3_v2", "subscription_id": SUB, "error_code": "OutOfQuota",
                 "request_id": "3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}


def test_json_export_is_the_stable_structure(tickets):
    t, _ = tickets.save_draft(from_failure(cv_failure(), filing_subscription=SUB), actor="U1")
    doc = json.loads(render_ticket(t, "json"))
    assert {"id", "status", "service", "fields", "missing", "warnings", "tried", "playbooks", "evidence"} <= set(doc)
    assert doc["tried"][0]["outcome"] == "2 retries, both Failed"
