"""The one-pass matcher: ranking rules, evidence, streaming and hostile input, on a synthetic library."""

from __future__ import annotations

import io

import pytest

from bot.playbooks import Engine, Playbook
from bot.playbooks.model import ServiceContext
from bot.playbooks import matcher as matcher_mod


def pb(pid: str, service: str, match: dict, refines: str | None = None) -> Playbook:
    return Playbook.model_validate(
        {
            "id": pid,
            "service": service,
            "severity": "error",
            "retryable": False,
            "refines": refines,
            "title": {"en": pid, "ja": f"{pid} (ja)"},
            "summary": {"en": "s", "ja": "s"},
            "match": match,
            "steps": [{"en": "do", "ja": "する"}],
            "source": [{"url": "https://example.invalid"}],
            "examples": [{"text": "x"}],
        }
    )


LIB = [
    pb("azureml.endpoint.ERR_1100", "azureml-endpoint", {"codes": ["ERR_1100"], "messages": ["Not enough quota"]}),
    pb("azureml.endpoint.quota_msg", "azureml-endpoint", {"messages": ["quota is exhausted"]}),
    pb("azureml.endpoint.quota_pat", "azureml-endpoint", {"patterns": [r"(?i)quota.{0,20}exceeded"]}),
    pb("azureml.endpoint.ERR_2200", "azureml-endpoint", {"codes": ["ERR_2200"], "messages": ["ユーザー コンテナーがクラッシュ"]}),
    pb("azureml.endpoint.ERR_2200.probe", "azureml-endpoint", {"patterns": [r"(?i)liveness probe failed"]}, refines="azureml.endpoint.ERR_2200"),
    pb(
        "azureml.job.missing_package",
        "azureml-job",
        {"patterns": [r"ModuleNotFoundError: No module named"], "context": [r"user_logs/std_log"], "requires_context": True},
    ),
    pb("rekognition.status.TRAINING_FAILED", "rekognition", {"statuses": ["TRAINING_FAILED"]}),
]


def scan(text: str | bytes, service: str | None = None):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return Engine(LIB, service).scan(io.BytesIO(data))


def ids(result) -> list[str]:
    return [f.playbook.id for f in result.found]


def test_code_outranks_message_outranks_pattern():
    r = scan("ERR_1100 here\nthe quota is exhausted\nquota for cores exceeded\n")
    assert ids(r) == ["azureml.endpoint.ERR_1100", "azureml.endpoint.quota_msg", "azureml.endpoint.quota_pat"]
    scores = [f.score for f in r.found]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 3


def test_codes_are_whole_tokens_and_case_sensitive():
    assert ids(scan("XERR_1100 err_1100 ERR_11000")) == []
    assert ids(scan('{"code": "ERR_1100"}')) == ["azureml.endpoint.ERR_1100"]


def test_messages_are_case_and_space_insensitive_including_japanese():
    assert ids(scan("NOT   ENOUGH\tquota")) == ["azureml.endpoint.ERR_1100"]
    assert ids(scan("エラー: ユーザーコンテナーがクラッシュしました")) == ["azureml.endpoint.ERR_2200"]


def test_more_matching_specs_score_higher():
    one = scan("ERR_1100").found[0].score
    two = scan("ERR_1100: Not enough quota").found[0].score
    assert two > one


def test_branch_outranks_parent_when_both_match_and_inherits_evidence():
    r = scan("line one\nERR_2200 container crashed\nLiveness probe failed: HTTP 502\n")
    assert ids(r) == ["azureml.endpoint.ERR_2200.probe", "azureml.endpoint.ERR_2200"]
    branch, parent = r.found
    assert branch.score > parent.score
    assert [line for line, _ in branch.evidence] == [3, 2], "the line that decided the branch first, then its parent's"


def test_branch_alone_still_matches_on_its_own_weight():
    r = scan("Liveness probe failed")
    assert ids(r) == ["azureml.endpoint.ERR_2200.probe"]
    assert r.found[0].score == matcher_mod.WEIGHTS["pattern"]


def test_requires_context():
    assert ids(scan("ModuleNotFoundError: No module named 'torch'")) == []
    r = scan("azureml-logs/user_logs/std_log.txt\nModuleNotFoundError: No module named 'torch'\n")
    assert ids(r) == ["azureml.job.missing_package"]
    assert [line for line, _ in r.found[0].evidence] == [2, 1], "the decisive line, then the context"
    assert r.found[0].context_lines == {1}


def test_service_filter():
    text = "ERR_1100\nTRAINING_FAILED\n"
    assert ids(scan(text, "rekognition")) == ["rekognition.status.TRAINING_FAILED"]
    assert ids(scan(text, "azureml")) == ["azureml.endpoint.ERR_1100"]
    # A hint for one area never hides the right answer in the other area of the same product.
    assert ids(scan(text, "azureml-job")) == ["azureml.endpoint.ERR_1100"]


CONTEXT = ServiceContext(customvision=[r"(?i)custom ?vision"], azureml=[r"(?i)\bazureml\b"], rekognition=[r"(?i)custom labels"])
LOCAL_TRACE = "Traceback (most recent call last):\nModuleNotFoundError: No module named 'lightgbm'\n"


def test_generic_symptom_needs_evidence_of_the_product():
    assert ids(Engine(LIB, None, CONTEXT).scan(io.BytesIO(LOCAL_TRACE.encode()))) == []


def test_product_context_in_the_text_satisfies_requires_context():
    text = "/mnt/azureml/cr/j/abc/exe/wd\n" + LOCAL_TRACE
    r = Engine(LIB, None, CONTEXT).scan(io.BytesIO(text.encode()))
    assert ids(r) == ["azureml.job.missing_package"]
    assert [n for n, _ in r.found[0].evidence] == [3, 1], "the product line is shown as context, after the match"
    assert r.found[0].context_lines == {1}


def test_named_service_is_context():
    r = Engine(LIB, "azureml-job", CONTEXT).scan(io.BytesIO(LOCAL_TRACE.encode()))
    assert ids(r) == ["azureml.job.missing_package"]
    assert ids(Engine(LIB, "rekognition", CONTEXT).scan(io.BytesIO(LOCAL_TRACE.encode()))) == []


def test_named_area_comes_first_among_equals():
    lib = [
        pb("azureml.job.oom", "azureml-job", {"messages": ["CUDA out of memory"]}),
        pb("azureml.endpoint.oom", "azureml-endpoint", {"messages": ["CUDA out of memory"]}),
    ]
    text = io.BytesIO(b"RuntimeError: CUDA out of memory.\n")
    assert ids(Engine(lib, "azureml-endpoint", CONTEXT).scan(text))[0] == "azureml.endpoint.oom"
    text.seek(0)
    assert ids(Engine(lib, "azureml-job", CONTEXT).scan(text))[0] == "azureml.job.oom"


def test_unrelated_input_matches_nothing():
    trace = 'Traceback (most recent call last):\n  File "app.py", line 3, in <module>\nKeyError: \'x\'\n'
    assert ids(scan(trace)) == []
    assert ids(scan("")) == []


def test_evidence_lines_and_counts():
    r = scan("a\nb\nERR_1100\nc")
    assert (r.bytes, r.lines) == (len("a\nb\nERR_1100\nc"), 4)
    assert r.found[0].evidence == ((3, "ERR_1100"),)


def test_evidence_is_capped_and_bounded_then_cut_after_redaction():
    long_line = "ERR_1100 " + "x" * 50_000
    r = scan("\n".join([long_line] * 50))
    ev = r.found[0].evidence
    assert len(ev) == matcher_mod.MAX_EVIDENCE
    assert all(len(text.encode()) <= matcher_mod.RAW_LINE_BYTES for _, text in ev), "memory stays bounded"
    engine, hit = Engine(LIB), matcher_mod.Hit()
    assert engine.specs[0].text == "ERR_1100"
    engine._collect(engine._regex(0), 0, "\n".join([long_line] * 3).encode(), 0, hit)
    assert [len(raw) for _, raw in hit.lines] == [matcher_mod.RAW_LINE_BYTES] * 3, "and so does what a scan holds"
    from bot.diagnosis import evidence_text

    assert len(evidence_text(ev[0][1])) == matcher_mod.MAX_LINE_CHARS
    # An unlabelled key that the 400-character cut would have split is redacted whole first.
    key = "AccountKey=" + "A" * 380 + "b" * 8 + "Q2hhcmxpZQ=="
    shown = evidence_text("ERR_1100 connection string " + key)
    assert "A" * 20 not in shown and "Q2hhcmxpZQ" not in shown


def test_invalid_utf8_and_binary_garbage_do_not_crash():
    garbage = bytes(range(256)) * 64 + b"\xff\xfe ERR_1100 \xc3\x28\x00\n" + b"\x80" * 1000
    r = scan(garbage)
    assert ids(r) == ["azureml.endpoint.ERR_1100"]
    (line, text), = r.found[0].evidence
    from bot.diagnosis import evidence_text

    assert "ERR_1100" in text and "\x00" not in evidence_text(text), "controls go before anything is shown"


def test_line_numbers_stay_right_across_chunks(monkeypatch):
    monkeypatch.setattr(matcher_mod, "CHUNK_BYTES", 64)
    lines = [f"ordinary log line {i}" for i in range(500)]
    lines[10] = "ERR_1100 early"
    lines[437] = "Liveness probe failed late"
    r = scan("\n".join(lines) + "\n")
    found = {f.playbook.id: f for f in r.found}
    assert found["azureml.endpoint.ERR_1100"].evidence == ((11, "ERR_1100 early"),)
    assert found["azureml.endpoint.ERR_2200.probe"].evidence == ((438, "Liveness probe failed late"),)
    assert r.lines == 500


def test_one_huge_line_without_newlines(monkeypatch):
    monkeypatch.setattr(matcher_mod, "CHUNK_BYTES", 1024)
    data = b"y" * 20_000 + b" ERR_1100 " + b"z" * 20_000
    r = scan(data)
    assert ids(r) == ["azureml.endpoint.ERR_1100"]
    assert r.lines == 1


def test_reads_in_bounded_chunks(monkeypatch):
    """The stream is read piece by piece, never as a whole."""
    monkeypatch.setattr(matcher_mod, "CHUNK_BYTES", 4096)
    sizes = []

    class Spy(io.BytesIO):
        def read(self, n=-1):
            sizes.append(n)
            return super().read(n)

    Engine(LIB).scan(Spy(b"log line\n" * 10_000))
    assert sizes and all(0 < n <= 4096 for n in sizes)


@pytest.mark.parametrize("bad", ["(?<=a)b", "(a)\\1"])
def test_lookaround_and_backrefs_are_rejected_by_model_validation(bad, tmp_path):
    from bot.playbooks.loader import load_file

    d = tmp_path / "azureml"
    d.mkdir()
    f = d / "endpoint.bad.yaml"
    f.write_text(
        "id: azureml.endpoint.bad\nservice: azureml-endpoint\nseverity: error\nretryable: false\n"
        "title: {en: a, ja: あ}\nsummary: {en: a, ja: あ}\n"
        f"match: {{patterns: ['{bad}']}}\nsteps: [{{en: a, ja: あ}}]\nsource: [{{url: 'https://x'}}]\nexamples: [{{text: a}}]\n",
        encoding="utf-8",
    )
    from bot.errors import PlaybookError

    with pytest.raises(PlaybookError, match=r"match\.patterns\[0\]: not a valid RE2"):
        load_file(f)


def test_a_branch_shows_its_own_line_even_after_many_parent_lines():
    text = "\n".join(["ERR_2200 container crashed"] * 10 + ["filler"] * 50 + ["Liveness probe failed at last"]) + "\n"
    branch = scan(text).found[0]
    assert branch.playbook.id == "azureml.endpoint.ERR_2200.probe"
    lines = [line for line, _ in branch.evidence]
    assert lines[0] == 61 and len(lines) == matcher_mod.MAX_EVIDENCE, "the branch's own line decides, first"
    assert lines[1:] == sorted(lines[1:])


def test_evidence_context_is_capped_and_labelled():
    text = "azureml-logs/user_logs/std_log\n" * 4 + "ModuleNotFoundError: No module named 'torch'\n"
    found = scan(text).found[0]
    assert [n for n, _ in found.evidence] == [5, 1, 2]
    assert found.context_lines == {1, 2} and len(found.context_lines) == matcher_mod.MAX_CONTEXT


def test_named_groups_are_facts_quoted_from_the_text():
    lib = [
        pb("azureml.job.missing", "azureml-job", {"patterns": [r"No module named '(?P<module>[\w.]+)'"],
                                                   "context": [r"--endpoint-name (?P<endpoint>[\w-]+)"]}),
        pb("azureml.job.missing.branch", "azureml-job", {"patterns": [r"ModuleNotFound(?P<kind>Error)"]}, refines="azureml.job.missing"),
    ]
    text = "az ml online-deployment create --endpoint-name my-ep\nModuleNotFoundError: No module named 'lightgbm.sklearn'\n"
    branch, parent = Engine(lib).scan(io.BytesIO(text.encode())).found
    assert dict(parent.facts) == {"module": "lightgbm.sklearn", "endpoint": "my-ep"}
    assert dict(branch.facts) == {"kind": "Error", "module": "lightgbm.sklearn", "endpoint": "my-ep"}, "a branch inherits its parent's facts"
    assert dict(Engine(lib).scan(io.BytesIO(b"ModuleNotFoundError: boom\n")).found[0].facts) == {"kind": "Error"}, "no fact is invented"
