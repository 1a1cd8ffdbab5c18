"""What a ticket says, in English or Japanese, from the facts triage read itself.

Nothing here is invented: every sentence is built from a count or a name a lookup returned.
"""

from __future__ import annotations

import re
from typing import Any

WARN = {
    "en": {
        "filing_unknown": "Say which subscription the ticket is filed from ([defaults] subscription_id in triage.toml or "
        "--subscription): Azure support can only investigate a resource from a ticket filed in the "
        "subscription that contains it.",
        "mismatch": "The resource is in subscription {resource} but the ticket would be filed from {filing}. "
        "Azure support cannot investigate a resource outside the subscription the ticket is filed from "
        "(stricter security checks at ticket creation); file it from subscription {resource}.",
        "missing": "{name}: {label} has no value",
    },
    "ja": {
        "filing_unknown": "チケットを起票するサブスクリプションを指定してください (triage.toml の [defaults] subscription_id "
        "または --subscription)。Azure サポートは、リソースを含むサブスクリプションから起票されたチケットでのみ調査できます。",
        "mismatch": "リソースはサブスクリプション {resource} にありますが、チケットは {filing} から起票されようとしています。"
        "起票時のセキュリティ チェックが厳格化されたため、Azure サポートは起票元以外のサブスクリプションのリソースを調査"
        "できません。サブスクリプション {resource} から起票してください。",
        "missing": "{name}: {label} が未入力です",
    },
}
JA_FIELD_LABELS = {
    "project_id": "Project Id", "iteration_id": "Iteration Id", "resource_id": "Resource ID",
    "subscription_id": "サブスクリプション", "region": "リージョン", "failure_time": "失敗日時",
    "retries_done": "実施済みの再試行", "log_excerpt": "ログ抜粋", "error_message": "エラー メッセージ",
    "resource_group": "リソース グループ", "workspace": "ワークスペース", "endpoint": "エンドポイント",
    "deployment": "デプロイ", "instance_type": "インスタンスの種類", "instance_count": "インスタンス数",
    "error_code": "エラー コード", "job_name": "ジョブ", "compute": "コンピューティング",
    "project_arn": "プロジェクト ARN", "version_arn": "モデル バージョン ARN", "status_message": "StatusMessage",
    "images_per_tag": "タグごとの画像数", "project_type": "プロジェクトの種類",
}


KIND = {
    "en": {},
    "ja": {"iteration": "イテレーション", "deployment": "デプロイ", "job": "ジョブ", "model": "モデル", "diagnosis": "診断"},
}
LINE_LABEL = {"en": "line {n}: ", "ja": "{n} 行目: "}
LINE_LABEL_RE = re.compile(r"^(?:line (\d+): |(\d+) 行目: )")


def evidence_line(n: int | str, text: str, lang: str) -> str:
    return LINE_LABEL.get(lang, LINE_LABEL["en"]).format(n=n) + text


def relabel(line: str, lang: str) -> str:
    m = LINE_LABEL_RE.match(line)
    return evidence_line(m.group(1) or m.group(2), line[m.end():], lang) if m else line


def status_text(status: str, lang: str) -> str:
    return f"イテレーションの状態: {status}" if lang == "ja" else f"iteration status {status}"


REQUESTER = {"en": "reported by the requester", "ja": "依頼者からの報告"}
TRIED = {
    "en": {
        "retry": "Training attempts (each failed iteration is one)",
        "failed": "failed {n} time(s): {list}",
        "since_ok": "a later iteration completed",
        "since_none": "no iteration completed since",
        "data": "Checked the tagged images per tag (GetTags)",
        "below_min": "below the minimum of {min} for {kind}: {tags}",
        "below_rec": "below the recommended {rec}: {tags}",
        "enough": "every tag has at least {min}",
    },
    "ja": {
        "retry": "トレーニングの実行 (失敗したイテレーションごとに 1 回)",
        "failed": "{n} 回失敗しました: {list}",
        "since_ok": "その後のイテレーションは完了しています",
        "since_none": "その後に完了したイテレーションはありません",
        "data": "タグごとの画像数の確認 (GetTags)",
        "below_min": "{kind} の最低 {min} 枚に届かないタグ: {tags}",
        "below_rec": "推奨の {rec} 枚に届かないタグ: {tags}",
        "enough": "すべてのタグが {min} 枚以上あります",
    },
}


def failed_attempts(facts: dict[str, Any]) -> int | None:
    """How many times the failed thing was tried and failed, when triage saw it; else None."""
    attempts = facts.get("failed_attempts")
    return len(attempts) if isinstance(attempts, list) and attempts else None


def retries_text(facts: dict[str, Any], lang: str) -> str | None:
    t = TRIED.get(lang, TRIED["en"])
    n = failed_attempts(facts)
    if n is None:
        return facts.get("retries_reported")
    listed = ", ".join(f"{a.get('name', '?')} ({a.get('at') or '?'})" for a in facts["failed_attempts"])
    return t["failed"].format(n=n, list=listed) + "; " + (t["since_ok"] if facts.get("superseded") else t["since_none"])


def known_attempts(facts: dict[str, Any], lang: str) -> list[dict[str, str]]:
    """Only what triage knows happened, with the outcome it knows; never a playbook step nobody took."""
    t = TRIED.get(lang, TRIED["en"])
    out: list[dict[str, str]] = []
    retried = retries_text(facts, lang)
    if retried:
        out.append({"step": t["retry"], "outcome": retried})
    check = facts.get("images_per_tag")
    if isinstance(check, dict):
        counts = check.get("counts") or {}
        figures = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: (kv[1], kv[0]))) or "no tags"
        kind = facts.get("domain_type") or "this project type"
        if check.get("below_minimum"):
            verdict = t["below_min"].format(min=check.get("minimum"), kind=kind, tags=", ".join(check["below_minimum"]))
        elif check.get("below_recommended"):
            verdict = t["below_rec"].format(rec=check.get("recommended"), tags=", ".join(check["below_recommended"]))
        else:
            verdict = t["enough"].format(min=check.get("minimum"))
        out.append({"step": t["data"], "outcome": f"{figures} — {verdict}"})
    return out
