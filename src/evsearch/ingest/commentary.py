"""Commentary grammar: section headings that run into their first sentence, pull quotes, and
side panels and page-break cuts (a block ending without terminal punctuation is continued by the
next block that starts in lower case; blocks landing in between, at most
:data:`MAX_PANEL_BLOCKS`, are a side panel).

Shared by the text and HTML readers (the HTML reader only falls back on these where markup
does not say what a block is).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from evsearch.ingest.grammar import (
    DEFAULT_SECTION,
    MAX_PARAGRAPH_CHARS,
    STOPWORDS,
    ends_terminal,
    starts_lower,
    term_set,
)
from evsearch.model import PassageRole

#: How many blocks a side panel may span inside a cut sentence.
MAX_PANEL_BLOCKS = 6


@dataclass
class Draft:
    section: str
    role: PassageRole
    text: str


def split_heading(text: str, *, bulleted: bool, context: str) -> tuple[str | None, str]:
    """``(heading, rest)`` when the block starts with (or is) a heading, else ``(None, text)``."""
    first_stop = re.search(r"[.!]\s|[.!]$", text)
    q = text.find("?")
    max_words = 25 if bulleted else 8
    if q != -1 and (first_stop is None or q < first_stop.start()):
        lead = text[: q + 1]
        rest = text[q + 1 :].strip()
        if len(lead.split()) <= max_words and (not rest or rest[0].isupper() or rest[0] in "\"'“‘"):
            if bulleted or len(lead.split()) >= 2:
                return lead, rest
    if bulleted:
        split = _sentence_start(text, max_words=max_words)
        if split is None:
            return (text, "") if not ends_terminal(text) else (None, text)
        return text[:split].strip(), text[split:].strip()
    if not ends_terminal(text) and len(text.split()) <= 7 and not is_line_quote(text, context):
        return text, ""
    run_in = _run_in_heading(text)
    if run_in is not None:
        return text[:run_in].strip(), text[run_in:].strip()
    return None, text


#: Words a sentence often opens with: a heading that runs into its first sentence without
#: punctuation ("Highlighted study The national survey ...") ends before one of them.
_OPENERS = frozenset(
    """The A An This These That Those It Its In On At For From With By As Our We Their They
    There When While Where How What Why Although Though Despite Unlike After Before Both Each
    Most Many Some Such Several One Two Three Among Across Not No Only Even If Since Because
    Research Researchers Studies Findings Evidence""".split()
)


_NONSPACE_RE = re.compile(r"\S+")
_PUNCTUATION_RE = re.compile(r"[^\w'’-]")


def _run_in_heading(text: str) -> int | None:
    """Offset of the sentence after a run-in heading: 2 to 6 words, capitalised first, no
    punctuation, then a sentence opener followed by a lower-case word, and a whole sentence."""
    words = list(_NONSPACE_RE.finditer(text[:200]))
    if len(words) < 10 or not words[0].group()[:1].isupper() or not ends_terminal(text):
        return None
    for k in range(2, min(7, len(words) - 2)):
        head = [w.group() for w in words[:k]]
        # each word of the head once: the words before it were looked at for a shorter head
        if any(_PUNCTUATION_RE.search(w) for w in (head if k == 2 else head[-1:])):
            return None  # punctuation inside: an ordinary sentence
        word, nxt = words[k].group(), words[k + 1].group()
        if word in _OPENERS and head[-1][:1].islower() and nxt[:1].islower():
            if all(w.lower() in STOPWORDS for w in head):
                return None
            return words[k].start()
    return None


def _sentence_start(text: str, *, max_words: int) -> int | None:
    """Offset of the first capitalised word (after the first) that starts a sentence.

    A sentence start is a capitalised word that follows a lower-case word and is followed by a
    lower-case one: ``... the more the worker matters Issues discussed above``.
    """
    matches = list(re.finditer(r"\S+", text))
    stop = min(len(matches) - 1, max_words + 1)
    for k in range(1, stop):
        prev, word, nxt = (matches[k - 1].group(), matches[k].group(), matches[k + 1].group())
        if re.search(r"[.?!:;)\"”]$", prev):
            return None  # punctuation came first: this is not a bare heading run
        if (
            word[0].isupper()
            and word[1:].islower()
            and word not in ("I",)
            and prev[0].islower()
            and (nxt[0].islower() or nxt[0].isdigit())
        ):
            return matches[k].start()
    return None


def _echo(text: str, context: str) -> float:
    """Share of ``text``'s content words that recur in ``context``."""
    words = term_set(text)
    if not words:
        return 0.0
    return len(words & term_set(context)) / len(words)


def is_line_quote(text: str, context: str) -> bool:
    """A pull quote on a line of its own: no terminal punctuation, and echoed nearby."""
    if ends_terminal(text) or text.endswith("?"):
        return False
    n_words = len(text.split())
    if n_words >= 8:
        return True
    rest = context.replace(text, " ")
    return len(term_set(text)) >= 4 and _echo(text, rest) >= 0.6


def split_glued_quote(text: str, context: str) -> tuple[str | None, str]:
    """Split a pull quote glued to the start of a paragraph: ``... and agent Therapists in``."""
    split = _sentence_start(text, max_words=30)
    if split is None:
        return None, text
    quote, rest = text[:split].strip(), text[split:].strip()
    if len(quote.split()) < 5 or re.search(r"[(\"“]", quote):
        return None, text
    if _echo(quote, context.replace(quote, " ", 1)) < 0.6:
        return None, text
    return quote, rest


@dataclass
class Block:
    """A run of non-blank lines, cleaned to one line of text."""

    text: str
    bulleted: bool = False
    scrap: bool = False  # tab-split sidebar fragment


@dataclass
class _Item:
    """One piece of commentary before passages are numbered."""

    kind: str  # "heading", "paragraph", "quote", "panel", "panel-heading"
    text: str
    bulleted: bool = False
    extra: list[_Item] = field(default_factory=list)


def _rejoin(blocks: Sequence[Block]) -> list[_Item]:
    """Undo page-break cuts, lifting side panels and pull quotes out of the sentences they cut.

    A block starting in lower case continues the nearest earlier paragraph cut mid-sentence
    (at most :data:`MAX_PANEL_BLOCKS` blocks back); the blocks in between landed inside the
    sentence: one unpunctuated line is a pull quote, more are a side panel with its heading.
    """
    out: list[_Item] = []
    for block in blocks:
        item = _Item("paragraph", block.text, block.bulleted)
        back = _cut_target(out) if starts_lower(block.text) and not block.bulleted else None
        if back is not None and len(out[-back].text) > MAX_PARAGRAPH_CHARS:
            back = None
        if back is None:
            out.append(item)
            continue
        target, between = out[-back], out[len(out) - back + 1 :]
        del out[len(out) - back + 1 :]
        target.text = f"{target.text} {item.text}"
        if len(between) == 1 and not ends_terminal(between[0].text):
            target.extra.append(_Item("quote", between[0].text))
        elif between:
            heading = None if ends_terminal(between[0].text) else between[0].text
            if heading:
                target.extra.append(_Item("panel-heading", heading))
            target.extra.extend(_Item("panel", b.text) for b in between[1 if heading else 0 :])
    return out


def _cut_target(items: Sequence[_Item]) -> int | None:
    """How far back the paragraph a lower-case block continues is (1 = the previous block)."""
    for back in range(1, min(len(items), MAX_PANEL_BLOCKS + 1) + 1):
        item = items[-back]
        if _is_cut_paragraph(item.text):
            return back
        if item.bulleted or item.extra:
            break
    if items and (not ends_terminal(items[-1].text) or items[-1].text.endswith(("...", "…"))):
        return 1  # an ellipsis before a lower-case block elides words inside a sentence
    return None


def _is_cut_paragraph(text: str) -> bool:
    """A paragraph (not a heading or pull-quote line) that stops mid-sentence.

    Headings and pull quotes also lack terminal punctuation, but they do not end on a
    function word ("... at the"), leave a bracket open, or hold a finished sentence.
    """
    # word counts look at the start only: a paragraph may be thousands of words long, and
    # this is asked for each block that follows it
    if len(text) > MAX_PARAGRAPH_CHARS or ends_terminal(text) or len(text[:200].split()) < 4:
        return False
    last = re.findall(r"[A-Za-z']+", text[-200:])[-1:] or [""]
    tail = text[-_WINDOW:]
    return (
        last[0].lower() in STOPWORDS
        or tail.count("(") > tail.count(")")
        or (len(text[:400].split()) >= 8 and bool(_SENTENCE_END_RE.search(tail)))
    )


#: How much of a paragraph's end the cut test looks at (brackets, finished sentences).
_WINDOW = 2000
_SENTENCE_END_RE = re.compile(r"[.?!;:]\s")


def parse_commentary(
    blocks: Sequence[Block], *, default_section: str = DEFAULT_SECTION
) -> tuple[list[Draft], list[str]]:
    """Passages in reading order, and every section heading (empty ones too)."""
    items = _rejoin(blocks)
    headings: list[str] = []
    texts = [it.text for it in items]
    drafts: list[Draft] = []
    section = default_section
    for n, item in enumerate(items):
        text = item.text
        neighbours = " ".join(texts[max(0, n - 3) : n + 4])
        heading, body = split_heading(text, bulleted=item.bulleted, context=neighbours)
        if heading is not None:
            section = heading
            headings.append(heading)
            if not body:
                continue
            text = body
        elif is_line_quote(text, neighbours):
            drafts.append(Draft(section, "quote", text))
            continue
        quote, rest = split_glued_quote(text, neighbours)
        if quote:
            drafts.append(Draft(section, "quote", quote))
            text = rest
        drafts.append(Draft(section, "paragraph", text))
        panel_section = section
        for extra in item.extra:
            if extra.kind == "panel-heading":
                panel_section = extra.text
            elif extra.kind == "quote":
                drafts.append(Draft(section, "quote", extra.text))
            else:
                drafts.append(Draft(panel_section, "panel", extra.text))
    return drafts, headings

