"""`status` and `ids` across targets: concurrent, per-target errors, target selection, CLI."""

from __future__ import annotations

import json
import re
import threading

import pytest
from click.testing import CliRunner

from bot import config
from bot.cli import cli
from bot.commands.ids import ids
from bot.commands.status import status
from bot.errors import CloudAuthError, CloudNotFound, ConfigError, InputError
from fake_customvision import DEFECTS, IT_FAILED, KEY, RBAC_403, WIDGETS, FakeCustomVision, iteration, project
from standin_playbooks import standin_library  # noqa: F401  (fixture)

SUB = "11111111-2222-3333-4444-555555555555"


def rid(name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/{name}"


def target(name: str, endpoint: str, env: str = "CV_KEY") -> str:
    return f"""
[[customvision]]
name = "{name}"
endpoint = "{endpoint}"
training_key_env = "{env}"
resource_id = "{rid(name)}"
"""


def serving(n: int):
    """n Custom Vision resources with the standard projects, stopped afterwards (for a fixture to yield from)."""
    servers = [FakeCustomVision().start() for _ in range(n)]
    for s in servers:
        s.seed_standard()
    yield servers
    for s in servers:
        s.stop()


@pytest.fixture
def fakes():
    yield from serving(3)


def settings_of(toml: str, env: dict[str, str] | None = None) -> config.Settings:
    return config.Settings(config.parse(toml), {"CV_KEY": KEY} if env is None else env)


def test_sweep_reads_targets_concurrently(fakes, standin_library):
    # Each server holds its first GetProjects until all three have arrived: a sequential
    # sweep could never get past the first one (the barrier would break and answer 500).
    barrier = threading.Barrier(3, timeout=10)
    for f in fakes:
        f.barrier = barrier
    s = settings_of("".join(target(f"cv-{i}", f.endpoint) for i, f in enumerate(fakes)))
    result = status(s)
    assert [t.target for t in result.targets] == ["cv-0", "cv-1", "cv-2"]
    assert all(t.ok for t in result.targets), [t.error for t in result.targets]
    assert [f.key for f in result.failures] == [IT_FAILED] * 3
    assert not barrier.broken


def test_one_bad_target_becomes_an_error_entry_not_a_crash(fakes, standin_library):
    toml = target("cv-good", fakes[0].endpoint) + target("cv-badkey", fakes[1].endpoint, env="OTHER_KEY") \
        + target("cv-nokey", fakes[2].endpoint, env="UNSET_KEY")
    result = status(settings_of(toml, {"CV_KEY": KEY, "OTHER_KEY": "wrong"}))
    by_name = {t.target: t for t in result.targets}
    assert by_name["cv-good"].ok and len(by_name["cv-good"].failures) == 1
    assert isinstance(by_name["cv-badkey"].error, CloudAuthError)
    assert isinstance(by_name["cv-nokey"].error, ConfigError) and "UNSET_KEY" in by_name["cv-nokey"].error.message
    assert fakes[2].requests == []
    doc = result.to_json()
    assert doc["failure_count"] == 1 and doc["error_count"] == 2
    bad = next(t for t in doc["targets"] if t["target"] == "cv-badkey")
    assert bad["ok"] is False and bad["error"]["type"] == "CloudAuthError" and bad["failures"] == []


def test_unexpected_provider_bug_is_isolated_to_its_target(fakes, standin_library):
    class Broken:
        def get(self, *a, **kw):
            raise RuntimeError("boom")

    s = settings_of(target("cv-0", fakes[0].endpoint))
    result = status(s, overrides={"customvision": {"session": Broken()}})
    [t] = result.targets
    assert not t.ok and "RuntimeError: boom" in t.error.message


def test_unknown_target_is_named_with_a_suggestion(fakes):
    s = settings_of(target("cv-prod", fakes[0].endpoint))
    with pytest.raises(InputError) as e:
        status(s, target="cv-prd")
    assert "'cv-prd'" in e.value.message and "did you mean 'cv-prod'" in e.value.hint
    assert fakes[0].requests == []


def test_unknown_service_is_rejected(fakes):
    s = settings_of(target("cv-prod", fakes[0].endpoint))
    with pytest.raises(InputError) as e:
        status(s, service="vision")
    assert "customvision" in e.value.hint


def test_no_targets_configured_says_how_to_fix_it():
    with pytest.raises(ConfigError) as e:
        status(config.Settings(config.Config(), {}))
    assert "no targets configured" in e.value.message


def test_ids_across_targets_hides_not_found_where_another_target_has_it(fakes):
    fakes[1].projects.clear()
    s = settings_of(target("cv-a", fakes[0].endpoint) + target("cv-b", fakes[1].endpoint))
    result = ids(s, "customvision", "widgets")
    assert [(t.target, t.ok) for t in result.targets] == [("cv-a", True)]
    assert result.targets[0].ids.projects[0].id == WIDGETS


def test_ids_not_found_anywhere_is_one_error(fakes):
    s = settings_of(target("cv-a", fakes[0].endpoint) + target("cv-b", fakes[1].endpoint))
    with pytest.raises(CloudNotFound) as e:
        ids(s, "customvision", "widgetz")
    assert "cv-a" in e.value.message and "cv-b" in e.value.message and "widgets" in e.value.hint


# ---- CLI ------------------------------------------------------------------------------------------


@pytest.fixture
def cfg(tmp_path, fakes):
    path = tmp_path / "triage.toml"
    path.write_text(target("cv-prod", fakes[0].endpoint) + target("cv-broken", fakes[1].endpoint, env="BAD_KEY"),
                    encoding="utf-8")
    return path


def test_cli_status_json_has_a_stable_shape_and_exit_1_on_target_errors(cfg, standin_library):
    res = CliRunner().invoke(cli, ["--config", str(cfg), "status", "--json"], env={"CV_KEY": KEY, "BAD_KEY": "nope"})
    assert res.exit_code == 1
    doc = json.loads(res.output)
    assert set(doc) == {"checked_at", "elapsed_s", "failure_count", "error_count", "targets"}
    assert set(doc["targets"][0]) == {"service", "target", "ok", "failures", "error", "elapsed_s"}
    failure = doc["targets"][0]["failures"][0]
    assert failure["fields"]["iteration_id"] == IT_FAILED
    assert failure["matches"][0]["id"] == "customvision.insufficient_training_images"
    assert doc["targets"][1]["error"]["type"] == "CloudAuthError"
    assert "nope" not in res.output


def test_cli_status_text_for_one_target_given_alone(cfg, fakes, standin_library):
    res = CliRunner().invoke(cli, ["--config", str(cfg), "status", "cv-prod"], env={"CV_KEY": KEY})
    assert res.exit_code == 0, res.output
    assert res.output.startswith("1 target(s) checked")
    assert f"Iteration Id:         {IT_FAILED}" in res.output
    assert "· tag 'cat': 3 tagged images, minimum 5 for Classification" in res.output
    assert fakes[1].requests == []


def test_cli_status_text_reports_the_broken_target(cfg, standin_library):
    res = CliRunner().invoke(cli, ["--config", str(cfg), "status", "customvision", "cv-broken"], env={"BAD_KEY": "x"})
    assert res.exit_code == 1
    assert "! customvision/cv-broken: could not be checked (CloudAuthError)" in res.output
    assert "hint: put the Training key" in res.output


# ---- the sweep gives what one call after another gives ----------------------------------------------

def _no_wait() -> dict:
    from bot.providers.retry import RetryPolicy

    return {"customvision": {"retry": RetryPolicy(sleep=lambda s: None)}}


def _comparable(result) -> dict:
    """The sweep's JSON without its timings."""
    doc = result.to_json()
    del doc["checked_at"], doc["elapsed_s"]
    for t in doc["targets"]:
        del t["elapsed_s"]
    return doc


@pytest.fixture
def four():
    yield from serving(4)


def _faults(fakes) -> None:
    """One fine target; then a 403 on one project's tags, a 5xx (retried) on the other project's
    iterations in the same target, a 429 that outlasts the retries, and a 403 on GetProject."""
    from fake_customvision import RBAC_403, gateway_429

    for _ in range(4):  # later in input order than the 403 below, but it finishes after it
        fakes[1].queue(rf"/projects/{WIDGETS}/iterations$", 503, {"code": "ErrorUnknown", "message": "try later"})
    fakes[1].queue(rf"/projects/{DEFECTS}/tags$", 403, RBAC_403)
    for _ in range(4):
        fakes[2].queue(rf"/projects/{DEFECTS}/tags$", 429, gateway_429(0), {"Retry-After": "0"})
    fakes[3].queue(rf"/projects/{DEFECTS}$", 403, RBAC_403)


def _sweep_settings(fakes):
    by_id = f'projects = ["{WIDGETS}", "{DEFECTS}"]\n'
    return settings_of("".join(target(f"cv-{i}", f.endpoint) for i, f in enumerate(fakes[:3]))
                       + target("cv-3", fakes[3].endpoint) + by_id)


def test_concurrent_sweep_equals_the_sequential_one_errors_included(four, standin_library):
    s = _sweep_settings(four)
    _faults(four)
    sequential = status(s, max_workers=1, overrides=_no_wait())
    _faults(four)
    concurrent = status(s, overrides=_no_wait())

    assert _comparable(concurrent) == _comparable(sequential)
    by_name = {t.target: t for t in concurrent.targets}
    assert [t.target for t in concurrent.targets] == ["cv-0", "cv-1", "cv-2", "cv-3"]
    assert by_name["cv-0"].ok and [f.key for f in by_name["cv-0"].failures] == [IT_FAILED]
    # the first error in project order wins, not the first to arrive (the 403 came back first)
    e1 = by_name["cv-1"].error
    assert type(e1).__name__ == "CloudError" and "HTTP 503" in e1.message and WIDGETS in e1.message
    assert "tried 4 times" in e1.message
    e2 = by_name["cv-2"].error
    assert type(e2).__name__ == "CloudThrottled" and "429" in e2.message and f"tags of project {DEFECTS}" in e2.message
    e3 = by_name["cv-3"].error
    assert isinstance(e3, CloudAuthError) and "HTTP 403" in e3.message and f"get project {DEFECTS}" in e3.message
    assert "cv-3" in e3.message or "accounts/cv-3" in e3.message


def test_projects_by_id_are_read_in_one_round_without_listing(four, standin_library):
    # GetDomains, GetProject, GetIterations and GetTags of the one configured project wait for each
    # other at the server: only one round of calls can get past the barrier.
    fake = four[0]
    fake.barrier = threading.Barrier(4, timeout=10)
    fake.barrier_paths = re.compile(rf"(/domains|/projects/{WIDGETS}(/iterations|/tags)?)$")
    s = settings_of(target("cv-0", fake.endpoint) + f'projects = ["{WIDGETS.upper()}", "{WIDGETS}"]\n')
    result = status(s)
    assert result.targets[0].ok, result.targets[0].error
    assert [f.key for f in result.failures] == [IT_FAILED]
    assert result.failures[0].fields["project_type"] == "Classification (General)"
    assert not fake.barrier.broken
    assert "/customvision/v3.3/training/projects" not in fake.paths()
    assert sorted(fake.paths()) == sorted(
        f"/customvision/v3.3/training{p}" for p in ("/domains", f"/projects/{WIDGETS}", f"/projects/{WIDGETS}/iterations",
                                                     f"/projects/{WIDGETS}/tags"))


def test_a_missing_project_id_is_named_like_a_missing_name(four, standin_library):
    gone = "0f0f0f0f-0000-4000-8000-000000000000"
    s = settings_of(target("cv-0", four[0].endpoint) + f'projects = ["{gone}", "{WIDGETS}"]\n')
    [t] = status(s).targets
    assert isinstance(t.error, CloudNotFound)
    assert t.error.message == f"no Custom Vision project '{gone}' in target 'cv-0'"
    assert t.error.hint.startswith(f"'{gone}'")


def test_pool_nested_fan_outs_finish_on_a_pool_smaller_than_the_work():
    from bot.pool import Pool, pmap

    with Pool(2):  # 3 x 3 nested items on 2 threads: the callers run what no thread has taken
        got = pmap(lambda i: pmap(lambda j: (i, j), range(3), 3), range(3), 3)
    assert got == [[(i, j) for j in range(3)] for i in range(3)]


def test_pool_raises_the_first_error_in_input_order():
    from bot.pool import Pool

    def fn(i):
        if i == 0:
            threading.Event().wait(0.2)  # the first item fails last
            raise ValueError("first")
        raise KeyError("second")

    with Pool(4) as pool, pytest.raises(ValueError, match="first"):
        pool.map(fn, range(2), 2)


# ---- a second sweep in the same process: the remembered selection is read beside the listing ----


API = "/customvision/v3.3/training"


def test_a_second_sweep_reads_the_projects_it_knows_beside_the_listing_in_one_round(fakes, standin_library):
    fake = fakes[0]
    s = settings_of(target("cv-0", fake.endpoint))  # every project of the resource: the listing decides
    first = status(s)
    assert [f.key for f in first.failures] == [IT_FAILED]
    del fake.requests[:]
    # GetProjects, GetDomains and the iterations and tags of both known projects wait for each other
    # at the server: only if all six are in flight at once does any get past the barrier.
    fake.barrier = threading.Barrier(6, timeout=10)
    fake.barrier_paths = re.compile(rf"(/domains|/projects|/projects/({WIDGETS}|{DEFECTS})/(iterations|tags))$")
    second = status(s)
    assert not fake.barrier.broken and second.targets[0].ok, second.targets[0].error
    assert _comparable(second) == _comparable(first)
    assert sorted(fake.paths()) == sorted(API + p for p in (
        "/domains", "/projects", f"/projects/{WIDGETS}/iterations", f"/projects/{WIDGETS}/tags",
        f"/projects/{DEFECTS}/iterations", f"/projects/{DEFECTS}/tags"))


def test_named_projects_are_one_round_from_the_second_sweep_on(fakes, standin_library):
    fake = fakes[0]
    s = settings_of(target("cv-0", fake.endpoint) + 'projects = ["widgets"]\n')
    status(s)
    fake.barrier = threading.Barrier(4, timeout=10)
    fake.barrier_paths = re.compile(rf"(/domains|/projects|/projects/{WIDGETS}/(iterations|tags))$")
    second = status(s)
    assert not fake.barrier.broken and [f.key for f in second.failures] == [IT_FAILED]


def test_the_listing_still_decides_when_projects_come_and_go_between_sweeps(fakes, standin_library):
    fake = fakes[0]
    s = settings_of(target("cv-0", fake.endpoint))
    status(s)
    new, new_it = "7a7a7a7a-0000-4000-8000-000000000001", "7b7b7b7b-0000-4000-8000-000000000001"
    del fake.projects[DEFECTS]  # its remembered reads now answer 404: dropped, not an error
    fake.projects[new] = project(new, "newcomer")
    fake.iterations[new] = [iteration(new_it, new, "Iteration 1", "Failed", "2024-06-01T10:00:00Z")]
    second = status(s)
    assert second.targets[0].ok, second.targets[0].error
    assert sorted(f.key for f in second.failures) == sorted([IT_FAILED, new_it])
    third = status(s)  # the newcomer is remembered now; the deleted project is no longer asked for
    assert sorted(f.key for f in third.failures) == sorted([IT_FAILED, new_it])
    assert sum(p.endswith(f"{DEFECTS}/iterations") for p in fake.paths()) == 2  # the first sweep and the second


def test_errors_of_remembered_and_new_projects_come_in_project_order_as_when_listed_first(fakes, standin_library):
    fake = fakes[0]
    s = settings_of(target("cv-0", fake.endpoint))
    status(s)
    first = next(iter(fake.projects))  # GetProjects answers in insertion order
    new = "7a7a7a7a-0000-4000-8000-000000000002"
    fake.projects[new] = project(new, "newcomer")  # listed last, read after the listing
    fake.queue(rf"/projects/{new}/iterations$", 403, RBAC_403)
    fake.queue(rf"/projects/{first}/tags$", 403, RBAC_403)
    [t] = status(s).targets
    assert isinstance(t.error, CloudAuthError) and f"list tags of project {first}" in t.error.message
    fake.queue(rf"/projects/{new}/iterations$", 403, RBAC_403)
    fake.queue(rf"/projects/{first}/tags$", 403, RBAC_403)
    [seq] = status(s, max_workers=1).targets  # one call after another: the same answer
    assert seq.error.message == t.error.message
