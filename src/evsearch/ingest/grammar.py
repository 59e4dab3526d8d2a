"""The cell grammar shared by every reader: what a Treatment Matrix cell is made of.

Titles and cell identity, the study line (type codes, title, ``(organisation, year)``,
summary, cross-reference), site chrome, and the small text helpers every reader uses.
Nothing here knows whether the page came as text, HTML or PDF.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files

from evsearch._sanitize import strip_controls
from evsearch.analysis import stem
from evsearch.model import STUDY_TYPES

#: Page-break cuts are not rejoined onto a paragraph already this long (real paragraphs are
#: a few thousand characters), so rejoining stays linear in the size of the file.
MAX_PARAGRAPH_CHARS = 20_000


#: The section of commentary paragraphs that come before any heading.
DEFAULT_SECTION = "Matrix Bite"




# Site chrome, as package data (``evsearch/data/chrome.txt``): whole lines dropped wherever
# they appear.
def _load_chrome() -> tuple[re.Pattern[str], re.Pattern[str]]:
    always: list[str] = []
    short: list[str] = []
    text = files("evsearch").joinpath("data/chrome.txt").read_text(encoding="utf-8")
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("short:"):
            short.append(line[len("short:") :])
        else:
            always.append(line)
    join = "|".join
    return (
        re.compile(rf"(?:{join(f'(?:{p})' for p in always)})", re.IGNORECASE),
        re.compile(rf"(?:{join(f'(?:{p})' for p in short)})", re.IGNORECASE),
    )


_CHROME_ALWAYS, _CHROME_SHORT = _load_chrome()

#: A chrome line or study may carry a list or bullet mark (``- Home``; text browsers mark
#: nested lists with ``+``, ``o``, ``#`` and ``@``).
_LIST_MARK_RE = re.compile(r"^(?:[-*+•·▪‣–◦○●■□➢#@o]|\d{1,2}[.)])\s+")

#: Study type codes before a title: ``K``, ``S G``, ``S/G``; glued before a quote (``K'Not``).
STUDY_RE = re.compile(
    r"^(?P<types>[SKRG](?:[\s,/&+]{1,3}[SKRG])*)"
    r"(?:\s*[:|]\s+|\s+(?:[-–—|]\s+)?|(?=['‘“\"]))"  # "K Title", "K: Title", "K – Title", "K'Not"
    r"(?P<rest>\S.*)$",
    re.DOTALL,
)

#: Type codes in brackets, as text browsers show an image's alt text or file name (``[K]``,
#: ``[S.gif]``): read as the plain codes.
_BRACKET_CODES_RE = re.compile(r"^(?:\[[SKRG](?:\.(?:gif|png|jpe?g|svg))?\]\s*)+", re.IGNORECASE)


def _plain_codes(text: str) -> str:
    m = _BRACKET_CODES_RE.match(text)
    if m is None:
        return text
    codes = " ".join(re.findall(r"\[([SKRGskrg])", m.group()))
    return f"{codes.upper()} {text[m.end():]}".rstrip()

#: A line holding only type codes (the list rendering puts them above the study).
TYPE_ONLY_RE = re.compile(r"^[SKRG](?:[\s,/&+]{1,3}[SKRG])*$")

#: The list's last line, a pointer to more searches (``MORE Retrieve all relevant ...``).
MORE_RE = re.compile(r"^(?:MORE\b|[Mm]ore:?\s+(?:[Rr]etrieve|[Ss]earch)\b)")

#: The study head: a title, then ``(year)``, ``(organisation, year)``, ``([UK] Ministry of
#: Justice, 2014)``, ``(NHS Health Scotland 2011)``, ``(2008; free source at time of writing)``,
#: ``(2012/13)``, ``(2005a)``; then the summary. Spans are bounded so no line is quadratic.
_HEAD_PARTS = (
    r"^(?P<title>(?:[^\s(]|\((?![^()]{0,200}\b(?:1[89]|20)\d\d[a-z]?\s*\)))"  # "(Not) the ..."
    r".{0,600}?)\s*\(\s*"
    r"(?:(?P<org>(?!(?:1[89]|20)\d\d\b)[^()]{0,200}?(?:\([^()]{0,60}\)[^()]{0,200}?)?)\s*[,;:]?\s+)?"
    r"(?P<year>(?:1[89]|20)\d\d)(?:\s*[-–/]\s*\d{2,4})?[a-z]?"
    r"(?P<note>\s*[;,:.]\s*[^()]{0,200}?)?\s*(?P<close>\))"
)
STUDY_HEAD_RE = re.compile(
    _HEAD_PARTS
    + r"(?=\s*[.:;,]|\s*$|\s+[^a-z\s])"  # the head ends here, not at "(2010) report updated (2012)."
    r"\s*[.:]?\s*(?P<summary>.*)$",
    re.DOTALL,
)
#: The head as the site writes it: the year parenthesis followed by a full stop (or nothing).
_FULL_STOP_HEAD_RE = re.compile(_HEAD_PARTS + r"(?=\s*\.|\s*$)\s*\.?\s*(?P<summary>.*)$", re.DOTALL)
#: A sentence ending inside a span of text.
_SENTENCE_END_RE = re.compile(r"[.?!][\"'”’)\]]*\s+[\"'“‘(]?[A-Z]")


def study_head(rest: str) -> re.Match[str] | None:
    """The head of a study line after its type codes: title, ``(organisation, year)``, summary.

    The head ends at the first year parenthesis that is followed by a full stop, a capital or
    the line's end; but a title may itself hold a year parenthesis (``Project MATCH (1997):
    matching ...``, ``... in US treatment (1998 to 2004) (2009).``): when a later parenthesis
    is followed by a full stop, as the site writes the head, and no sentence ends between the
    two, the later one ends the head.

    >>> study_head("Project MATCH (1997): matching treatments (1997). It found.")["title"]
    'Project MATCH (1997): matching treatments'
    >>> study_head("A trial (2008) At a centre, staff mattered. Later (2010).")["year"]
    '2008'
    """
    first = STUDY_HEAD_RE.match(rest)
    if first is None or re.match(r"\s*\.|\s*$", rest[first.end("close") :]):
        return first
    later = _FULL_STOP_HEAD_RE.match(rest)
    if later is None or later.start("close") <= first.end("close"):
        return first
    between = rest[first.end("close") : later.start("title") + len(later["title"])]
    return first if _SENTENCE_END_RE.search(between) else later


def study_parts(text: str) -> tuple[re.Match[str], re.Match[str] | None] | None:
    """``(type codes match, head match or None)`` when ``text`` starts like a study line."""
    m = STUDY_RE.match(_plain_codes(_LIST_MARK_RE.sub("", text, count=1)))
    if not m:
        return None
    head = study_head(m["rest"])
    if head and not re.search(r"[A-Za-z0-9]", head["title"]):
        head = None
    return m, head


#: Chrome that a copy may glue in front of the first study: the legend (two items or more)
#: and the list's controls ("Links to other documents ... Unfold extra text").
_CHROME_PREFIX_RE = re.compile(
    r"^(?:(?:(?:S|K|R|G|more|MORE)\s*(?:(?:Seminal|Key) stud(?:y|ies)|Reviews?|Guidance"
    r"|Search for more studies)\s*){2,}"
    r"|Links to other documents\b.{0,200}?\bUnfold (?:extra|supplementary) text"
    r"(?:\s*Unfold (?:extra|supplementary) text)?\s*)+"
)


def strip_chrome_prefix(text: str) -> str:
    """``text`` without the legend or list controls glued in front of it (``S Seminal
    studiesK Key studies... K Title (2008). ...`` -> ``K Title (2008). ...``); unchanged when
    nothing follows them (the line is then chrome)."""
    m = _CHROME_PREFIX_RE.match(text)
    return text[m.end() :].strip() if m and text[m.end() :].strip() else text


#: Where a second study line starts inside a line: after a sentence's end, type codes, then a
#: capital, digit, quote or bracket (two rows of a table copied without their line break).
_GLUED_STUDY_RE = re.compile(
    r"(?<=[.?!…])[\"'”’)\]]*\s+(?=[SKRG](?:[\s,/&+]{1,3}[SKRG])*\s+[\"'‘“(\[]?[A-Z0-9])"
)


def split_glued_studies(text: str) -> list[str]:
    """A study line holding the next study lines too -> one line each; a piece is split off only
    when it is a complete study line itself (type codes, title, year parenthesis).

    >>> split_glued_studies("K A trial (2003). It did. R A review (2011). It found.")
    ['K A trial (2003). It did.', 'R A review (2011). It found.']
    >>> split_glued_studies("K A trial (2003). It did. G Smith (2010) found more.")
    ['K A trial (2003). It did. G Smith (2010) found more.']
    """
    if len(text) > 20_000:
        return [text]
    pieces = [text]
    for m in reversed(list(_GLUED_STUDY_RE.finditer(text))):
        head, tail = pieces[0][: m.start()], pieces[0][m.end() :]
        if is_study_line(tail) and is_study_line(head):
            pieces[0:1] = [head, tail]
    return pieces


def is_study_line(text: str) -> bool:
    """A complete study line: type codes, a title, then a parenthesis with a year."""
    parts = study_parts(text)
    return parts is not None and parts[1] is not None


def is_type_only(text: str) -> bool:
    return bool(TYPE_ONLY_RE.match(_plain_codes(_LIST_MARK_RE.sub("", text, count=1))))


# The spans are bounded ({0,300}) so that a long text without a full stop cannot make
# these patterns quadratic.
_XREF_CLICK_RE = re.compile(
    r"\bFor (?:\w+ )?discussions?\b[^.]{0,300}?\bclick\b[^.]{0,300}(?:\.|$)", re.IGNORECASE
)


_XREF_NAMED_RE = re.compile(
    r"\bDiscussions? in (?:the )?bite['’]?s? (?P<names>[^.]{0,300}?) sections?(?:\.|$)", re.IGNORECASE
)


_MARKUP_RES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"</?[A-Za-z][^<>]*>"), ""),
    # a Markdown link or image (a page saved as Markdown): its text, "[Title](https://...)"
    (re.compile(
        r"!?\[((?:[^\[\]\\]|\\.|\[[^\[\]]{0,100}\]){1,600})\]"
        r"\((?:https?://|www\.|/|\.\.?/)[^\s()]{0,500}(?:\([^\s()]{0,80}\)[^\s()]{0,80})?\)"
    ), lambda m: re.sub(r"\\([\\`*_{}\[\]()#+\-.!])", r"\1", m[1])),
    (re.compile(r"\[\d{1,4}\](?=[\w‘“'\"(\[])"), ""),  # a text browser's link number: "[12]Title"
    (re.compile(r"\*(?=\S)([^*\n]+?)(?<=\S)\*"), r"\1"),
    (re.compile(r"\*"), ""),
)


_POINTER_RE = re.compile(
    r"(?:\b[\w'-]+\s+){0,2}(?:listed\s+|described\s+)?\b(?:above|below)\b", re.IGNORECASE
)


SENTENCE_SPLIT_RE = re.compile(r"(?<=[.?!])[\"'”’)\]]*\s+(?=[\"'“‘(]?[A-Z])")


BULLETS = "►▶▸▪•‣"


_TERMINAL = ".?!:;…"


_CLOSERS = "\"'”’)]*"


#: Invisible characters dropped from the text: variation selectors, zero-width spaces and
#: joiners, soft hyphens, word joiners and stray byte-order marks (a copy keeps them, so
#: ``treat\u00adment`` must read as ``treatment``).
_DROP_CHARS = {"\ufe0e", "\ufe0f", "\u200b", "\u200c", "\u200d", "\u00ad", "\u2060", "\ufeff"}


STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers him his how i if in into is it its
    itself just may might more most much must my no nor not now of off on once only or other
    our ours out over own same she should so some such than that the their theirs them then
    there these they this those through to too under until up us very was we were what when
    where which while who whom why will with would you your yours listed described click
    scroll highlighted heading headings discussion discussions see associated""".split()
)


def _dropped(ch: str) -> bool:
    """Whether :func:`clean` drops ``ch``: an invisible character, a symbol (emoji, dingbats,
    box drawing), a lone surrogate or a private-use character."""
    return ch in _DROP_CHARS or unicodedata.category(ch) in ("So", "Cs", "Co")


def clean(text: str) -> str:
    """Drop decorative symbols, terminal escapes and control characters; normalise whitespace
    (markup stays)."""
    text = strip_controls(text)
    if not text.isascii():  # every character clean drops is outside ASCII: look at those only
        drop = {ord(ch): None for ch in set(text) if ord(ch) > 127 and _dropped(ch)}
        if drop:
            text = text.translate(drop)
    return " ".join(text.split())


def strip_markup(text: str) -> str:
    """``<u>listed above</u>`` -> ``listed above``, ``*formal*`` -> ``formal``."""
    for pattern, repl in _MARKUP_RES:
        text = pattern.sub(repl, text)
    return " ".join(text.split())


def is_chrome(text: str, *, short: bool = True) -> bool:
    """Site chrome (the lines and patterns of ``data/chrome.txt``) wherever it sits; with
    ``short=False`` only the lines that are chrome whatever their length."""
    line = _LIST_MARK_RE.sub("", text.strip(), count=1).strip(" |")
    if not line:
        return True
    if _CHROME_ALWAYS.fullmatch(line):
        return True
    return (
        short
        and len(line.split()) <= 40
        and not ends_terminal(line)
        and bool(_CHROME_SHORT.fullmatch(line))
    )


def ends_terminal(text: str) -> bool:
    """Whether ``text`` ends a sentence (closing quotes and brackets looked through)."""
    stripped = text.rstrip().rstrip(_CLOSERS)
    return bool(stripped) and stripped[-1] in _TERMINAL


def starts_lower(text: str) -> bool:
    return bool(text) and text[0].islower()


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z]+", text.lower()) if w not in STOPWORDS]


def term_set(text: str) -> set[str]:
    return {stem(w) for w in _words(text) if len(w) > 1}


@dataclass
class StudyDraft:
    types: tuple[str, ...]
    title: str
    organisation: str | None
    year: int | None
    summary: str
    links: int = 0  # how many links its cross-reference sentence had
    named_sections: tuple[str, ...] = ()
    match_text: str = ""


def parse_study(line: str) -> StudyDraft:
    parts = study_parts(line)
    assert parts is not None
    m, head = parts
    types = tuple(t for t in re.findall(r"[SKRG]", m["types"]) if t in STUDY_TYPES)
    rest = m["rest"]
    if head:
        title, year = head["title"].strip(), int(head["year"])
        if title.endswith(".") and not title.endswith(".."):
            title = title[:-1].rstrip()
        org = head["org"].strip(" ,;:") if head["org"] and head["org"].strip(" ,;:") else None
        summary = head["summary"]
    else:  # no (organisation, year): the title is the first sentence
        pieces = SENTENCE_SPLIT_RE.split(rest, maxsplit=1)
        title, org, year = pieces[0].strip(), None, None
        summary = pieces[1] if len(pieces) > 1 else ""
        if title.endswith("."):
            title = title[:-1]
    links = 0
    named: list[str] = []
    for xm in _XREF_CLICK_RE.finditer(summary):
        links += len(re.findall(r"\bhere\b", xm.group(0), re.IGNORECASE)) or 1
    for xm in _XREF_NAMED_RE.finditer(summary):
        names = re.split(r"\s*(?:,|\band\b)\s*", xm["names"])
        named.extend(n.strip() for n in names if n.strip())
    summary = _XREF_NAMED_RE.sub("", _XREF_CLICK_RE.sub("", summary))
    summary = " ".join(summary.split())
    match_text = " ".join([title, org or "", _POINTER_RE.sub(" ", summary)])
    return StudyDraft(
        types=types,
        title=title,
        organisation=org,
        year=year,
        summary=summary,
        links=links if not named else max(links, len(named)),
        named_sections=tuple(named),
        match_text=match_text,
    )

