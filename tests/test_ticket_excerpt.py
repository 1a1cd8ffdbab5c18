"""Tickets from a long paste keep the head and the tail (where the error is), mark the cut,
and prefill IDs found anywhere in the paste; nothing secret survives a cut."""

from __future__ import annotations

import json

from click.testing import CliRunner

from bot.cli import cli
from bot.tickets import excerpt

SUB = "00000000-1111-2222-3333-444444444444"
REQ = "6f1c2a7e-2b1d-4c3e-9f8a-0b1c2d3e4f5a"
ENTRA = "Tst8Q~FakeClientSecretForUnitTests.0_~0_~0"
HEAD = "$ az ml online-deployment create --resource-group rg-cv --workspace-name ws-cv --endpoint-name cv-scoring -f blue.yml"
ERROR = "(ResourceNotReady) User container has crashed or terminated: ModuleNotFoundError: No module named 'sklearn'"


def long_paste() -> str:
    lines = [HEAD]
    for i in range(3000):
        lines.append(f"2024-05-01T10:00:{i % 60:02d}Z INFO azureml-inference-server: batch {i} ok")
        if i == 1500:  # IDs and a secret deep in the middle, far from both ends
            lines.append(f"x-ms-request-id: {REQ} /subscriptions/{SUB}/resourceGroups/rg-cv")
            lines.append(f"AZURE_CLIENT_SECRET={ENTRA}")
    lines += ["Traceback (most recent call last):", '  File "/var/azureml-app/score.py", line 3, in <module>', ERROR]
    return "\n".join(lines) + "\n"


def test_draft_from_a_long_paste_keeps_head_and_tail_and_ids_from_the_middle(tmp_path):
    toml = tmp_path / "triage.toml"
    toml.write_text(f'[store]\npath = "{tmp_path / "triage.db"}"\n', encoding="utf-8")
    paste = tmp_path / "paste.log"
    paste.write_text(long_paste(), encoding="utf-8")
    r = CliRunner().invoke(cli, ["--config", str(toml), "ticket", "draft", "text", str(paste), "--format", "json"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    fields = json.loads(r.stdout)["ticket"]["fields"]
    log = fields["log_excerpt"]
    assert log.startswith(HEAD)  # the command that was run
    assert ERROR in log and log.rstrip().endswith(ERROR)  # the error, at the end
    assert "lines (" in log and "cut …]" in log
    assert "batch 1500 ok" not in log  # the middle is what was cut
    assert fields["request_id"] == REQ and fields["subscription_id"] == SUB  # from the middle of the paste
    assert fields["resource_group"] == "rg-cv" and fields["workspace"] == "ws-cv"
    assert ENTRA not in r.stdout and ENTRA[:20] not in r.stdout


def test_excerpt_of_a_short_text_is_the_whole_text_redacted():
    assert excerpt(f"line one\nAZURE_CLIENT_SECRET={ENTRA}\n") == "line one\nAZURE_CLIENT_SECRET=[REDACTED]\n"


def test_a_secret_at_the_cut_is_redacted_before_the_cut():
    # The key straddles the head's end: cutting first would leave a prefix the redactor cannot recognise.
    text = "x" * 1480 + f" AccountKey={'FakeStorageKeyForUnitTestsOnly0123' * 3}==\n" + "filler line\n" * 500 + ERROR
    out = excerpt(text)
    assert "FakeStorageKey" not in out and "AccountKey=" in out
    assert out.rstrip().endswith(ERROR)


def test_one_huge_line_is_cut_and_marked():
    out = excerpt("A" * 50_000 + ERROR)
    assert len(out) < 4_500 and "cut …]" in out and out.endswith(ERROR)
