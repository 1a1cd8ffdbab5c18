"""The corpus evaluation as a terminal report."""

from __future__ import annotations

from bot.commands.evaluate import EvalResult, Mode, Tally


def _pct(t: Tally) -> str:
    return f"{100 * t.rate:5.1f}% ({t.right}/{t.total})"


def _mode(mode: Mode, show_misses: bool) -> list[str]:
    name = "with the service hint" if mode.hinted else "without the service hint"
    out = [f"{name}:", f"  top-1 on positives      {_pct(mode.top1)}"]
    if mode.false_positives.total:
        out.append(f"  false positives         {_pct(mode.false_positives)}")
    out.append("  by service (top-1):")
    out += [f"    {svc:<18} {_pct(t)}" for svc, t in sorted(mode.by_service.items())]
    out.append("  by language (all cases right):")
    out += [f"    {lang:<18} {_pct(t)}" for lang, t in sorted(mode.by_lang.items())]
    if show_misses and mode.misses:
        out.append(f"  misses ({len(mode.misses)}):")
        out += [f"    {m.name}: expected {m.case.expected}, got {m.got}" for m in mode.misses]
    return out


def render_eval(result: EvalResult, show_misses: bool = True) -> str:
    out = [f"{result.cases} cases: {result.positives} in scope, {result.negatives} look-alikes from other platforms", ""]
    for mode in result.modes:
        out += _mode(mode, show_misses) + [""]
    return "\n".join(out).rstrip()
