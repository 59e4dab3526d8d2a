"""The cell grammar shared by every reader: what a Treatment Matrix cell is made of.

Titles and cell identity, the study line (type codes, title, ``(organisation, year)``,
summary, cross-reference), site chrome, and the small text helpers every reader uses.
Nothing here knows whether the page came as text, HTML or PDF.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from evsearch._sanitize import strip_controls
from evsearch.analysis import stem
from evsearch.errors import IngestError
from evsearch.model import STUDY_TYPES

#: Page-break cuts are not rejoined onto a paragraph already this long (real paragraphs are
#: a few thousand characters), so rejoining stays linear in the size of the file.
MAX_PARAGRAPH_CHARS = 20_000


#: The section of commentary paragraphs that come before any heading.
DEFAULT_SECTION = "Matrix Bite"


MATRIX_NAMES = {"alcohol": "alcohol", "drug": "drug", "drugs": "drug"}


MATRIX_TITLES = {"alcohol": "Alcohol", "drug": "Drug"}


TITLE_RE = re.compile(
    r"^(?P<matrix>Alcohol|Drugs?) Treatment Matrix cell (?P<code>[A-E][1-5])\b"
    r"(?:\s*[:\-–]\s*(?P<label>.+))?$",
    re.IGNORECASE,
)


# Site chrome: whole blocks dropped wherever they appear.
_CHROME_RES = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^Home Mailing list\b",
        r"^S Seminal studies\b",
        r"^DOWNLOAD PDF\b",
        r"^Close Matrix Bite\b",
        r"^(?:Tweet|Comment/qu\w*|Send email\b.*|your\.email@.*)$",
    )
]


LINKS_LINE_RE = re.compile(r"^Links to other documents\b", re.IGNORECASE)


STUDY_RE = re.compile(r"^(?P<types>(?:[SKRG] )+)(?P<rest>\S.*)$")


MORE_RE = re.compile(r"^MORE\b")


STUDY_HEAD_RE = re.compile(
    r"^(?P<title>.+?)\s*\((?:(?P<org>[^()]*?),\s*)?(?P<year>(?:1[89]|20)\d\d)"
    r"(?:\s*[-–/]\s*\d{2,4})?[a-z]?\)\s*\.?\s*(?P<summary>.*)$"
)


# The spans are bounded ({0,300}) so that a long text without a full stop cannot make
# these patterns quadratic.
_XREF_CLICK_RE = re.compile(
    r"\bFor (?:\w+ )?discussions?\b[^.]{0,300}?\bclick\b[^.]{0,300}(?:\.|$)", re.IGNORECASE
)


_XREF_NAMED_RE = re.compile(
    r"\bDiscussions? in (?:the )?bite'?s? (?P<names>[^.]{0,300}?) sections?(?:\.|$)", re.IGNORECASE
)


_MARKUP_RES = (
    (re.compile(r"</?[A-Za-z][^<>]*>"), ""),
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


_DROP_CHARS = {"\ufe0e", "\ufe0f", "\u200b", "\u200c", "\u200d"}


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


def clean(text: str) -> str:
    """Drop decorative symbols, terminal escapes and control characters; normalise whitespace
    (markup stays)."""
    kept = []
    for ch in strip_controls(text):
        if ch in _DROP_CHARS or unicodedata.category(ch) in ("So", "Cs", "Co"):
            continue
        kept.append(ch)
    return " ".join("".join(kept).split())


def strip_markup(text: str) -> str:
    """``<u>listed above</u>`` -> ``listed above``, ``*formal*`` -> ``formal``."""
    for pattern, repl in _MARKUP_RES:
        text = pattern.sub(repl, text)
    return " ".join(text.split())


def is_chrome(text: str) -> bool:
    """Site chrome. The "Links to other documents" line is chrome too, but is kept until
    :func:`evsearch.ingest.text.split_studies` has used it to find where the commentary starts."""
    return any(p.search(text) for p in _CHROME_RES)


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


def fallback_identity(matrix: str | None, code: str | None) -> tuple[str | None, str | None]:
    """The fallback ``(matrix, code)`` normalised: ``("Drugs", "e1")`` -> ``("drug", "E1")``."""
    fb_matrix = MATRIX_NAMES.get(matrix.lower()) if matrix else None
    if matrix and fb_matrix is None:
        raise IngestError(f"unknown matrix {matrix!r}", "the matrices are 'alcohol' and 'drug'")
    return fb_matrix, code.upper() if code else None


def cell_identity(
    page_matrix: str | None, page_code: str | None, fb_matrix: str | None, fb_code: str | None
) -> tuple[str, str]:
    """The cell's ``(matrix, code)``: the page's own, else the fallback; a conflict is an error."""
    if page_matrix and page_code:
        if (fb_matrix and fb_matrix != page_matrix) or (fb_code and fb_code != page_code):
            raise IngestError(
                f"page says {page_matrix}/{page_code} but path says "
                f"{fb_matrix or '?'}/{fb_code or '?'}",
                "rename or move the file to match the cell it holds",
            )
        return page_matrix, page_code
    if fb_matrix and fb_code:
        return fb_matrix, fb_code
    raise IngestError(
        "cannot tell which cell this is: no 'Alcohol/Drug Treatment Matrix cell XN' title "
        "line, and no matrix and code from the file path",
        "name the file like alcohol/B5.txt or drug-E1.txt",
    )


def looks_like_label(text: str) -> bool:
    return ";" in text and len(text.split()) <= 14 and not ends_terminal(text)


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
    m = STUDY_RE.match(line)
    assert m is not None
    types = tuple(t for t in m["types"].split() if t in STUDY_TYPES)
    rest = m["rest"]
    head = STUDY_HEAD_RE.match(rest)
    if head:
        title, year = head["title"].strip(), int(head["year"])
        org = head["org"].strip() if head["org"] and head["org"].strip() else None
        summary = head["summary"]
    else:  # no (organisation, year): the title is the first sentence
        parts = SENTENCE_SPLIT_RE.split(rest, maxsplit=1)
        title, org, year = parts[0].strip(), None, None
        summary = parts[1] if len(parts) > 1 else ""
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

