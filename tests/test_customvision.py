"""Custom Vision provider against a loopback fake of the Training REST API v3.3."""

from __future__ import annotations

import json
import socket

import pytest
from click.testing import CliRunner

from bot import config
from bot.cli import cli
from bot.errors import CloudAuthError, CloudError, CloudNotFound, CloudThrottled, CloudTimeout, ConfigError, InputError
from bot.providers import get_provider
from bot.providers.customvision import CustomVisionProvider, images_per_tag
from bot.providers.retry import RetryPolicy
from fake_customvision import (
    PROXY_LOGIN_PAGE,
    DEFECTS,
    GATEWAY_401,
    IT_FAILED,
    IT_OK,
    KEY,
    TOKEN,
    TOKEN_WITHOUT_ROLE,
    WIDGETS,
    FakeCustomVision,
    gateway_429,
    iteration,
    tag,
)
from standin_playbooks import standin_library  # noqa: F401  (fixture)

SUB = "11111111-2222-3333-4444-555555555555"
RESOURCE_ID = f"/subscriptions/{SUB}/resourceGroups/rg-vision/providers/Microsoft.CognitiveServices/accounts/cv-prod"


def cv_toml(endpoint: str, name: str = "cv-prod", extra: str = "") -> str:
    return f"""
[[customvision]]
name = "{name}"
endpoint = "{endpoint}"
training_key_env = "CV_KEY"
resource_id = "{RESOURCE_ID}"
region = "westeurope"
{extra}
"""


def settings_for(endpoint: str, env: dict[str, str] | None = None, extra: str = "", head: str = "") -> config.Settings:
    cfg = config.parse(head + cv_toml(endpoint, extra=extra))
    return config.Settings(cfg, {"CV_KEY": KEY} if env is None else env)


class Sleeps(list):
    """Injectable sleep: records the delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def provider(fake: FakeCustomVision, sleeps: Sleeps | None = None, **kw) -> CustomVisionProvider:
    s = kw.pop("settings", None) or settings_for(fake.endpoint, extra=kw.pop("extra", ""))
    policy = RetryPolicy(sleep=sleeps if sleeps is not None else Sleeps(), rand=lambda: 0.5)
    return CustomVisionProvider(s.config.customvision[0], s, retry=policy, **kw)


# ---- ids ------------------------------------------------------------------------------------------


def test_ids_lists_projects_iterations_and_resource_id(fake):
    result = provider(fake).ids()
    doc = result.to_json()
    assert doc["resource_id"] == RESOURCE_ID and doc["subscription_id"] == SUB
    widgets = next(p for p in doc["projects"] if p["name"] == "widgets")
    assert widgets["project_id"] == WIDGETS
    assert widgets["project_type"] == "Classification (Multiclass)"
    assert [(i["iteration_id"], i["status"]) for i in widgets["iterations"]] == [(IT_FAILED, "Failed"), (IT_OK, "Completed")]
    assert widgets["iterations"][1]["trained_at"] == "2024-04-20T09:40:00Z"
    defects = next(p for p in doc["projects"] if p["name"] == "defects")
    assert defects["project_type"] == "ObjectDetection"
    headers = fake.requests[0][2]
    assert headers.get("Training-Key") == KEY and "Authorization" not in headers


def test_ids_by_project_id_uses_get_project(fake):
    doc = provider(fake).ids(WIDGETS.upper()).to_json()
    assert [p["project_id"] for p in doc["projects"]] == [WIDGETS]
    assert f"/customvision/v3.3/training/projects/{WIDGETS}" in fake.paths()
    assert "/customvision/v3.3/training/projects" not in fake.paths()


def test_project_name_typo_is_not_found_with_a_suggestion(fake):
    with pytest.raises(CloudNotFound) as e:
        provider(fake).ids("widgtes")
    assert "'widgtes'" in e.value.message and "did you mean 'widgets'" in e.value.hint


def test_unknown_project_id_404_suggests_the_close_id(fake):
    typo = WIDGETS[:-1] + "d"
    with pytest.raises(CloudNotFound) as e:
        provider(fake).ids(typo)
    assert typo in e.value.message
    assert WIDGETS in e.value.hint


@pytest.mark.parametrize("bad", ["64b822c5-8082-4b36", "64b822c5-8082-4b36-a426-27225f4aa18cff", "zzb822c5-8082-4b36-a426-27225f4aa18c"[2:]])
def test_malformed_project_id_is_rejected_before_any_call(fake, bad):
    with pytest.raises(InputError) as e:
        provider(fake).ids(bad)
    assert "8-4-4-4-12" in e.value.hint
    assert fake.requests == []


def test_malformed_project_id_in_config_is_rejected_before_any_call(fake):
    p = provider(fake, extra='projects = ["widgets", "64b822c5-8082"]')
    with pytest.raises(InputError):
        p.failures()
    assert fake.requests == []


# ---- auth -----------------------------------------------------------------------------------------


def test_bad_key_401_names_the_variable_not_the_key(fake):
    s = settings_for(fake.endpoint, env={"CV_KEY": "wrong-key-value"})
    with pytest.raises(CloudAuthError) as e:
        provider(fake, settings=s).ids()
    text = str(e.value)
    assert "$CV_KEY" in e.value.message and "401" in e.value.message
    assert "Training key" in e.value.hint
    assert "wrong-key-value" not in text


def test_missing_key_variable_is_a_config_error_before_any_call(fake):
    s = settings_for(fake.endpoint, env={})
    with pytest.raises(ConfigError) as e:
        CustomVisionProvider(s.config.customvision[0], s)
    assert "CV_KEY" in e.value.message
    assert fake.requests == []


def entra_settings(endpoint: str) -> config.Settings:
    toml = cv_toml(endpoint).replace('training_key_env = "CV_KEY"', 'auth = "entra"')
    return config.Settings(config.parse(toml), {})


def test_entra_token_is_sent_as_bearer():
    fake = FakeCustomVision(key=None).start()
    fake.seed_standard()
    try:
        s = entra_settings(fake.endpoint)
        p = CustomVisionProvider(s.config.customvision[0], s, token_provider=lambda: TOKEN)
        assert "2 project(s)" in p.probe()
        assert fake.requests[0][2]["Authorization"] == f"Bearer {TOKEN}"
        assert "Training-Key" not in fake.requests[0][2]
    finally:
        fake.stop()


def test_missing_role_403_names_the_role():
    fake = FakeCustomVision(key=None).start()
    try:
        s = entra_settings(fake.endpoint)
        p = CustomVisionProvider(s.config.customvision[0], s, token_provider=lambda: TOKEN_WITHOUT_ROLE)
        with pytest.raises(CloudAuthError) as e:
            p.probe()
        assert "403 PermissionDenied" in e.value.message and RESOURCE_ID in e.value.message
        assert "Cognitive Services Custom Vision Reader" in e.value.hint
    finally:
        fake.stop()


# ---- throttling, server errors, timeouts ------------------------------------------------------------


def test_429_then_success_honours_retry_after(fake):
    fake.queue(r"/projects$", 429, gateway_429(2), {"Retry-After": "2"})
    sleeps = Sleeps()
    doc = provider(fake, sleeps).ids().to_json()
    assert {p["name"] for p in doc["projects"]} == {"widgets", "defects"}
    assert fake.paths().count("/customvision/v3.3/training/projects") == 2
    assert len(sleeps) == 1 and sleeps[0] >= 2.0


def test_429_without_header_uses_the_try_again_in_message(fake):
    fake.queue(r"/projects$", 429, gateway_429(3))
    sleeps = Sleeps()
    provider(fake, sleeps).probe()
    assert len(sleeps) == 1 and sleeps[0] >= 3.0


def test_persistent_429_gives_cloud_throttled_after_bounded_attempts(fake):
    for _ in range(10):
        fake.queue(r"/projects$", 429, gateway_429(1), {"Retry-After": "1"})
    sleeps = Sleeps()
    with pytest.raises(CloudThrottled) as e:
        provider(fake, sleeps).probe()
    assert fake.paths().count("/customvision/v3.3/training/projects") == 4
    assert len(sleeps) == 3
    assert "429" in e.value.message and "tried 4 times" in e.value.message


def test_retry_after_beyond_the_bound_gives_up_at_once(fake):
    fake.queue(r"/projects$", 429, gateway_429(120), {"Retry-After": "120"})
    sleeps = Sleeps()
    with pytest.raises(CloudThrottled) as e:
        provider(fake, sleeps).probe()
    assert sleeps == [] and len(fake.requests) == 1
    assert "120 s" in e.value.message


def test_backoff_grows_exponentially_with_jitter(fake):
    for _ in range(3):
        fake.queue(r"/projects$", 503, {"code": "ErrorUnknown", "message": "try later"})
    sleeps = Sleeps()
    assert "project(s)" in provider(fake, sleeps).probe()
    assert sleeps == [0.25, 0.5, 1.0]  # base 0.5 s doubling, times the injected jitter 0.5


def test_timeout_is_retried_once_then_gives_cloud_timeout(fake):
    for _ in range(3):
        fake.queue(r"/projects$", 0, 2.0)  # stall for 2 s
    s = settings_for(fake.endpoint, extra="timeout_s = 0.2")
    with pytest.raises(CloudTimeout) as e:
        provider(fake, settings=s).probe()
    assert "0.2 s" in e.value.message and "tried 2 times" in e.value.message
    assert fake.paths().count("/customvision/v3.3/training/projects") == 2
    assert e.value.hint


def test_one_timeout_then_an_answer_is_fine(fake):
    fake.queue(r"/projects$", 0, 2.0)
    s = settings_for(fake.endpoint, extra="timeout_s = 0.2")
    assert "2 project(s)" in provider(fake, settings=s).probe()


def test_200_with_a_proxy_login_page_is_an_error_with_a_hint(fake, standin_library):
    fake.queue(r"/projects$", 200, PROXY_LOGIN_PAGE)
    with pytest.raises(CloudError) as e:
        provider(fake).failures()
    assert "not JSON" in e.value.message and "Corporate Proxy - Sign in" in e.value.message
    assert "proxy or a wrong endpoint" in e.value.hint
    assert fake.paths().count("/customvision/v3.3/training/projects") == 1  # not retried: a page will not change


def test_404_names_what_was_missing_once_with_a_hint(fake):
    fake.queue(r"/projects$", 404, {"error": {"code": "404", "message": "Resource not found"}})
    with pytest.raises(CloudNotFound) as e:
        provider(fake).probe()
    assert "HTTP 404: Resource not found" in e.value.message and "404 404" not in e.value.message
    assert "list projects" in e.value.message and "triage ids customvision" in e.value.hint


def test_5xx_after_retries_says_the_service_is_failing(fake):
    for _ in range(6):
        fake.queue(r"/projects$", 503, {"code": "ErrorUnknown", "message": "try later"})
    sleeps = Sleeps()
    with pytest.raises(CloudError) as e:
        provider(fake, sleeps).probe()
    assert fake.paths().count("/customvision/v3.3/training/projects") == 4
    assert "tried 4 times" in e.value.message and "HTTP 503 ErrorUnknown: try later" in e.value.message
    assert "azure.status.microsoft" in e.value.hint and "later" in e.value.hint


def test_unreachable_endpoint_is_a_plain_cloud_error():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    s = settings_for(f"http://127.0.0.1:{port}")
    sleeps = Sleeps()
    p = CustomVisionProvider(s.config.customvision[0], s, retry=RetryPolicy(sleep=sleeps, rand=lambda: 0.0))
    with pytest.raises(CloudError) as e:
        p.probe()
    assert type(e.value) is CloudError and "cannot reach Custom Vision" in e.value.message
    assert len(sleeps) == 3


def test_gateway_error_body_shape_is_understood(fake):
    fake.queue(r"/projects$", 401, GATEWAY_401)
    with pytest.raises(CloudAuthError) as e:
        provider(fake).probe()
    assert "invalid subscription key or wrong API endpoint" in e.value.message


# ---- failures ---------------------------------------------------------------------------------------


def test_failed_iteration_is_diagnosed_with_ticket_fields(fake, standin_library):
    failures = provider(fake).failures()
    assert len(failures) == 1
    f = failures[0]
    assert (f.service, f.kind, f.key, f.status) == ("customvision", "iteration", IT_FAILED, "Failed")
    assert f.fields["project_id"] == WIDGETS and f.fields["iteration_id"] == IT_FAILED
    assert f.fields["resource_id"] == RESOURCE_ID and f.fields["subscription_id"] == SUB
    assert f.fields["region"] == "westeurope"
    assert f.fields["images_per_tag"] == "cat: 3, dog: 40"
    ids = [m.id for m in f.matches]
    assert ids == ["customvision.insufficient_training_images", "customvision.training_failed"]
    evidence = [e.text for e in f.matches[0].evidence]
    assert evidence[0] == "tag 'cat': 3 tagged images, minimum 5 for Classification (50+ recommended)"
    assert f.details["images_per_tag"]["below_minimum"] == ["cat"]
    assert f.details["superseded"] is False
    assert '"status": "Failed"' in f.log_excerpt


def test_detection_project_uses_the_minimum_of_15(fake, standin_library):
    fake.iterations[DEFECTS].append(iteration(IT_FAILED, DEFECTS, "Iteration 2", "Failed", "2024-05-02T10:00:00Z"))
    fake.tags[DEFECTS] = [tag("scratch", 12), tag("dent", 60)]
    f = next(x for x in provider(fake).failures() if x.fields["project_id"] == DEFECTS)
    assert f.details["images_per_tag"]["minimum"] == 15
    assert f.details["images_per_tag"]["below_minimum"] == ["scratch"]
    assert f.fields["project_type"].startswith("ObjectDetection")


def test_enough_images_gives_no_insufficient_images_match(fake, standin_library):
    fake.tags[WIDGETS] = [tag("cat", 80), tag("dog", 90)]
    f = provider(fake).failures()[0]
    assert [m.id for m in f.matches] == ["customvision.training_failed"]


def test_images_per_tag_check_without_tags_fails():
    check = images_per_tag([], "Classification")
    assert check.below_minimum and "no tags" in check.evidence()[0]


def test_ticket_subscription_mismatch_is_warned(fake, standin_library):
    other = "99999999-2222-3333-4444-555555555555"
    s = settings_for(fake.endpoint, head=f'[defaults]\nsubscription_id = "{other}"\n')
    f = provider(fake, settings=s).failures()[0]
    assert any(SUB in w and other in w for w in f.details["warnings"])


def test_configured_projects_limit_the_sweep(fake, standin_library):
    p = provider(fake, extra=f'projects = ["{DEFECTS}"]')
    assert p.failures() == []
    assert not any(path.endswith(f"{WIDGETS}/iterations") for path in fake.paths())


def test_get_provider_builds_the_custom_vision_provider(fake):
    s = settings_for(fake.endpoint)
    assert isinstance(get_provider("customvision", s.config.customvision[0], s), CustomVisionProvider)


# ---- CLI ------------------------------------------------------------------------------------------


@pytest.fixture
def cfg_file(tmp_path, fake):
    path = tmp_path / "triage.toml"
    path.write_text(cv_toml(fake.endpoint), encoding="utf-8")
    return path


def test_cli_ids_customvision_json(cfg_file, fake):
    res = CliRunner().invoke(cli, ["--config", str(cfg_file), "ids", "customvision", "widgets", "--json"], env={"CV_KEY": KEY})
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["service"] == "customvision" and doc["query"] == "widgets"
    [entry] = doc["targets"]
    assert entry["ok"] is True and entry["error"] is None
    assert entry["ids"]["projects"][0]["project_id"] == WIDGETS
    assert KEY not in res.output


def test_cli_ids_customvision_text_puts_ids_on_their_own_lines(cfg_file, fake):
    res = CliRunner().invoke(cli, ["--config", str(cfg_file), "ids", "customvision"], env={"CV_KEY": KEY})
    assert res.exit_code == 0, res.output
    assert f"Project Id:  {WIDGETS}" in res.output
    assert f"Resource ID:      {RESOURCE_ID}" in res.output
    assert any(line.strip().startswith(IT_FAILED) and "Failed" in line for line in res.output.splitlines())


def test_cli_malformed_project_id_is_a_clean_error(cfg_file, fake):
    res = CliRunner().invoke(cli, ["--config", str(cfg_file), "ids", "customvision", "64b822c5-8082"], env={"CV_KEY": KEY})
    assert isinstance(res.exception, InputError)
    assert fake.requests == []


def test_main_entry_point_prints_one_line_error_and_exit_code(cfg_file, fake, capsys, monkeypatch):
    from bot.cli import main

    monkeypatch.setenv("CV_KEY", "not-the-key")
    with pytest.raises(SystemExit) as e:
        main(["--config", str(cfg_file), "ids", "customvision"])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err.startswith("error: Custom Vision rejected the training key in $CV_KEY")
    assert "Traceback" not in err and "not-the-key" not in err


def test_the_client_keeps_a_connection_per_call_in_flight(fake):
    from bot.providers.customvision import CALLS_IN_FLIGHT

    pool = provider(fake).session.manager.connection_from_url(fake.endpoint)
    assert pool.pool.maxsize == CALLS_IN_FLIGHT > 10  # requests' and urllib3's default is 10


def test_names_lists_the_resources_projects_in_one_call():
    from fake_customvision import KEY, FakeCustomVision

    from bot.config import Settings, parse
    from bot.providers.customvision import CustomVisionProvider

    cv = FakeCustomVision().start()
    cv.seed_standard()
    try:
        s = Settings(parse(f'[[customvision]]\nname = "cv"\nendpoint = "{cv.endpoint}"\ntraining_key_env = "K"\nprojects = ["widgets"]\n'
                           'resource_id = "/subscriptions/6d2c0f7e-1b5a-4c1e-9d6e-2f1a7c3b9e40/resourceGroups/rg/providers/'
                           'Microsoft.CognitiveServices/accounts/cv"\n'),
                     {"K": KEY})
        assert CustomVisionProvider(s.config.customvision[0], s).names() == ["defects", "widgets"]
        assert [p for _, p, _ in cv.requests] == ["/customvision/v3.3/training/projects"]
    finally:
        cv.stop()
