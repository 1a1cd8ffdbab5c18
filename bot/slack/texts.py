"""Every text the Slack app shows a person, in English and Japanese: results, acknowledgements, denials, errors, modals."""

from __future__ import annotations

from bot.errors import TriageError
from bot.playbooks.fields import TICKET_FIELDS
from bot.ticket_words import JA_FIELD_LABELS

LANGS = ("en", "ja")

RESULT = {
    "en": {"why": "Why it matched", "steps": "What to do", "retry_yes": "A retry may help.",
           "retry_no": "A retry will not help until the cause is fixed.", "none": "No playbook explains this text. Nothing was guessed.",
           "none_hint": "Paste the error line itself and a few lines around it.", "draft": "Draft ticket", "logs": "Show logs",
           "switch": "日本語", "ack": "Acknowledge", "more": "more matches", "working": "Working on it…", "score": "score",
           "read": "What we read", "context": "context", "line": "line",
           "related": "Closest playbooks (not a diagnosis; similarity 0-1, `/triage playbook ID` shows one):"},
    "ja": {"why": "根拠", "steps": "対処手順", "retry_yes": "再試行が有効な可能性があります。",
           "retry_no": "原因を直すまで再試行しても解決しません。", "none": "該当するプレイブックはありません。推測はしていません。",
           "none_hint": "エラー行とその前後の数行を貼り付けてください。", "draft": "チケット下書き", "logs": "ログを表示",
           "switch": "English", "ack": "確認済みにする", "more": "件の他の候補", "working": "処理中です…", "score": "スコア",
           "read": "テキストから読み取った値", "context": "文脈", "line": "行",
           "related": "近いプレイブック (診断ではありません。類似度 0-1、`/triage playbook ID` で表示):"},
}
"""Diagnosis results (blocks.py renders them)."""

UI = {
    "en": {"not_in_channel": "triage is not a member of this channel, so it cannot post here. Invite it with `/invite @triage` "
                             "(or open the channel's details → Integrations → Add apps) and try again. The answer, visible only to you:",
           "cannot_post": "triage is not a member of this channel, so it cannot post here. Invite it with `/invite @triage` "
                          "(or open the channel's details → Integrations → Add apps) and try again.",
           "share": "Share in channel", "shared_gone": "That answer is no longer kept; run the command again to share it.",
           "longer": "{n} more lines; *Share in channel* posts the whole text as a file.", "stale": "That button is out of date.",
           "gone": "That diagnosis is no longer available.",
           "loading": "Loading…", "ticket": "Ticket", "close": "Close", "cancel": "Cancel", "failed": "Could not prepare this:",
           "denied_title": "Not allowed",
           "ticket_title": "Ticket #{id}", "mark_ready": "Mark ready", "required": "Required", "still_blocked": "Still blocked: ",
           "ticket_where": "Ticket #{id}: /triage ticket show {id}", "ticket_ready": "Ticket #{id} ready: {title}",
           "missing": "Missing: ", "review_send": "Review & send", "tickets": "Tickets", "no_tickets": "no tickets yet",
           "ids_title": "Look up IDs", "ids_submit": "Look up", "service": "Service", "target": "Target",
           "project": "Project or endpoint (empty: all)", "project_pick": "Pick from the live list",
           "project_typed": "Or type a name", "ids": "IDs: {service}", "status": "Status", "ticket_needs": "needs {fields}",
           "home_failures": "*Recent failures*", "home_no_failures": "Nothing has failed recently.",
           "home_drafts": "*Open ticket drafts*", "home_no_drafts": "No open drafts.", "review": "Review", "needs": "needs: {fields}",
           "rejected": "{message}", "hint": "{hint}"},
    "ja": {"not_in_channel": "triage はこのチャンネルのメンバーではないため投稿できません。`/invite @triage` で招待する "
                             "(またはチャンネル詳細 → インテグレーション → アプリを追加) と投稿できます。結果 (あなたにだけ表示):",
           "cannot_post": "triage はこのチャンネルのメンバーではないため投稿できません。`/invite @triage` で招待する "
                          "(またはチャンネル詳細 → インテグレーション → アプリを追加) と投稿できます。",
           "share": "チャンネルに共有", "shared_gone": "この結果はもう保持されていません。もう一度コマンドを実行してください。",
           "longer": "残り {n} 行。*チャンネルに共有* で全文をファイルとして投稿します。", "stale": "このボタンは古くなっています。",
           "gone": "この診断はもう保存されていません。",
           "loading": "読み込み中…", "ticket": "チケット", "close": "閉じる", "cancel": "キャンセル", "failed": "準備できませんでした:",
           "denied_title": "権限がありません",
           "ticket_title": "チケット #{id}", "mark_ready": "送信準備完了にする", "required": "入力してください", "still_blocked": "まだ送信できません: ",
           "ticket_where": "チケット #{id}: /triage ticket show {id}", "ticket_ready": "チケット #{id} 送信準備完了: {title}",
           "missing": "未入力: ", "review_send": "確認して送信", "tickets": "チケット", "no_tickets": "チケットはまだありません",
           "ids_title": "ID を調べる", "ids_submit": "調べる", "service": "サービス", "target": "ターゲット",
           "project": "プロジェクトまたはエンドポイント (空欄: すべて)", "project_pick": "最新の一覧から選ぶ",
           "project_typed": "または名前を入力", "ids": "ID: {service}", "status": "ステータス", "ticket_needs": "未入力: {fields}",
           "home_failures": "*最近の失敗*", "home_no_failures": "最近の失敗はありません。",
           "home_drafts": "*未送信のチケット下書き*", "home_no_drafts": "下書きはありません。", "review": "確認", "needs": "未入力: {fields}",
           "rejected": "入力を読み取れませんでした: {message}", "hint": "ヒント: {hint}"},
}
"""Acknowledgements, notices, modals and App Home."""

ERRORS = {
    "en": {},  # English answers say the error's own message, as the CLI does
    "ja": {"InputError": "入力を確認してください", "ConfigError": "triage の設定に問題があります", "NotAllowed": "権限がありません",
           "CloudAuthError": "クラウドの認証または権限のエラーです", "CloudNotFound": "見つかりません",
           "CloudThrottled": "クラウドがリクエストを制限しています", "CloudTimeout": "クラウドが時間内に応答しませんでした",
           "CloudError": "クラウドの呼び出しに失敗しました", "PlaybookError": "プレイブックに問題があります",
           "StoreFault": "データベースに問題があります", "TriageError": "実行できませんでした"},
}
"""A named error's kind, said in the user's language before its (technical, English) message."""

DENIALS = {
    "en": {"read": "look things up", "tickets": "draft or send tickets"},
    "ja": {"read": "調査コマンドを実行する", "tickets": "チケットを作成・送信する"},
}


def lang_of(lang: str | None) -> str:
    return lang if lang in LANGS else "en"


def ui(lang: str, key: str, **values: object) -> str:
    """One UI text in `lang`, formatted."""
    text = UI[lang_of(lang)][key]
    return text.format(**values) if values else text


def denial(kind: str, lang: str) -> str:
    """What a user outside [slack.read] or [slack.tickets] is told."""
    what = DENIALS[lang_of(lang)][kind]
    if lang == "ja":
        return f"{what}権限がありません。triage.toml の [slack.{kind}] に登録されたユーザー、グループ、チャンネルのみ利用できます。管理者に依頼してください。"
    return (f"You are not allowed to {what} with triage. Only the users, user groups and channels listed in "
            f"[slack.{kind}] of triage.toml may; ask the bot's owner to add you.")


def error_kind(e: TriageError, lang: str) -> str | None:
    names = ERRORS[lang_of(lang)]
    return next((names[c.__name__] for c in type(e).__mro__ if c.__name__ in names), None)


def error(e: TriageError, lang: str, *, mark: str = ":warning: ") -> str:
    """A named error as the user reads it: its kind in their language, its message, its hint."""
    kind = error_kind(e, lang)
    text = mark + (f"{kind}: " if kind else "") + e.message
    return text + (f"\n{ui(lang, 'hint', hint=e.hint)}" if e.hint else "")


def rejected(e: TriageError, lang: str, usage: str) -> str:
    """Input the parser refused, answered at the acknowledgement with the usage."""
    return ui(lang, "rejected", message=e.message) + "\n" + (ui(lang, "hint", hint=e.hint) if e.hint else usage)


def field_label(name: str, lang: str) -> str:
    """A ticket field's label on the review modal."""
    if lang == "ja" and name in JA_FIELD_LABELS:
        return JA_FIELD_LABELS[name]
    return TICKET_FIELDS.get(name, name)
