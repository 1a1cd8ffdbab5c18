"""Closest playbooks for an input no playbook matched: BM25 over what each playbook says and shows.

Not a diagnosis: a pointer for a person to read on. Each playbook is one document made of its
titles, summaries, codes, messages and examples; the input is the query. Words that every
traceback or log carries (file, line, error, the most common English words) and words that more
than a quarter of the playbooks contain say nothing about which one is closest, so they are not
counted; below FLOOR nothing is shown.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from bot.playbooks.model import Playbook

K1, B = 1.2, 0.75
FLOOR = 0.45  # similarity (0..1) below which a playbook is not worth showing: a plain ZeroDivisionError scores 0.38
SATURATION = 12.0  # BM25 score at which similarity reaches one half
MAX_DF = 0.25  # a word in more than this share of playbooks does not discriminate
MAX_QUERY_CHARS = 64 * 1024

_ASCII_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_JAPANESE_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]+")
STOPWORDS = frozenset(
    """the and for with that this from are was were not but you your have has had can could will
    would should into when then than there their them they what which while who how all any some
    one two out our use used using get got its also more most only other such may might been being
    does did done doing error errors failed fail fails failure file files line lines traceback
    recent call last exception raise raised http https www com org net true false none null
    please check see more info warning debug module main self app args kwargs""".split()
)


def tokens(text: str) -> list[str]:
    """Lower-cased words (CamelCase split, the whole kept too) and Japanese character bigrams."""
    out: list[str] = []
    for word in _ASCII_WORD.findall(text):
        lower = word.lower()
        parts = [p.lower() for p in _CAMEL.findall(word)]
        for t in {lower, *parts} if len(parts) > 1 else {lower}:
            if len(t) > 2 and t not in STOPWORDS:
                out.append(t)
    for run in _JAPANESE_RUN.findall(text):
        out += [run[i : i + 2] for i in range(len(run) - 1)] if len(run) > 1 else []
    return out


def _document(pb: Playbook) -> list[str]:
    m = pb.match
    parts = [pb.title.en, pb.title.ja, pb.summary.en, pb.summary.ja, *m.codes, *m.messages, *m.statuses]
    parts += [ex.text for ex in pb.examples]
    return tokens("\n".join(parts))


@dataclass(frozen=True)
class Related:
    """A playbook close to the input, with its similarity in 0..1: not a diagnosis."""

    id: str
    title: str
    similarity: float

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "title": self.title, "similarity": self.similarity}


class RelatedIndex:
    """BM25 (k1 1.2, b 0.75) over the playbook library."""

    def __init__(self, playbooks: Iterable[Playbook]) -> None:
        self.playbooks = list(playbooks)
        docs = [Counter(_document(pb)) for pb in self.playbooks]
        self.lengths = [sum(d.values()) for d in docs]
        self.avg = sum(self.lengths) / max(1, len(docs))
        df = Counter(t for d in docs for t in d)
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items() if f <= MAX_DF * n}
        self.docs = [{t: c for t, c in d.items() if t in self.idf} for d in docs]

    def rank(self, text: str, lang: str = "en", top: int = 3) -> list[Related]:
        """Up to `top` playbooks above FLOOR, most similar first."""
        query = set(tokens(text[:MAX_QUERY_CHARS])) & self.idf.keys()
        if not query:
            return []
        scored = []
        for pb, doc, length in zip(self.playbooks, self.docs, self.lengths):
            score = 0.0
            for t in query & doc.keys():
                tf = doc[t]
                score += self.idf[t] * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / self.avg))
            similarity = score / (score + SATURATION)
            if similarity >= FLOOR:
                scored.append((similarity, pb))
        scored.sort(key=lambda x: (-x[0], x[1].id))
        return [Related(pb.id, pb.title.get(lang), round(sim, 2)) for sim, pb in scored[:top]]
