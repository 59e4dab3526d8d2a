"""Snippets: the best part of a text around the matches, HTML-escaped, matches in ``<mark>``.

Whoosh finds the fragments; this module widens them to sentence starts where one is near,
merges overlapping ones, and marks left-out text with ``…``. Corpus text is always escaped:
the only tags in a snippet are ``<mark>`` and ``</mark>``.
"""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Iterable
from typing import Any

from whoosh import highlight
from whoosh.query import Phrase, Query
from whoosh.query.compound import BinaryQuery, CompoundQuery
from whoosh.searching import Results

from .scorer import Expansion, FieldedTerm

#: About how long a snippet is; a text up to 1.25 times this is shown whole.
SNIPPET_CHARS = 240


def highlight_hit(results: Any, hit: Any, text: str) -> str:
    """The snippet of one Whoosh hit's ``text`` (internal: takes Whoosh objects)."""
    results.fragmenter = (
        highlight.WholeFragmenter()
        if len(text) <= SNIPPET_CHARS * 1.25
        else highlight.ContextFragmenter(maxchars=SNIPPET_CHARS, surround=90)
    )
    # strict: a phrase's words are marked only where the phrase occurs; whoosh3 misses some
    # phrase matches across removed stopwords, so fall back to loose. Without a phrase in the
    # query both mark the same words, and loose is the faster.
    snippet: str
    if not _has_phrase(results.q):
        snippet = hit.highlights("text", text=text, top=2)
    else:
        snippet = hit.highlights("text", text=text, top=2, strict_phrase=True) or (
            hit.highlights("text", text=text, top=2)
        )
    return snippet


def highlight_docs(
    searcher: Any, q: Query, page: list[tuple[int, float]], texts: list[str]
) -> list[str]:
    """The snippets of one page of (document number, score), ``texts`` their stored text.

    Whoosh's highlighter works on search results: the page is handed to it as one."""
    results = Results(searcher, for_highlighting(q), [(score, docnum) for docnum, score in page])
    results.formatter = MarkFormatter()
    return [highlight_hit(results, results[i], text) for i, text in enumerate(texts)]


def for_highlighting(q: Any) -> Any:
    """``q`` with each phrase expansion reduced to its phrase, so that snippets mark the
    phrase where it occurs, not its words wherever they are."""
    if isinstance(q, Expansion) and isinstance(q.gate, FieldedTerm) and any(
        isinstance(p, Phrase) for p in q.gate.subqueries
    ):
        return q.gate
    if isinstance(q, BinaryQuery):
        out: Any = copy.copy(q)
        out.a, out.b = for_highlighting(q.a), for_highlighting(q.b)
        out.subqueries = (out.a, out.b)
        return out
    if isinstance(q, CompoundQuery):
        whole: Any = copy.copy(q)
        whole.subqueries = [for_highlighting(s) for s in q.subqueries]
        return whole
    return q


def _has_phrase(q: Any) -> bool:
    return any(isinstance(leaf, Phrase) for leaf in q.leaves())


class MarkFormatter(highlight.Formatter):
    """HTML-escapes text and wraps matched words in ``<mark>``."""

    between = " … "

    def _text(self, text: str) -> str:
        return html.escape(text, quote=False)

    def format_token(self, text: str, token: Any, replace: bool = False) -> str:
        return "<mark>" + html.escape(highlight.get_text(text, token, replace), quote=False) + "</mark>"

    def format(self, fragments: Iterable[Any], replace: bool = False) -> str:
        """Fragments trimmed to sentence starts where one is near, in text order, with
        ``…`` wherever text was left out."""
        frags = sorted(fragments, key=lambda f: f.startchar)
        if not frags:
            return ""
        text = frags[0].text
        spans: list[list[Any]] = []  # [start, end, matches], merged where they overlap
        for frag in frags:
            first = min((t.startchar for t in frag.matches), default=frag.startchar)
            start = _sentence_start(text, frag.startchar, first)
            last = max((t.endchar for t in frag.matches), default=frag.endchar)
            end = _sentence_end(text, last, _word_end(text, frag.endchar))
            if spans and start <= spans[-1][1] + 1:
                spans[-1][1] = max(spans[-1][1], end)
                spans[-1][2].extend(frag.matches)
            else:
                spans.append([start, end, list(frag.matches)])
        out = []
        for start, end, matches in spans:
            frag = highlight.Fragment(text, matches, start, end)
            out.append(("… " if start > 0 else "") + self.format_fragment(frag, replace))
        rest = text[spans[-1][1] :]
        return " ".join(out) + (" …" if any(c.isalnum() for c in rest) else "")


_SENTENCE_END = re.compile(r"[.?!][\"'”’)]?\s+(?=[\"'“‘(]?[A-Z0-9])")


def _sentence_start(text: str, start: int, first_match: int, reach: int = 80) -> int:
    """A snippet start: the nearest sentence start before the first match (looking back at
    most ``reach`` chars from ``start``), else the start of a word."""
    if start <= 0:
        return 0
    lo = max(0, start - reach)
    starts = [m.end() for m in _SENTENCE_END.finditer(text, lo, first_match)]
    if starts:
        after = [s for s in starts if s >= start]
        return after[0] if after else starts[-1]
    if start <= reach:
        return 0
    space = text.rfind(" ", 0, start)
    return space + 1 if space >= 0 else start


def _sentence_end(text: str, last_match: int, end: int) -> int:
    """Cut a snippet at the first sentence end between the last match and ``end``."""
    m = _SENTENCE_END.search(text, last_match, end)
    return m.start() + 1 if m else end


def _word_end(text: str, end: int) -> int:
    """Extend ``end`` over the rest of a word and any punctuation closing it."""
    n = len(text)
    while end < n and not text[end].isspace():
        end += 1
    return end


def leading_snippet(text: str, chars: int = SNIPPET_CHARS) -> str:
    """The start of ``text``, cut at a space and HTML-escaped: the snippet of a hit with no match
    to show.

    >>> leading_snippet("Probation <officers> & their clients", chars=24)
    'Probation &lt;officers&gt; &amp; …'
    """
    if len(text) <= chars:
        return html.escape(text, quote=False)
    cut = text.rfind(" ", 0, chars)
    return html.escape(text[: cut if cut > 0 else chars], quote=False) + " …"
