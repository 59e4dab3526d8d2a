"""Commentary grammar: section headings that run into their first sentence, and pull quotes.

Shared by the text and HTML readers (the HTML reader only falls back on these where markup
does not say what a block is).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from evsearch.ingest.grammar import ends_terminal, term_set
from evsearch.model import PassageRole


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
    return None, text


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

