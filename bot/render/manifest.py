"""Plain-text reports for Rekognition manifests: summaries, validation manifests, the lint."""

from __future__ import annotations

from bot.manifests import LintReport, SummaryReport, ValidationReport
from bot.manifests.codes import INVALID_SHARE_LIMIT, NOT_CHECKED
from bot.manifests.lint import DatasetLint

SHOWN_CODES = 30
SHOWN_INDICES = 20

_L = {
    "en": {
        "summary": "Rekognition manifest summary (manifest_summary.json)",
        "validation": "Rekognition validation manifest: {lines:,} lines, {size}",
        "manifest": "Ground Truth manifest without validation results: {lines:,} lines, {size}",
        "line": "line",
        "lint_hint": "To check it before training: triage manifest lint FILE [--test FILE]",
        "cols": ("total", "valid", "invalid", "ignored", "invalid share"),
        "over": "over the 20% limit",
        "under": "within the 20% limit",
        "counts": "valid {valid:,} · invalid {invalid:,} · ignored {ignored:,} (warnings only, not counted as invalid)",
        "odd": "blank {blank:,} · unreadable {unreadable:,}",
        "share": "invalid share {share:.1%}: {verdict} (ignored lines do not count)",
        "partial": "{n:,} valid lines lost a bounding box or a label attribute but are still used",
        "terminal": "Terminal errors (training stops):",
        "predicted": "Predicted terminal error:",
        "none_terminal": "No terminal error.",
        "indices": "Lines with errors (error_json_line_indices, line numbers in the {name}_manifest_with_validation.json):",
        "indices_next": "Run `triage diagnose` on that file to see each line's error codes.",
        "codes": "Error and warning codes, most frequent first:",
        "code_cols": ("count", "lines", "code", "level", "first lines"),
        "no_codes": "No error or warning code in the file.",
        "unreadable_at": "unreadable lines (not from Rekognition; is the file truncated?):",
        "problems": "Not as documented:",
        "more_codes": "… {n} more codes (see --json)",
    },
    "ja": {
        "summary": "Rekognition マニフェストの概要 (manifest_summary.json)",
        "validation": "Rekognition 検証結果マニフェスト: {lines:,} 行, {size}",
        "manifest": "検証結果のない Ground Truth マニフェスト: {lines:,} 行, {size}",
        "line": "行",
        "lint_hint": "トレーニング前の確認: triage manifest lint FILE [--test FILE]",
        "cols": ("合計", "有効", "無効", "無視", "無効の割合"),
        "over": "上限 20% を超過",
        "under": "上限 20% 以内",
        "counts": "有効 {valid:,} · 無効 {invalid:,} · 無視 {ignored:,} (警告のみ。無効には数えない)",
        "odd": "空行 {blank:,} · 読めない行 {unreadable:,}",
        "share": "無効の割合 {share:.1%}: {verdict} (無視された行は数えない)",
        "partial": "{n:,} 行は境界ボックスまたはラベル属性の一部を失ったが、有効な行として使われる",
        "terminal": "ターミナルエラー (トレーニングは停止):",
        "predicted": "予測されるターミナルエラー:",
        "none_terminal": "ターミナルエラーはありません。",
        "indices": "エラーのある行 (error_json_line_indices, {name}_manifest_with_validation.json の行番号):",
        "indices_next": "そのファイルに `triage diagnose` を実行すると、各行のエラーコードがわかります。",
        "codes": "エラーと警告のコード (多い順):",
        "code_cols": ("件数", "行数", "コード", "レベル", "最初の行"),
        "no_codes": "エラーや警告のコードはありません。",
        "unreadable_at": "読めない行 (Rekognition の出力ではありません。ファイルが途中で切れていませんか):",
        "problems": "ドキュメントと異なる点:",
        "more_codes": "… ほかに {n} コード (--json を参照)",
    },
}


def render_report(report: SummaryReport | ValidationReport, titles: dict[str, str], lang: str = "en") -> str:
    """The report part of `triage diagnose` on a manifest; titles maps codes to playbook titles."""
    if isinstance(report, SummaryReport):
        return _summary(report, titles, _L[lang])
    return _validation(report, titles, _L[lang])


def _verdict(share: float | None, L: dict) -> str:
    if share is None:
        return "-"
    return f"{share:.1%}  {L['over'] if share > INVALID_SHARE_LIMIT else L['under']}"


def _title(code: str, titles: dict[str, str]) -> str:
    title = titles.get(code)
    return f"  ({title})" if title and title != code else ""


def _summary(report: SummaryReport, titles: dict[str, str], L: dict) -> str:
    out = [L["summary"], ""]
    cols = L["cols"]
    out.append(f"  {'':<10}{cols[0]:>10}{cols[1]:>10}{cols[2]:>10}{cols[3]:>10}  {cols[4]}")
    for d in report.datasets:
        nums = [d.total_json_lines, d.valid_json_lines, d.invalid_json_lines, d.ignored_json_lines]
        cells = "".join(f"{'-' if v is None else format(v, ','):>10}" for v in nums)
        out.append(f"  {d.name:<10}{cells}  {_verdict(d.invalid_share, L)}")
    out.append("")
    if report.terminal:
        out.append(L["terminal"])
        for e in report.terminal:
            out.append(f"  {e.scope:<9} {e.code}{_title(e.code, titles)}")
            if e.message:
                out.append(f"            {e.message}")
    else:
        out.append(L["none_terminal"])
    for d in report.datasets:
        if d.error_json_line_indices:
            shown = ", ".join(str(i) for i in d.error_json_line_indices[:SHOWN_INDICES])
            more = f", … ({d.error_json_line_count:,} lines)" if d.error_json_line_count > len(d.error_json_line_indices[:SHOWN_INDICES]) else ""
            out += ["", L["indices"].format(name=d.name), f"  {shown}{more}", L["indices_next"]]
    if report.problems:
        out += ["", L["problems"]] + [f"  {p}" for p in report.problems[:20]]
    return "\n".join(out)


def _validation(report: ValidationReport, titles: dict[str, str], L: dict) -> str:
    size = _size(report.bytes)
    if report.kind == "manifest" and not report.codes:
        return "\n".join([L["manifest"].format(lines=report.lines, size=size), L["lint_hint"]])
    out = [L["validation"].format(lines=report.lines, size=size)]
    out.append("  " + L["counts"].format(valid=report.valid, invalid=report.invalid, ignored=report.ignored))
    if report.blank or report.unreadable:
        out.append("  " + L["odd"].format(blank=report.blank, unreadable=report.unreadable))
    if report.invalid_share is not None:
        verdict = L["over"] if report.over_limit else L["under"]
        out.append("  " + L["share"].format(share=report.invalid_share, verdict=verdict))
    if report.partially_valid:
        out.append("  " + L["partial"].format(n=report.partially_valid))
    if report.over_limit:
        code = "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST"
        out += ["", L["predicted"], f"  {code}{_title(code, titles)}"]
    out.append("")
    if report.codes:
        out.append(L["codes"])
        cols = L["code_cols"]
        width = max(len(c.code) for c in report.codes[:SHOWN_CODES])
        out.append(f"  {cols[0]:>9} {cols[1]:>9}  {cols[2]:<{width}}  {cols[3]:<22} {cols[4]}")
        for c in report.codes[:SHOWN_CODES]:
            first = ", ".join(str(s.line) for s in c.samples)
            out.append(f"  {c.count:>9,} {c.lines:>9,}  {c.code:<{width}}  {','.join(sorted(c.levels)):<22} {first}")
            for s in c.samples:
                out.append(f"  {'':>20}  {L['line']} {s.line}: {s.source_ref or '(no source-ref)'}")
        if len(report.codes) > SHOWN_CODES:
            out.append("  " + L["more_codes"].format(n=len(report.codes) - SHOWN_CODES))
    else:
        out.append(L["no_codes"])
    if report.unreadable_samples:
        out += ["", L["unreadable_at"]] + [f"  {L['line']} {n}: {reason}" for n, reason in report.unreadable_samples]
    return "\n".join(out)


def render_lint(report: LintReport) -> str:
    """`triage manifest lint`: per dataset a summary, the predicted terminal errors, codes, lines."""
    parts = [_dataset(report.training)]
    if report.testing is not None:
        parts.append(_dataset(report.testing))
    tail = []
    if report.overlap is not None:
        o = report.overlap
        tail.append(f"Label overlap: {o['common']} of {o['training_labels']} training labels are in the test manifest "
                    f"({o['share']:.0%}; at least {o['minimum']:.0%} needed)")
        if o["test_only"]:
            tail.append(f"  test labels not in training: {', '.join(o['test_only'])}")
    for f in report.cross:
        tail.append(f"TERMINAL {f.code}: {f.detail}")
    pixels = [c for c, why in NOT_CHECKED.items() if why.startswith("needs the image")]
    others = [c for c in NOT_CHECKED if c not in pixels]
    tail.append(f"Not checked (needs the image): {', '.join(pixels)}")
    tail.append(f"Not checked (needs AWS access or the service's split): {', '.join(others)}")
    n = len(report.terminal)
    tail.append(f"Result: {n} terminal error{'s' if n != 1 else ''} predicted; Rekognition would fail (exit code 1)"
                if n else "Result: no terminal error predicted (exit code 0)")
    return "\n\n".join(parts) + "\n\n" + "\n".join(tail)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def _dataset(d: DatasetLint) -> str:
    source = {"given": "given", "inferred": "inferred from the valid lines", "training": "as the training manifest"}[d.model_type_source]
    out = [f"{d.role} manifest {d.path}: {d.lines:,} lines, {_size(d.bytes)}, "
           f"{d.model_type or 'unknown'} model ({source})"]
    share = d.invalid_share
    out.append(f"  valid {d.valid:,} · invalid {d.invalid:,}"
               + (f" ({share:.1%} of lines; the limit is 20%)" if share is not None else "")
               + f" · ignored {d.ignored:,}" + (f" · other model type {d.excluded:,}" if d.excluded else ""))
    labels = sorted(d.labels.items(), key=lambda kv: (-kv[1], kv[0]))
    if labels:
        shown = ", ".join(f"{name} ({count:,})" for name, count in labels[:10])
        out.append(f"  {len(labels):,}{'+' if d.labels_capped else ''} labels (images): {shown}{' …' if len(labels) > 10 else ''}")
    if d.buckets:
        out.append(f"  bucket{'s' if len(d.buckets) > 1 else ''}: {', '.join(list(d.buckets)[:5])}")
    if d.terminal:
        out += ["", "  Predicted terminal errors (the import or the training would fail):"]
        out += [f"    {f.code}: {f.detail}" for f in d.terminal]
    counts = d.ordered_counts()
    if counts:
        width = max(len(c.code) for c in counts)
        out += ["", "  Codes, most frequent first:", f"    {'count':>9} {'lines':>9}  {'code':<{width}}  first lines"]
        for c in counts:
            out.append(f"    {c.count:>9,} {c.lines:>9,}  {c.code:<{width}}  {', '.join(map(str, c.first_lines))}")
        shown = f"first {len(d.findings):,} of {d.findings_total:,}" if d.findings_total > len(d.findings) else f"{d.findings_total:,}"
        out += ["", f"  By line ({shown}):"]
        for f in d.findings:
            where = f" [{f.level}]" if f.level not in ("line", "file") else ""
            out.append(f"    line {f.line}: {f.code}{where}: {f.detail}")
    else:
        out += ["", "  No line has an error or a warning."]
    if d.notes:
        out += [""] + [f"  note: {note}" for note in d.notes]
    return "\n".join(out)
