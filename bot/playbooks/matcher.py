"""One-pass matcher: every playbook's codes, messages and patterns scanned at once with an RE2 set."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import re2

from bot.playbooks.model import Playbook, ServiceContext, family

# An exact documented code outranks a message string, which outranks a generic pattern.
WEIGHTS = {"code": 90, "message": 70, "status": 55, "pattern": 50, "context": 0, "fact": 0, "product": 0, "product_name": 0, "product_fact": 0}
SUPPORTING = ("context", "fact")  # kinds that never make a playbook match on their own
EXTRA_SPEC_BONUS, EXTRA_SPEC_CAP, CONTEXT_BONUS, PRODUCT_BONUS = 3, 9, 3, 1
AREA_BONUS = 2  # the area the caller named (azureml-job, azureml-endpoint) first among equals
PRODUCT = -1  # Spec.playbook of a product-context expression: it belongs to no one playbook
MAX_EVIDENCE = 5
MAX_CONTEXT = 2
MAX_FACT_CHARS = 200
MAX_LINE_CHARS = 400  # what is shown of an evidence line, after redaction
RAW_LINE_BYTES = 8192  # what is kept of it before
CHUNK_BYTES = 1 << 20
SPEC_MAX_MEM = 1 << 20
# RE2 builds the set's DFA lazily as new input shapes arrive; its budget bounds the memory a long
# varied log can take (measured: 256 MB lets it grow by 35 MB over 100 MB of logs, 32 MB by 25 MB).
# It is the one thing that grows with the input (the hits, the chunks and the exact expressions are
# bounded): the growth comes from the patterns together (alone: +27 MB; codes and messages +6,
# context +8). A smaller budget is reached sooner but the DFA then rebuilds its states (engine
# alone, a varied 1 GB ASCII log, 2026-12-06 evening): 32 MB 71 MB peak RSS at 57 MB/s, 20 MB 58 MB
# at 47 MB/s, 16 MB 55 MB at 43 MB/s, 8 MB about 16 MB/s (under ripgrep's 27), 4 MB does not compile.
SET_MAX_MEM = 32 << 20
EXACT_KEPT = 128  # exact expressions kept compiled between scans (see Engine._compile)
BLOCK_BYTES = 64 << 10  # where a chunk's hits are located, before the exact expressions run

_WORD = re.compile(r"\w")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _token_regex(token: str) -> str:
    """A code or status as a whole token, case-sensitive."""
    left = r"\b" if _WORD.match(token[0]) else ""
    right = r"\b" if _WORD.match(token[-1]) else ""
    return f"(?-i){left}{re.escape(token)}{right}"


def _message_regex(message: str) -> str:
    """A literal message, case-insensitive, tolerant of spacing (none needed around Japanese)."""
    parts = message.split()
    out = [re.escape(parts[0])]
    for prev, nxt in zip(parts, parts[1:]):
        ascii_join = prev[-1].isascii() and nxt[0].isascii()
        out.append(r"\s+" if ascii_join else r"[\s\x{3000}]*")
        out.append(re.escape(nxt))
    return "(?i)" + "".join(out)


# Bounded gaps (`.{0,60}`, `[^']{0,200}`, `\s{0,3}`) expand into one state per position and make
# the set several times slower to compile and to run. The set holds each expression with its gaps
# unbounded (`.*`, which still stays within a line), a superset; the exact expression then
# confirms each hit on the lines it finds, so results are exactly those of the exact expressions.
_BOUNDED_GAP = re.compile(r"(\.|\[(?:\\.|[^\]\\])*\]|\\[sSwWdD])\{0,\d+\}")


def relax(regex: str) -> str:
    """The expression with every bounded gap `X{0,N}` made unbounded `X*`."""
    return _BOUNDED_GAP.sub(lambda m: m.group(1) + "*", regex) if "{0," in regex else regex


@dataclass(frozen=True)
class Spec:
    playbook: int
    kind: str
    text: str
    regex: str


@dataclass
class Hit:
    """Where one spec matched: up to MAX_EVIDENCE (line number, raw line) pairs, and the named
    groups of its first matches (the facts read from the text)."""

    lines: list[tuple[int, bytes]] = field(default_factory=list)
    facts: dict[str, bytes] = field(default_factory=dict)
    starts: dict[int, int] = field(default_factory=dict)  # line number -> column of the first match


@dataclass(frozen=True)
class Found:
    """A playbook the engine stands behind for this input.

    evidence: the line that decided it first, then its other matching lines in line order, then
    at most MAX_CONTEXT lines that only establish context (the product, the command that was run),
    whose numbers are in `context_lines`. facts: named groups captured from the text, verbatim.
    """

    playbook: Playbook
    score: int
    evidence: tuple[tuple[int, str], ...]
    kinds: tuple[str, ...]
    context_lines: frozenset[int] = frozenset()
    facts: tuple[tuple[str, str], ...] = ()


HEAD_BYTES = 64 * 1024  # what is kept of the input for ranking related playbooks when none matched


@dataclass
class ScanResult:
    found: list[Found]
    bytes: int
    lines: int
    head: bytes = b""  # the first HEAD_BYTES of the input


class Engine:
    """All playbooks compiled into one RE2 set; `scan` reads the input once.

    `service` is what the caller knows the text is about (--service, a watched target): only that
    product's playbooks are considered, the service counts as context for playbooks that require
    it, and playbooks of the named area come first among equals. `context` holds each product's
    expressions that show, from the text alone, that a text is about it.
    """

    def __init__(
        self, playbooks: Iterable[Playbook], service: str | None = None, context: ServiceContext | None = None
    ) -> None:
        self.service = service
        self.hinted = family(service) if service else None
        self.playbooks = [pb for pb in playbooks if self.hinted in (None, family(pb.service))]
        self.by_id = {pb.id: i for i, pb in enumerate(self.playbooks)}
        self.specs: list[Spec] = []
        for fam in sorted({family(pb.service) for pb in self.playbooks}) if context else ():
            self.specs += [Spec(PRODUCT, "product", fam, t) for t in context.get(fam)]
            self.specs += [Spec(PRODUCT, "product_name", fam, t) for t in context.names.get(fam, [])]
            self.specs += [Spec(PRODUCT, "product_fact", fam, t) for t in context.facts.get(fam, [])]
        for i, pb in enumerate(self.playbooks):
            m = pb.match
            self.specs += [Spec(i, "code", t, _token_regex(t)) for t in m.codes]
            self.specs += [Spec(i, "message", t, _message_regex(t)) for t in m.messages]
            self.specs += [Spec(i, "status", t, _token_regex(t)) for t in m.statuses]
            self.specs += [Spec(i, "pattern", t, t) for t in m.patterns]
            self.specs += [Spec(i, "context", t, t) for t in m.context]
            self.specs += [Spec(i, "fact", t, t) for t in m.facts]
        options = re2.Options()
        options.max_mem = SET_MAX_MEM
        options.log_errors = False  # RE2 never prints to stderr; its errors are ours to name
        self._regex = functools.lru_cache(maxsize=EXACT_KEPT)(self._compile)
        self._set = re2.Set.SearchSet(options)
        for spec in self.specs:
            self._set.Add(relax(spec.regex).encode("utf-8"))
        if self.specs:
            self._set.Compile()
        # Lines worth collecting per spec: evidence for what matches, fewer for what only supports.
        caps = {"context": MAX_EVIDENCE + MAX_CONTEXT, "fact": 1, "product": 1, "product_fact": 1}
        self._caps = [caps.get(spec.kind, MAX_EVIDENCE) for spec in self.specs]
        # Parents before children, so a branch can build on its parent's score.
        self._order = sorted(range(len(self.playbooks)), key=lambda i: self._depth(i))

    def _depth(self, i: int) -> int:
        depth, pb = 0, self.playbooks[i]
        while pb.refines is not None and pb.refines in self.by_id:
            depth, pb = depth + 1, self.playbooks[self.by_id[pb.refines]]
        return depth

    def _compile(self, n: int) -> Any:
        """Spec n's exact expression. `_regex` keeps the last EXACT_KEPT compiled between scans (a
        Slack worker or a watcher diagnoses text after text, and compiling costs ~80 µs each); not
        all of them: the few hundred a long log reaches would hold their DFAs for good."""
        # Each exact expression runs on a few blocks only; a small DFA budget keeps them from
        # holding 8 MB each as the input grows (memory flat in the input size).
        options = re2.Options()
        options.max_mem = SPEC_MAX_MEM
        options.log_errors = False  # a DFA out of memory falls back to the NFA: slower, same result
        return re2.compile(self.specs[n].regex.encode("utf-8"), options)

    def scan(self, stream: BinaryIO) -> ScanResult:
        """Read the stream once in chunks; match every spec of every playbook together."""
        hits: dict[int, Hit] = {}
        total = newlines = 0
        last = head = b""
        for chunk in _chunks(stream):
            spec_ids = self._match(chunk)
            if len(head) < HEAD_BYTES:
                head += chunk[: HEAD_BYTES - len(head)]
            total += len(chunk)
            last = chunk[-1:]
            needy = {n for n in spec_ids if n not in hits or len(hits[n].lines) < self._caps[n]}
            if not needy:
                newlines += chunk.count(b"\n")
                continue
            # Locate the lines: match the set again on blocks of the chunk (the DFA is warm), then
            # run each spec's exact expression only on the blocks where it hit.
            for block in _blocks(chunk):
                for n in sorted(needy.intersection(self._match(block))):
                    hit = hits.get(n) or Hit()
                    if len(hit.lines) < self._caps[n]:
                        self._collect(self._regex(n), n, block, newlines, hit)
                    if hit.lines:  # the exact expression confirmed the relaxed one
                        hits[n] = hit
                newlines += block.count(b"\n")
        lines = newlines + (1 if total and last != b"\n" else 0)
        return ScanResult(self._rank(hits), total, lines, head)

    def _match(self, chunk: bytes) -> list[int]:
        return (self._set.Match(chunk) or []) if self.specs else []

    def _collect(self, regex: Any, n: int, chunk: bytes, base_line: int, hit: Hit) -> None:
        seen = {line for line, _ in hit.lines}
        line_no, counted = base_line + 1, 0  # newlines are counted once, forward, as matches come
        for m in regex.finditer(chunk):
            pos = m.start()
            line_no += chunk.count(b"\n", counted, pos)
            counted = pos
            if line_no in seen:
                continue
            start = chunk.rfind(b"\n", 0, pos) + 1
            end = chunk.find(b"\n", pos)
            end = end if 0 <= end < start + RAW_LINE_BYTES else min(len(chunk), start + RAW_LINE_BYTES)
            hit.lines.append((line_no, chunk[start:end]))  # no more than is ever shown: a long line is not kept whole
            hit.starts[line_no] = pos - start
            seen.add(line_no)
            for name, value in m.groupdict().items():
                key = name.decode() if isinstance(name, bytes) else name
                if value and key not in hit.facts:
                    hit.facts[key] = value
            if len(hit.lines) >= self._caps[n]:
                return

    def _rank(self, hits: dict[int, Hit]) -> list[Found]:
        per_playbook: dict[int, list[int]] = {}
        # Each product seen in the text: the lines that show it, with the column where it shows first
        # (-1: anywhere on the line counts; the product's bare name counts only before a match).
        product: dict[str, dict[int, tuple[int, bytes]]] = {}
        product_facts: dict[str, dict[str, bytes]] = {}  # facts any playbook of the product may use
        for n in sorted(hits):
            spec = self.specs[n]
            if spec.kind == "product_fact":
                for name, value in hits[n].facts.items():
                    product_facts.setdefault(spec.text, {}).setdefault(name, value)
            elif spec.kind in ("product", "product_name"):
                seen = product.setdefault(spec.text, {})
                for line, raw in hits[n].lines:
                    col = hits[n].starts[line] if spec.kind == "product_name" else -1
                    if line not in seen or col < seen[line][0]:
                        seen[line] = (col, raw)
            else:
                per_playbook.setdefault(spec.playbook, []).append(n)
        found: dict[int, Found] = {}
        for i in self._order:
            pb = self.playbooks[i]
            spec_ids = per_playbook.get(i, [])
            matching = [n for n in spec_ids if self.specs[n].kind not in SUPPORTING]
            if not matching:
                continue
            parent = self._matched_ancestor(i, found)
            fam = family(pb.service)
            own_context = any(self.specs[n].kind == "context" for n in spec_ids)
            # The product's bare name must show on another line or before the match on its line: in
            # "No matching distribution found for azureml-core" it is what failed, not where.
            first_col: dict[int, int] = {}
            for n in matching:
                for line, col in hits[n].starts.items():
                    first_col[line] = min(col, first_col.get(line, col))
            product_lines = sorted(
                line for line, (col, _) in product.get(fam, {}).items() if line not in first_col or col < first_col[line]
            )
            product_context = bool(product_lines) or self.hinted == fam
            if pb.match.requires_context and not (own_context or product_context) and parent is None:
                continue
            kinds = tuple(sorted({self.specs[n].kind for n in matching}, key=lambda k: -WEIGHTS[k]))
            score = WEIGHTS[kinds[0]] + min(EXTRA_SPEC_CAP, EXTRA_SPEC_BONUS * (len(matching) - 1))
            # A playbook's own context (its area: a job log, a deployment) outranks the product's.
            score += CONTEXT_BONUS if own_context else PRODUCT_BONUS if product_context else 0
            score += AREA_BONUS if pb.service == self.service and "-" in pb.service else 0
            # The decisive line first (this playbook's strongest spec), then every other matching
            # line (its own, then its parent's) in line order, then a little context.
            ranked = sorted(matching, key=lambda n: (-WEIGHTS[self.specs[n].kind], hits[n].lines[0][0]))
            decisive = hits[ranked[0]].lines[0]
            match_lines: dict[int, bytes] = {}
            facts: dict[str, bytes] = {}
            for n in ranked:
                for line, raw in hits[n].lines:
                    match_lines.setdefault(line, raw)
                for name, value in hits[n].facts.items():
                    facts.setdefault(name, value)
            if parent is not None:
                # A more specific branch outranks its parent when both match.
                score = max(score, parent.score + 1)
                for line, text in parent.evidence:
                    if line not in parent.context_lines:
                        match_lines.setdefault(line, text.encode())
                for name, value in parent.facts:
                    facts.setdefault(name, value.encode())
            context_lines: dict[int, bytes] = {}
            for n in spec_ids:
                if self.specs[n].kind == "context":
                    for line, raw in hits[n].lines:
                        context_lines.setdefault(line, raw)
                if self.specs[n].kind in SUPPORTING:
                    for name, value in hits[n].facts.items():
                        facts.setdefault(name, value)
            if product_lines:
                context_lines.setdefault(product_lines[0], product[fam][product_lines[0]][1])
            for name, value in product_facts.get(fam, {}).items():
                facts.setdefault(name, value)
            evidence, context = _evidence(decisive, match_lines, context_lines)
            found[i] = Found(pb, min(score, 100), evidence, kinds, context, _facts(facts))
        return sorted(found.values(), key=lambda f: (-f.score, -self._depth(self.by_id[f.playbook.id]), f.playbook.id))

    def _matched_ancestor(self, i: int, found: dict[int, Found]) -> Found | None:
        pb = self.playbooks[i]
        while pb.refines is not None and pb.refines in self.by_id:
            j = self.by_id[pb.refines]
            if j in found:
                return found[j]
            pb = self.playbooks[j]
        return None


def _line_text(raw: bytes) -> str:
    """A line as text, bounded in size but not yet cut for display: the caller redacts first,
    so no cut splits a secret into parts the redactor no longer recognises."""
    return raw[:RAW_LINE_BYTES].decode("utf-8", "replace").rstrip("\r")


def _evidence(
    decisive: tuple[int, bytes], match: dict[int, bytes], context: dict[int, bytes]
) -> tuple[tuple[tuple[int, str], ...], frozenset[int]]:
    """The decisive line, the other matching lines in line order (MAX_EVIDENCE in all), then up to
    MAX_CONTEXT context lines that are not already shown; and the numbers of those context lines."""
    rest = sorted(n for n in match if n != decisive[0])[: MAX_EVIDENCE - 1]
    shown = [decisive] + [(n, match[n]) for n in rest]
    numbers = {n for n, _ in shown}
    extra = [(n, raw) for n, raw in sorted(context.items()) if n not in numbers][:MAX_CONTEXT]
    out = tuple((n, _line_text(raw)) for n, raw in shown + extra)
    return out, frozenset(n for n, _ in extra)


def _facts(facts: dict[str, bytes]) -> tuple[tuple[str, str], ...]:
    """Captured values as text, trimmed of quotes and spaces, in name order."""
    out = []
    for name, raw in sorted(facts.items()):
        value = _CONTROL.sub("", raw.decode("utf-8", "replace")).strip().strip("'\"`").strip()
        if value:
            out.append((name, value[:MAX_FACT_CHARS]))
    return tuple(out)


def _blocks(chunk: bytes) -> Iterator[bytes]:
    """The chunk in pieces of about BLOCK_BYTES that end on a line break (the last may not)."""
    start = 0
    while start < len(chunk):
        cut = chunk.find(b"\n", start + BLOCK_BYTES) if start + BLOCK_BYTES < len(chunk) else -1
        end = len(chunk) if cut < 0 else cut + 1
        yield chunk[start:end]
        start = end


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    """Chunks of about CHUNK_BYTES that end on a line break when there is one."""
    carry = b""
    while True:
        block = stream.read(CHUNK_BYTES)
        if not block:
            if carry:
                yield carry
            return
        data = carry + block
        cut = data.rfind(b"\n")
        if cut < 0 and len(data) < 4 * CHUNK_BYTES:
            carry = data  # one long line: keep reading, but not without bound
            continue
        if cut < 0:
            yield data
            carry = b""
        else:
            yield data[: cut + 1]
            carry = data[cut + 1 :]
