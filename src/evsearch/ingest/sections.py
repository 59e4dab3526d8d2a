"""Which commentary sections each study points to.

A study's sections come from the cross-reference wording when it names them, otherwise from
back-references ("listed above") in the commentary, matched to studies by rare shared words.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from evsearch.ingest.commentary import Draft
from evsearch.ingest.grammar import SENTENCE_SPLIT_RE, StudyDraft, term_set

#: Back-references ("listed above") matched against the study list per cell: the matching
#: costs studies x sentences, and a real cell has a handful.
MAX_BACKREF_SENTENCES = 200


_BACKREF_RE = re.compile(r"\b(?:listed|described) above\b", re.IGNORECASE)


_BACKREF_NOUN_RE = re.compile(
    r"\b(?P<noun>[A-Za-z]+)\W{0,3}(?:listed|described) above\b", re.IGNORECASE
)


# The type of study a back-reference's noun most likely means ("review listed above").
_NOUN_TYPES = {
    "review": {"R"},
    "reviews": {"R"},
    "study": {"K", "S"},
    "studies": {"K", "S"},
    "trial": {"K", "S"},
    "manual": {"G"},
    "guidance": {"G"},
    "guidelines": {"G"},
}


_NOUN_TYPE_BONUS = 1.0


_QUOTATION_RE = re.compile(r"\"[^\"]{20,}\"|“[^”]{20,}”")


def resolve_sections(
    drafts: Sequence[StudyDraft], passages: Sequence[Draft], headings: Sequence[str]
) -> list[tuple[str, ...]]:
    """Each study's commentary sections, from named cross-references or back-references."""
    targets: list[list[str]] = [[] for _ in drafts]
    for i, d in enumerate(drafts):
        for name in d.named_sections:
            found = next((h for h in headings if h.lower().startswith(name.lower())), name)
            targets[i].append(found)
    if any(d.links and not d.named_sections for d in drafts):
        for section, study in _backreferences(drafts, passages):
            if drafts[study].links and not drafts[study].named_sections:
                targets[study].append(section)
    return [tuple(unique(t)[: d.links]) for t, d in zip(targets, drafts, strict=True)]


def _backreferences(
    drafts: Sequence[StudyDraft], passages: Sequence[Draft]
) -> list[tuple[str, int]]:
    """``(section, study index)`` for each sentence pointing back at the study list."""
    bags = [term_set(d.match_text) for d in drafts]
    df = Counter(t for bag in bags for t in bag)
    n = len(drafts)
    idf = {t: math.log(n / c) for t, c in df.items()}
    found: list[tuple[str, int]] = []
    seen = 0
    for p in passages:
        if p.role not in ("paragraph", "panel"):
            continue
        for sentence in SENTENCE_SPLIT_RE.split(p.text):
            if not _BACKREF_RE.search(sentence):
                continue
            seen += 1
            if seen > MAX_BACKREF_SENTENCES:
                return found
            best = _best_study(_without_quotations(sentence), drafts, bags, idf)
            if best is not None:
                found.append((p.section, best))
    return found


def _without_quotations(sentence: str) -> str:
    """``sentence`` minus long quotations: they quote the source, the words around name it."""
    return _QUOTATION_RE.sub(" ", sentence)


def _best_study(
    sentence: str,
    drafts: Sequence[StudyDraft],
    bags: Sequence[set[str]],
    idf: dict[str, float],
) -> int | None:
    terms = term_set(sentence)
    nouns = {m["noun"].lower() for m in _BACKREF_NOUN_RE.finditer(sentence)}
    wanted = set().union(*(_NOUN_TYPES.get(noun, set()) for noun in nouns))
    scores = []
    for d, bag in zip(drafts, bags, strict=True):
        score = math.fsum(idf[t] for t in terms & bag)  # exact: the same whatever the set order
        if wanted & set(d.types):
            score += _NOUN_TYPE_BONUS
        scores.append(score)
    ranked = sorted(range(len(scores)), key=lambda k: -scores[k])
    if not ranked or scores[ranked[0]] < 1.0:
        return None
    if len(ranked) > 1 and scores[ranked[1]] == scores[ranked[0]]:
        return None
    return ranked[0]


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
