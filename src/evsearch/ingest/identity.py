"""Which cell a file holds: from what its text says, else from its path.

The text names a cell in a title line, wherever it sits: ``Alcohol Treatment Matrix cell B5:
Practitioners; Safeguarding the community``, ``Alcohol Matrix cell A1: ...``, ``Effectiveness
Bank Alcohol Treatment Matrix cell D2``, ``... cell A2 Matrix cell logo``, a repository record's
``Home > Drug treatment matrix cell B1: practitioners - reducing harm.`` and citation line,
``PDF (Alcohol Matrix cell B5)``, or ``What is (this) cell B1 about?`` (the code only). The
path names one as ``alcohol/B5.txt``, ``Matrix/Drugs/E1.htm`` or ``drug-E1.txt``.

The rule: the text's cell wins; the path fills in what the text does not say (a matrix for
``What is cell B1 about?``, or the whole cell for a browser copy without a title line); when
both name a cell and disagree, the file is indexed under the text's cell and a note says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from evsearch.errors import IngestError
from evsearch.ingest.grammar import ends_terminal

MATRIX_NAMES = {"alcohol": "alcohol", "drug": "drug", "drugs": "drug"}
MATRIX_TITLES = {"alcohol": "Alcohol", "drug": "Drug"}

#: Columns of the two matrices as the site versions name them (the drug matrix calls E "Local
#: and national systems", other versions "Treatment organisations/services" for D and
#: "Local/national (commissioning/policy)" for E): a label is ``Column; Row`` (or ``Column: Row``,
#: ``Column - Row``) in any case.
_COLUMNS = (
    r"interventions?|practitioners?|management\s*/\s*supervision|management|supervision"
    r"|organi[sz]ational functioning|treatment systems?|local and national systems?"
)
#: Column names that are also common words: only before ``;``, ``:`` or a dash.
_WORD_COLUMNS = (
    r"(?:treatment\s+)?(?:organi[sz]ations?|services)(?:\s*/\s*(?:organi[sz]ations?|services))?"
    r"|local\s*(?:/|and)\s*national(?:\s+systems?)?(?:\s*\([^()]{0,40}\))?"
    r"|commissioning(?:\s*(?:/|and)\s*policy)?|policy"
)
_LABEL_RE = re.compile(
    rf"^(?:(?:{_COLUMNS})\s*(?:;|:|,|\s[-–—]\s)|(?:{_WORD_COLUMNS})\s*(?:;|:|\s[-–—]\s))\s*\S.{{0,150}}$",
    re.IGNORECASE,
)

# What may come before a cell reference at the start of a title line.
_REF_PREFIX_RE = re.compile(
    r"^(?:(?:home|you are here:?)\s*(?:/|\|)\s*"  # a breadcrumb: "Home > ...", "Home > Matrices > ..."
    r"|(?:[^>›»]{0,60}[>›»]\s*){1,5}"
    r"|effectiveness bank:?\s+"
    r"|pdf\s*\(\s*"
    r"|[^()]{0,80}?\(\s*(?:19|20)\d\d[a-z]?\s*\)\.?\s+"  # a citation: "Findings. (2017) "
    r"|[^:|()]{1,40}[:|]\s*)?",  # a short lead: "Matrix Bite: ..."
    re.IGNORECASE,
)
_REF_RE = re.compile(
    r"(?P<matrix>alcohol|drugs?)\s+(?:treatment\s+)?matrix\W{0,3}cell[\s:]{1,3}(?P<code>[A-Ea-e][1-5])\b"
    r"(?P<tail>.{0,300})$",
    re.IGNORECASE | re.DOTALL,
)
_ABOUT_RE = re.compile(r"^What is (?:this )?cell (?P<code>[A-Ea-e][1-5]) about\?", re.IGNORECASE)
_LOGO_TAIL_RE = re.compile(r"\s*\bMatrix cell logo\b.*$", re.IGNORECASE | re.DOTALL)


# What a repository record (drugsandalcohol.ie) and a Matrix Bite e-mail say about themselves.
RECORD_RE = re.compile(
    r"^(?:(?:home|you are here:?)\s*[>›»]|external website:|official url:|item type:"
    r"|what is (?:this )?cell [A-E][1-5] about\?"
    r"|[^()]{0,80}\(\s*(?:19|20)\d\d[a-z]?\s*\)\.?\s+(?:alcohol|drugs?)\s+(?:treatment\s+)?matrix)",
    re.IGNORECASE,
)
EMAIL_RE = re.compile(
    r"^(?:view (?:the )?cell and (?:the )?bite|click (?:the )?button below|unsubscribe\b|subject:|from:.*@"
    r"|.*\b(?:view this e-?mail in (?:your|a) browser|you are receiving this (?:e-?mail|because))\b)",
    re.IGNORECASE,
)

@dataclass(frozen=True)
class CellRef:
    """A cell named by one line of the text."""

    matrix: str | None  # None for "What is cell B1 about?"
    code: str
    label: str | None
    heading: bool = False  # the line is also a section heading ("What is cell B5 about?")
    weak: bool = False  # named inside a line, not as its title: used when nothing else names one


def find_cell_ref(text: str) -> CellRef | None:
    """The cell a title-like line names, else None (prose that mentions a cell is not a title).

    >>> find_cell_ref("Home > Drug treatment matrix cell B1: practitioners - reducing harm.")
    CellRef(matrix='drug', code='B1', label='practitioners - reducing harm', heading=False, weak=False)
    >>> find_cell_ref("we learnt from cell A4 that") is None
    True
    """
    if len(text.split()) > 45:
        return None
    about = _ABOUT_RE.match(text)
    if about:
        return CellRef(None, about["code"].upper(), None, heading=True)
    prefix = _REF_PREFIX_RE.match(text)
    m = _REF_RE.match(text[prefix.end() if prefix else 0 :]) or _REF_RE.match(text)
    if not m:
        return None
    return CellRef(MATRIX_NAMES[m["matrix"].lower()], m["code"].upper(), _label_of(m["tail"]))


def find_mention(text: str) -> CellRef | None:
    """A cell named inside a short line (``Read the Drug Treatment Matrix cell A2 bite``): the
    text's cell only when no title line and no path names one."""
    if len(text.split()) > 25:
        return None
    m = _REF_RE.search(text)
    return CellRef(MATRIX_NAMES[m["matrix"].lower()], m["code"].upper(), None, weak=True) if m else None


def _label_of(tail: str) -> str | None:
    """``: Practitioners; Safeguarding the community`` -> the label; ``Matrix cell logo`` -> None."""
    tail = _LOGO_TAIL_RE.sub("", tail)
    m = re.match(r"^\s*[:;\-–—|]\s*(?P<label>.+)$", tail, re.DOTALL)
    if not m:
        return None
    label = re.split(r"(?<=[a-z])\.\s+(?=[A-Z])|\s+\|\s+", m["label"], maxsplit=1)[0]
    label = label.strip().rstrip(".)").strip()
    return label or None


def is_label(text: str) -> bool:
    """A ``Column; Row`` label line: a known column first, or a short ``x; y`` line."""
    if len(text.split()) > 16 or ends_terminal(text.rstrip(".")) and not text.endswith("."):
        return False
    if is_column_label(text):
        return True
    return ";" in text and len(text.split()) <= 14 and not ends_terminal(text)


def is_column_label(text: str) -> bool:
    """A label that starts with one of the matrices' columns: ``Practitioners; ...``."""
    return len(text.split()) <= 16 and bool(_LABEL_RE.match(text.rstrip(".")))


looks_like_label = is_label


def fallback_identity(matrix: str | None, code: str | None) -> tuple[str | None, str | None]:
    """The path's ``(matrix, code)`` normalised: ``("Drugs", "e1")`` -> ``("drug", "E1")``."""
    fb_matrix = MATRIX_NAMES.get(matrix.lower()) if matrix else None
    if matrix and fb_matrix is None:
        raise IngestError(f"unknown matrix {matrix!r}", "the matrices are 'alcohol' and 'drug'")
    return fb_matrix, code.upper() if code else None


@dataclass(frozen=True)
class Identity:
    """The cell a file is indexed under, and a note when the text and the path disagree."""

    matrix: str | None
    code: str | None
    named_by_text: bool
    note: str | None = None

    @property
    def known(self) -> bool:
        return self.matrix is not None and self.code is not None


def resolve_identity(refs: list[CellRef], matrix: str | None, code: str | None) -> Identity:
    """The text's cell (its first title line), completed and else replaced by the path's; a
    cell merely mentioned in a short line counts only when neither names one."""
    fb_matrix, fb_code = fallback_identity(matrix, code)
    strong = [r for r in refs if not r.weak]
    if strong or (fb_matrix and fb_code):
        refs = strong
    full = next((r for r in refs if r.matrix), None)
    t_code = full.code if full else next((r.code for r in refs), None)
    t_matrix = full.matrix if full else None
    if t_code is None:
        return Identity(fb_matrix, fb_code, named_by_text=False)
    final = (t_matrix or fb_matrix, t_code)
    note = None
    path_says = (fb_matrix or final[0], fb_code or final[1])
    if (fb_matrix or fb_code) and path_says != final and final[0] is not None:
        note = (
            f"the text names cell {final[0]}/{final[1]} but the path says "
            f"{fb_matrix or '?'}/{fb_code or '?'}: indexed as {final[0]}/{final[1]}"
        )
    return Identity(final[0], final[1], named_by_text=True, note=note)


def cell_identity(
    page_matrix: str | None, page_code: str | None, fb_matrix: str | None, fb_code: str | None
) -> tuple[str, str, str | None]:
    """``(matrix, code, note)``: the page's own cell, else the path's (see the module's rule)."""
    refs = [CellRef(page_matrix, page_code, None)] if page_code else []
    ident = resolve_identity(refs, fb_matrix, fb_code)
    if ident.matrix is None or ident.code is None:
        raise IngestError(
            "cannot tell which cell this is: no 'Alcohol/Drug Treatment Matrix cell XN' title "
            "line, and no matrix and code from the file path",
            "name the file like alcohol/B5.txt or drug-E1.txt",
        )
    return ident.matrix, ident.code, ident.note
