"""`triage diagnose` and `triage playbooks` end to end, through the real console entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_MATCH_KEYS = {"id", "title", "service", "score", "evidence", "retryable", "steps"}
ADDED_MATCH_KEYS = {"facts"}  # keys may be added to the contract, never removed or renamed


def run(args: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, cwd=ROOT, timeout=120)


def run_main(capsys, monkeypatch, args: list[str], stdin: bytes = b"") -> tuple[int, str, str]:
    """In-process run of the entry point with a real stdin byte stream."""
    import io

    class FakeStdin(io.TextIOWrapper):
        def isatty(self) -> bool:
            return False

    monkeypatch.setattr(sys, "stdin", FakeStdin(io.BytesIO(stdin)))
    with pytest.raises(SystemExit) as e:
        main(args)
        raise SystemExit(0)
    out = capsys.readouterr()
    return e.value.code or 0, out.out, out.err


def test_issue_example_liveness_probe(capsys, monkeypatch):
    text = "ResourceNotReady: User container has crashed or terminated: Liveness probe failed\n"
    code, out, err = run_main(capsys, monkeypatch, ["diagnose", "--json", "-"], text.encode())
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == {"matches", "input"}
    assert doc["input"] == {"bytes": len(text.encode()), "lines": 1}
    best = doc["matches"][0]
    assert set(best) == CONTRACT_MATCH_KEYS | ADDED_MATCH_KEYS
    assert best["id"].startswith("azureml.endpoint.ERR_2200")
    assert best["evidence"] == [{"line": 1, "text": text.strip(), "role": "match"}]
    assert isinstance(best["score"], int) and isinstance(best["retryable"], bool)
    assert all(isinstance(s, str) and s for s in best["steps"])
    scores = [m["score"] for m in doc["matches"]]
    assert scores == sorted(scores, reverse=True)


def test_unrelated_stack_trace_gives_no_match_and_exit_0(capsys, monkeypatch):
    trace = (
        "Traceback (most recent call last):\n"
        '  File "/app/main.py", line 12, in <module>\n'
        "    main()\n"
        '  File "/app/main.py", line 9, in main\n'
        "    print(prices['banana'])\n"
        "KeyError: 'banana'\n"
    )
    code, out, _ = run_main(capsys, monkeypatch, ["diagnose", "--json", "-"], trace.encode())
    assert code == 0
    assert json.loads(out) == {"matches": [], "input": {"bytes": len(trace), "lines": 6}, "related": []}


def test_text_output_explains_and_redacts(capsys, monkeypatch):
    code, out, _ = run_main(capsys, monkeypatch, ["diagnose", str(ROOT / "examples" / "endpoint-crash.log")])
    assert code == 0
    assert "ERR_2200" in out and "What to do" in out and "retry:" in out
    assert "line 5:" in out
    assert "ZmFrZWtleWZha2Vr" not in out  # the AccountKey in the sample never reaches the terminal


def test_japanese_output(capsys, monkeypatch):
    code, out, _ = run_main(capsys, monkeypatch, ["diagnose", "--lang", "ja", "-"], "ERR_2200".encode())
    assert code == 0
    assert "対処手順" in out and "ユーザー コンテナー" in out


def test_top_and_service_options(capsys, monkeypatch):
    text = b"ResourceNotReady: User container has crashed or terminated: Liveness probe failed\n"
    _, out, _ = run_main(capsys, monkeypatch, ["diagnose", "--json", "--top", "1", "-"], text)
    assert len(json.loads(out)["matches"]) == 1
    _, out, _ = run_main(capsys, monkeypatch, ["diagnose", "--json", "--service", "rekognition", "-"], text)
    assert json.loads(out)["matches"] == []


@pytest.mark.parametrize(
    "args,message",
    [
        (["diagnose", "/no/such/file.log"], "no such file"),
        (["diagnose", "/"], "not a regular file"),
        (["diagnose", "--service", "gcp", "-"], "Invalid value for '--service'"),
        (["diagnose", "--lang", "fr", "-"], "Invalid value for '--lang'"),
        (["diagnose", "--top", "0", "-"], "Invalid value for '--top'"),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["playbooks", "show", "azureml.endpoint.ERR_2201"], "did you mean"),
    ],
)
def test_bad_input_gets_a_clear_message_not_a_trace(capsys, monkeypatch, args, message):
    code, out, err = run_main(capsys, monkeypatch, args)
    assert code != 0
    assert message in err
    assert "Traceback" not in err + out


def test_binary_garbage_on_stdin(capsys, monkeypatch):
    code, out, err = run_main(capsys, monkeypatch, ["diagnose", "--json", "-"], bytes(range(256)) * 1000)
    assert code == 0, err
    assert json.loads(out)["input"]["bytes"] == 256_000


def test_console_script_and_module_entry_points():
    r = run(["diagnose", "--json", "-"], b"ERR_2200: User container has crashed\\terminated\n")
    assert r.returncode == 0, r.stderr.decode()
    assert json.loads(r.stdout)["matches"][0]["id"] == "azureml.endpoint.ERR_2200"
    r = run(["--help"])
    assert b"diagnose" in r.stdout and b"playbooks" in r.stdout


def test_playbooks_list_json_and_lint(capsys, monkeypatch):
    code, out, _ = run_main(capsys, monkeypatch, ["playbooks", "list", "--json"])
    items = json.loads(out)
    assert code == 0 and all(set(i) == {"id", "service", "title"} for i in items)
    assert "azureml.endpoint.ERR_2200" in {i["id"] for i in items}
    code, out, err = run_main(capsys, monkeypatch, ["playbooks", "lint"])
    assert code == 0, err
    assert out.startswith("ok: ")


def test_lint_fails_on_a_broken_file_naming_file_and_field(capsys, monkeypatch, pb_dir):
    f = pb_dir / "azureml" / "endpoint.ERR_2200.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("severity: error", "severity: loud"), encoding="utf-8")
    code, _, err = run_main(capsys, monkeypatch, ["playbooks", "lint", "--dir", str(pb_dir)])
    assert code == 1
    assert "endpoint.ERR_2200.yaml" in err and "severity" in err


def test_lint_names_a_bad_pattern_and_re2_prints_nothing(pb_dir):
    f = pb_dir / "azureml" / "endpoint.ERR_2200.yaml"
    text = f.read_text(encoding="utf-8")
    assert "  patterns:\n" in text
    f.write_text(text.replace("  patterns:\n", "  patterns:\n    - 'broken (unclosed'\n", 1), encoding="utf-8")
    r = run(["playbooks", "lint", "--dir", str(pb_dir)])
    err = r.stderr.decode()
    assert r.returncode == 1
    assert err.startswith("error: ") and "endpoint.ERR_2200.yaml: match.patterns[0]: not a valid RE2 expression" in err
    assert err.count("\n") == 1, f"RE2 printed its own error too: {err!r}"


def test_lint_fails_when_an_example_matches_another_playbook_first(capsys, monkeypatch, pb_dir):
    f = pb_dir / "azureml" / "endpoint.ERR_2200.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace(
        '  - text: "ERR_2200: User container has crashed\\\\terminated"', '  - text: "all quiet here"'), encoding="utf-8")
    code, _, err = run_main(capsys, monkeypatch, ["playbooks", "lint", "--dir", str(pb_dir)])
    assert code == 1
    assert "azureml.endpoint.ERR_2200: examples[0]: matches no playbook" in err


def test_playbook_show(capsys, monkeypatch):
    code, out, _ = run_main(capsys, monkeypatch, ["playbooks", "show", "azureml.endpoint.ERR_2200"])
    assert code == 0
    assert "az ml online-deployment get-logs" in out and "001_333958d5e1e6422d.txt" in out


def test_unmatched_in_scope_text_gets_related_playbooks_not_a_diagnosis(capsys, monkeypatch):
    text = "How do I find the iteration id of my Custom Vision project for support?\n"
    code, out, _ = run_main(capsys, monkeypatch, ["diagnose", "--json", "-"], text.encode())
    doc = json.loads(out)
    assert code == 0 and doc["matches"] == []
    assert 1 <= len(doc["related"]) <= 3
    assert all(r["id"].startswith("customvision.") for r in doc["related"]), doc["related"]
    assert all(set(r) == {"id", "title", "similarity"} and 0 < r["similarity"] <= 1 for r in doc["related"])
    code, out, _ = run_main(capsys, monkeypatch, ["diagnose", "-"], text.encode())
    assert "Closest playbooks (not a diagnosis" in out and doc["related"][0]["id"] in out


def test_zero_division_has_no_related_playbooks(capsys, monkeypatch):
    code, out, _ = run_main(capsys, monkeypatch, ["diagnose", "--json", "-"], b"ZeroDivisionError: division by zero\n")
    assert json.loads(out)["related"] == []


def test_steps_are_filled_with_facts_and_keep_readable_placeholders():
    from bot.diagnosis import fill

    facts = {"module": "lightgbm", "endpoint": "credit-ep"}
    assert fill("pip install {module}", facts) == "pip install lightgbm"
    assert fill("add {package} to conda.yml", facts) == "add <package> to conda.yml", "no fact: a readable placeholder"
    assert fill("az ml online-deployment get-logs --endpoint-name <endpoint> --name <deployment>", facts) == (
        "az ml online-deployment get-logs --endpoint-name credit-ep --name <deployment>")
    assert fill('{"data": [1, 2]} {unknown_word}', facts) == '{"data": [1, 2]} {unknown_word}', "JSON and unknown names stay"


# What a one-line `triage diagnose` must not load: the clouds' SDKs, Slack, the store, the manifest
# analysis, and (the library coming from the on-disk cache) the YAML parser and pydantic.
NOT_LOADED_BY_DIAGNOSE = ("boto3", "botocore", "azure", "slack_bolt", "slack_sdk", "psycopg", "sqlite3", "yaml", "pydantic",
                          "bot.store", "bot.config", "bot.providers", "bot.manifests.lint",
                          "bot.render.manifest")


def test_one_line_diagnose_loads_only_what_it_needs(tmp_path):
    probe = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: sys.stderr.write(json.dumps(sorted(sys.modules))))\n"
        "from bot.cli import main\n"
        "main(['diagnose', '--json', '-'])\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    line = b"ResourceNotReady: User container has crashed or terminated\n"
    for attempt in ("builds the cache", "reads it"):
        r = subprocess.run([sys.executable, "-c", probe], input=line, capture_output=True, cwd=ROOT, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["matches"][0]["id"].startswith("azureml.endpoint.ERR_2200")
    loaded = json.loads(r.stderr)
    assert list((tmp_path / "cache" / "triage").glob("playbooks-*")), "the cache lives under XDG_CACHE_HOME"
    heavy = [m for m in loaded if m in NOT_LOADED_BY_DIAGNOSE or m.split(".")[0] in NOT_LOADED_BY_DIAGNOSE]
    assert heavy == []
