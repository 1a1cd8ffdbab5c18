"""The user's language everywhere, driven as Slack drives it: a user whose Slack locale is ja-JP (the
stand-in's users.info) gets Japanese acknowledgements, denials, errors and modals; an English user English."""

from __future__ import annotations

import json

import pytest

from tests.test_slack import command, interactive, make_app, signed, slack  # noqa: F401  (slack: fixture)
from tests.test_slack_edges import button, click

OOM = "diagnose ERROR: (OutOfQuota) Not enough quota available for Standard_DS3_v2"
JA, EN = "ja-JP", "en-US"


def known(app, slack, user: str = "U1") -> None:
    """A first command makes the user's language known (users.info runs after the first acknowledgement)."""
    app.dispatch(signed(command(slack, OOM, user=user)))
    slack.wait_for("/api/users.info")
    slack.wait_for("/response_url/cmd")
    slack.calls.clear()


@pytest.mark.parametrize("locale,expected,other", [(JA, "処理中です", "Working on it"), (EN, "Working on it", "処理中です")])
def test_acknowledgement_and_rejected_input_follow_the_language(slack, tmp_path, locale, expected, other):
    app, _ = make_app(slack, tmp_path)
    slack.locale = locale
    known(app, slack)
    ack = json.loads(app.dispatch(signed(command(slack, OOM + " again"))).body)["text"]
    assert expected in ack and other not in ack
    rejected = json.loads(app.dispatch(signed(command(slack, "frobnicate now"))).body)["text"]
    assert "unknown subcommand `frobnicate`" in rejected  # the error's own words stay
    assert ("入力を読み取れませんでした" in rejected) == (locale == JA)


@pytest.mark.parametrize("locale", [JA, EN])
def test_denial_follows_the_language(slack, tmp_path, locale):
    app, store = make_app(slack, tmp_path, '[slack.read]\nusers = ["UOK"]\n')
    slack.locale = locale
    app.dispatch(signed(command(slack, "ids customvision", user="UNOPE")))
    (answer,) = slack.wait_for("/response_url/cmd")
    if locale == JA:
        assert "権限がありません" in answer["text"] and "not allowed" not in answer["text"]
    else:
        assert "not allowed" in answer["text"] and "権限" not in answer["text"]


@pytest.mark.parametrize("locale", [JA, EN])
def test_named_error_follows_the_language(slack, tmp_path, locale):
    app, _ = make_app(slack, tmp_path)
    slack.locale = locale
    app.dispatch(signed(command(slack, "ids frobnicator")))
    (answer,) = slack.wait_for("/response_url/cmd")
    text = answer["text"]
    assert answer["response_type"] == "ephemeral" and "unknown service 'frobnicator'" in text
    if locale == JA:
        assert "入力を確認してください" in text and "ヒント: use one of" in text
    else:
        assert text.startswith(":warning: unknown service") and "ヒント" not in text and "入力" not in text


def view_texts(view: dict) -> str:
    return json.dumps(view, ensure_ascii=False)


@pytest.mark.parametrize("locale", [JA, EN])
def test_ticket_modal_loading_view_and_labels_follow_the_language(slack, tmp_path, locale):
    app, _ = make_app(slack, tmp_path)
    slack.locale = locale
    app.dispatch(signed(command(slack, OOM + " in SubscriptionId 6d2c0f7e-1b5a-4c1e-9d6e-2f1a7c3b9e40")))
    (answer,) = slack.wait_for("/response_url/cmd")
    app.dispatch(signed(click(slack, "draft_ticket", button(answer, "draft_ticket")["value"])))
    (opened,) = slack.wait_for("/api/views.open")
    (updated,) = slack.wait_for("/api/views.update")
    loading, ticket = opened["view"], updated["view"]
    labels = [b["label"]["text"] for b in ticket["blocks"] if b["type"] == "input"]
    if locale == JA:
        assert "読み込み中…" in view_texts(loading) and loading["close"]["text"] == "閉じる"
        assert ticket["title"]["text"].startswith("チケット #") and ticket["submit"]["text"] == "送信準備完了にする"
        assert ticket["close"]["text"] == "キャンセル" and "サブスクリプション" in labels
    else:
        assert "Loading…" in view_texts(loading) and loading["close"]["text"] == "Close"
        assert ticket["title"]["text"].startswith("Ticket #") and ticket["submit"]["text"] == "Mark ready"
        assert "Azure subscription ID the resource lives in" in labels


def test_a_japanese_users_ticket_submit_errors_are_japanese(slack, tmp_path):
    app, _ = make_app(slack, tmp_path)
    slack.locale = JA
    app.dispatch(signed(command(slack, OOM)))
    (answer,) = slack.wait_for("/response_url/cmd")
    app.dispatch(signed(click(slack, "draft_ticket", button(answer, "draft_ticket")["value"])))
    view = slack.wait_for("/api/views.update")[0]["view"]
    sub = {"type": "view_submission", "user": {"id": "U1"}, "team": {"id": "T1"}, "trigger_id": "t",
           "view": {**view, "id": "V1", "state": {"values": {}}}}
    errors = json.loads(app.dispatch(signed(interactive(sub))).body)["errors"]
    assert "入力してください" in errors.values() and "Required" not in errors.values()


def lookup_ids(app, slack, trigger: str) -> None:
    shortcut = {"type": "shortcut", "callback_id": "lookup_ids", "trigger_id": trigger, "user": {"id": "U1"}, "team": {"id": "T1"}}
    assert app.dispatch(signed(interactive(shortcut))).status == 200


def test_look_up_ids_modal_follows_the_language(slack, tmp_path):
    app, _ = make_app(slack, tmp_path)
    slack.locale = JA
    lookup_ids(app, slack, "trig-first")  # a user triage has not met: opened at once, relabelled once users.info answers
    (opened,) = slack.wait_for("/api/views.open")
    assert opened["view"]["title"]["text"] == "Look up IDs"
    (updated,) = slack.wait_for("/api/views.update")
    view = updated["view"]
    assert updated["view_id"] == "V1" and view["title"]["text"] == "ID を調べる" and view["submit"]["text"] == "調べる"
    assert [b["label"]["text"] for b in view["blocks"]][0] == "サービス"
    slack.calls.clear()
    lookup_ids(app, slack, "trig-again")  # known now: Japanese straight away, nothing to relabel
    (opened,) = slack.wait_for("/api/views.open")
    assert opened["view"]["title"]["text"] == "ID を調べる" and opened["view"]["close"]["text"] == "キャンセル"


def test_look_up_ids_modal_turns_english_for_an_english_user_where_japanese_is_the_default(slack, tmp_path):
    app, _ = make_app(slack, tmp_path, '[defaults]\nlang = "ja"\n')
    slack.locale = EN
    lookup_ids(app, slack, "trig-en")
    (opened,) = slack.wait_for("/api/views.open")
    assert opened["view"]["title"]["text"] == "ID を調べる"  # the configured default until users.info tells
    (updated,) = slack.wait_for("/api/views.update")
    view = updated["view"]
    assert view["title"]["text"] == "Look up IDs" and [b["label"]["text"] for b in view["blocks"]][0] == "Service"


def test_share_in_a_channel_without_the_bot_tells_a_japanese_user_how_to_invite_and_nothing_dangling(slack, tmp_path):
    from bot.slack import answer as answer_mod

    app, _ = make_app(slack, tmp_path)
    slack.locale = JA
    known(app, slack)
    answered: list[dict] = []
    answer_mod.post_text(app._triage_deps, lambda **kw: answered.append(kw), None, "C1", "Status", "line\n" * 3, lang="ja")
    slack.not_member.add("C1")
    app.dispatch(signed(click(slack, "share_result", button(answered[0], "share_result")["value"])))
    (said,) = slack.wait_for("/response_url/act")
    assert "/invite @triage" in said["text"] and "招待" in said["text"]
    assert "結果 (あなたにだけ表示)" not in said["text"]  # no answer follows this notice: it must not announce one


def test_an_english_user_switching_a_gone_diagnosis_to_japanese_is_told_in_english(slack, tmp_path):
    app, store = make_app(slack, tmp_path)
    slack.locale = EN
    known(app, slack)
    app.dispatch(signed(click(slack, "switch_lang", '{"diagnosis":999,"lang":"ja"}')))
    (said,) = slack.wait_for("/response_url/act")
    assert "no longer available" in said["text"] and "保存" not in said["text"]


def test_status_and_ticket_list_are_labelled_in_japanese_for_a_japanese_user(slack, tmp_path):
    from fake_customvision import FakeCustomVision

    from tests.test_slack_options import make

    cv = FakeCustomVision().start()
    cv.seed_standard()
    try:
        app, _ = make(slack, cv, tmp_path)
        slack.locale = JA
        app.dispatch(signed(command(slack, "ticket draft ERROR: (OutOfQuota) Not enough quota available for Standard_DS3_v2")))
        slack.wait_for("/response_url/cmd")
        app.dispatch(signed(command(slack, "status customvision")))
        app.dispatch(signed(command(slack, "ticket list")))
        answers = slack.wait_for("/response_url/cmd", 3)[1:]
        headers = [a["blocks"][0]["text"]["text"] for a in answers]
        assert "ステータス: customvision" in headers and "Status: customvision" not in headers
        listed = json.dumps(answers, ensure_ascii=False)
        assert "未入力: " in listed and "(needs " not in listed
    finally:
        cv.stop()
