"""The ingester: a Treatment Matrix cell page saved as text -> a :class:`ParsedCell`.

The text is what a PDF extraction of a cell page gives (see ``docs/corpus-format.md``): a header
(title line, "Column; Row" label, description), the study list, site chrome, then the commentary
("Matrix Bite") with inline headings, pull quotes, side panels and page-break cuts. The parser
undoes those artefacts and recovers which commentary sections each study's cross-reference
points to.

Rules it states rather than leaves to accident:

- the page's own title line names the cell; the file path is only a fallback, and a page and
  a path that disagree are an error;
- a block ending without terminal punctuation is continued by the next block that starts in
  lower case; blocks landing in between (at most :data:`MAX_PANEL_BLOCKS`) are a side panel;
- a study's sections come from the cross-reference wording when it names them, otherwise from
  back-references ("listed above") in the commentary, matched to studies by rare shared words.
"""

from __future__ import annotations

import errno
import math
import os
import re
import stat
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evsearch._sanitize import strip_controls
from evsearch.analysis import stem
from evsearch.errors import CorpusError, IngestError
from evsearch.model import STUDY_TYPES, Cell, ParsedCell, Passage, PassageRole, Study

__all__ = ["Discovery", "discover", "discover_cell_files", "parse_cell_text", "read_cell_file"]

#: File suffixes that may hold a cell page.
CELL_SUFFIXES: tuple[str, ...] = (".txt", ".htm", ".html")

#: How many blocks a side panel may span inside a cut sentence.
MAX_PANEL_BLOCKS = 6

#: The largest cell file read, in bytes (checked before reading): a real cell page is
#: tens of kilobytes as text, a few hundred as HTML.
MAX_CELL_FILE_BYTES = 2 * 1024 * 1024

#: Back-references ("listed above") matched against the study list per cell: the matching
#: costs studies x sentences, and a real cell has a handful.
MAX_BACKREF_SENTENCES = 200

#: Page-break cuts are not rejoined onto a paragraph already this long (real paragraphs are
#: a few thousand characters), so rejoining stays linear in the size of the file.
MAX_PARAGRAPH_CHARS = 20_000

#: The section of commentary paragraphs that come before any heading.
DEFAULT_SECTION = "Matrix Bite"

_MATRIX_NAMES = {"alcohol": "alcohol", "drug": "drug", "drugs": "drug"}
_MATRIX_TITLES = {"alcohol": "Alcohol", "drug": "Drug"}

_TITLE_RE = re.compile(
    r"^(?P<matrix>Alcohol|Drugs?) Treatment Matrix cell (?P<code>[A-E][1-5])\b"
    r"(?:\s*[:\-–]\s*(?P<label>.+))?$",
    re.IGNORECASE,
)
_CODE_RE = re.compile(r"^[A-Ea-e][1-5]$")
_PATH_NAME_RE = re.compile(r"^(?P<matrix>alcohol|drugs?)[\s_\-]+(?P<code>[A-E][1-5])$", re.I)

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
_LINKS_LINE_RE = re.compile(r"^Links to other documents\b", re.IGNORECASE)
_STUDY_RE = re.compile(r"^(?P<types>(?:[SKRG] )+)(?P<rest>\S.*)$")
_MORE_RE = re.compile(r"^MORE\b")
_STUDY_HEAD_RE = re.compile(
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
_BACKREF_RE = re.compile(r"\b(?:listed|described) above\b", re.IGNORECASE)
_POINTER_RE = re.compile(
    r"(?:\b[\w'-]+\s+){0,2}(?:listed\s+|described\s+)?\b(?:above|below)\b", re.IGNORECASE
)
_BACKREF_NOUN_RE = re.compile(
    r"\b(?P<noun>[A-Za-z]+)\W{0,3}(?:listed|described) above\b", re.IGNORECASE
)
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.?!])[\"'”’)\]]*\s+(?=[\"'“‘(]?[A-Z])")
_BULLETS = "►▶▸▪•‣"
_TERMINAL = ".?!:;…"
_CLOSERS = "\"'”’)]*"
_DROP_CHARS = {"\ufe0e", "\ufe0f", "\u200b", "\u200c", "\u200d"}

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

_STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers him his how i if in into is it its
    itself just may might more most much must my no nor not now of off on once only or other
    our ours out over own same she should so some such than that the their theirs them then
    there these they this those through to too under until up us very was we were what when
    where which while who whom why will with would you your yours listed described click
    scroll highlighted heading headings discussion discussions see associated""".split()
)


# --------------------------------------------------------------------------- public API


def parse_cell_text(text: str, *, matrix: str | None = None, code: str | None = None) -> ParsedCell:
    """Parse the text of one cell page; ``matrix``/``code`` are fallbacks from the file path.

    >>> parsed = parse_cell_text(Path("corpus/alcohol/B5.txt").read_text())  # doctest: +SKIP
    >>> parsed.cell.key, len(parsed.studies)  # doctest: +SKIP
    ('alcohol/B5', 9)
    """
    blocks = _blocks(text)
    header = _parse_header(blocks, matrix=matrix, code=code)
    key = f"{header.matrix}/{header.code}"
    raw_studies, commentary = _split_studies(blocks[header.next_index :])
    if header.title_index is None and not raw_studies:
        raise IngestError(
            f"no cell title line and no study list found for {key}",
            "a cell page starts with a line like 'Alcohol Treatment Matrix cell B5'",
        )
    passages, headings = _parse_commentary(commentary)
    drafts = [_parse_study(raw) for raw in raw_studies]
    sections = _resolve_sections(drafts, passages, headings)
    return _assemble(header.matrix, header.code, header.label, header.description, drafts, sections, passages)


def _assemble(
    matrix: str,
    code: str,
    label: str,
    description: str,
    drafts: Sequence[_StudyDraft],
    sections: Sequence[tuple[str, ...]],
    passages: Sequence[_Draft],
) -> ParsedCell:
    """Number the studies and passages of a cell (shared by the text and HTML ingesters)."""
    key = f"{matrix}/{code}"
    cell = Cell(
        matrix=matrix,
        code=code,
        label=label,
        description=description,
        title=f"{_MATRIX_TITLES[matrix]} Treatment Matrix cell {code}",
    )
    studies = tuple(
        Study(
            id=f"{key}/s{i}",
            cell=key,
            order=i,
            types=d.types,
            title=d.title,
            organisation=d.organisation,
            year=d.year,
            summary=d.summary,
            sections=sections[i - 1],
        )
        for i, d in enumerate(drafts, start=1)
    )
    rows: list[tuple[str, PassageRole, str]] = []
    if description:
        rows.append((label, "description", description))
    rows.extend((p.section, p.role, p.text) for p in passages)
    out = tuple(
        Passage(id=f"{key}/p{i}", cell=key, order=i, section=s, role=r, text=t)
        for i, (s, r, t) in enumerate(rows, start=1)
    )
    return ParsedCell(cell=cell, studies=studies, passages=out)


def read_cell_file(path: Path, *, root: Path | None = None) -> ParsedCell:
    """Read one cell file: ``.txt`` is the text form, ``.htm``/``.html`` the published page.

    The path (``alcohol/B5.txt``, ``Drugs/E1.htm``, ``drug-E1.txt``) is a fallback for the
    cell's matrix and code; ``root`` is the corpus directory: only the part of ``path`` below
    it is used. An HTML page that is not a cell becomes a ``page/<slug>`` document (see
    :func:`evsearch.ingest_html.parse_cell_html`).

    >>> read_cell_file(Path("corpus/alcohol/B5.txt")).cell.key  # doctest: +SKIP
    'alcohol/B5'
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in CELL_SUFFIXES:
        raise IngestError(
            f"{path}: cell files are .txt, .htm or .html, not {path.suffix or 'no suffix'!r}",
            "save the cell page as HTML (.htm) or as text (.txt)",
        )
    try:
        data = _read_limited(path)
    except OSError as exc:
        raise IngestError(
            f"cannot read {path}: {exc.strerror or exc}", "check the file exists and is readable"
        ) from exc
    matrix, code = _guess_from_path(path, root)
    try:
        if suffix == ".txt":
            return parse_cell_text(_decode(data), matrix=matrix, code=code)
        from evsearch.ingest_html import parse_cell_html

        return parse_cell_html(data, matrix=matrix, code=code, name=_page_name(path, root))
    except IngestError as exc:
        raise IngestError(f"{path}: {exc.message}", exc.hint) from exc
    except (RecursionError, MemoryError, ValueError, LookupError, ArithmeticError) as exc:
        # a parser bug must cost one file, not the whole index
        raise IngestError(
            f"{path}: cannot be parsed ({type(exc).__name__})",
            "this is a bug in evsearch; please report it with the file",
        ) from exc


@dataclass(frozen=True)
class Discovery:
    """The cell files under a corpus directory, and the paths that could not be looked at.

    ``unreadable`` maps a path relative to the corpus (a folder, or a file that is a
    symlink loop or has a name that is not UTF-8) to the reason: those are reported and
    skipped, and an index keeps the documents it holds from under them."""

    paths: list[Path]
    unreadable: dict[str, str]

    def hides(self, rel: str) -> bool:
        """Whether the file ``rel`` (recorded earlier) may exist behind an unreadable path."""
        return any(rel == bad or rel.startswith(bad + "/") for bad in self.unreadable)


def discover_cell_files(corpus_dir: Path) -> list[Path]:
    """Every ``.txt``/``.htm``/``.html`` file under ``corpus_dir``, sorted.

    Symlinks that resolve outside ``corpus_dir`` are skipped, so a corpus cannot pull in
    files from elsewhere.

    >>> discover_cell_files(Path("corpus"))  # doctest: +SKIP
    [PosixPath('corpus/alcohol/B5.txt')]
    """
    return discover(corpus_dir).paths


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def discover(corpus_dir: Path) -> Discovery:
    """The cell files under ``corpus_dir`` (see :func:`discover_cell_files`), with the folders
    and files that cannot be read instead of silently leaving them out."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.exists():
        raise CorpusError(f"corpus directory {corpus_dir} does not exist")
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus path {corpus_dir} is not a directory")
    if not os.access(corpus_dir, os.R_OK | os.X_OK):
        raise CorpusError(f"corpus directory {corpus_dir} is not readable", "check its permissions")
    root = corpus_dir.resolve()
    found: list[Path] = []
    errors: list[OSError] = []
    unreadable: dict[str, str] = {}

    def rel(path: Path | str) -> str:
        return Path(path).relative_to(corpus_dir).as_posix()

    for dirpath, dirnames, filenames in os.walk(corpus_dir, onerror=errors.append):
        dirnames.sort()
        for name in filenames:
            path = Path(dirpath) / name
            if path.suffix.lower() not in CELL_SUFFIXES:
                continue
            if not _utf8(rel(path)):
                unreadable[rel(path)] = "its name is not valid UTF-8; rename it"
                continue
            try:
                resolved = path.resolve(strict=True)
            except FileNotFoundError:
                continue  # a dangling symlink: nothing to index
            except (OSError, RuntimeError) as exc:  # a symlink loop (RuntimeError before 3.13)
                looped = isinstance(exc, RuntimeError) or exc.errno == errno.ELOOP
                why = "symlink loop" if looped else (getattr(exc, "strerror", None) or str(exc))
                unreadable[rel(path)] = f"cannot read it ({why})"
                continue
            if resolved.is_relative_to(root) and resolved.is_file():
                found.append(path)
    for exc in errors:
        if exc.filename is None:
            continue
        if Path(exc.filename) == corpus_dir:
            raise CorpusError(f"cannot read corpus directory {corpus_dir}", "check its permissions")
        unreadable[rel(exc.filename)] = f"cannot read this folder ({exc.strerror or exc})"
    return Discovery(sorted(found), dict(sorted(unreadable.items())))


# --------------------------------------------------------------------------- text helpers


@dataclass
class _Block:
    """A run of non-blank lines, cleaned to one line of text."""

    text: str
    bulleted: bool = False
    scrap: bool = False  # tab-split sidebar fragment


def _clean(text: str) -> str:
    """Drop decorative symbols, terminal escapes and control characters; normalise whitespace
    (markup stays)."""
    kept = []
    for ch in strip_controls(text):
        if ch in _DROP_CHARS or unicodedata.category(ch) in ("So", "Cs", "Co"):
            continue
        kept.append(ch)
    return " ".join("".join(kept).split())


def _strip_markup(text: str) -> str:
    """``<u>listed above</u>`` -> ``listed above``, ``*formal*`` -> ``formal``."""
    for pattern, repl in _MARKUP_RES:
        text = pattern.sub(repl, text)
    return " ".join(text.split())


def _blocks(text: str) -> list[_Block]:
    """Split into blank-line separated blocks, cleaned, markup stripped, chrome dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    out: list[_Block] = []
    for raw in re.split(r"\n[ \t\u00a0]*\n", text):
        stripped = raw.strip()
        bulleted = bool(stripped) and stripped[0] in _BULLETS
        cleaned = _strip_markup(_clean(raw))
        if not cleaned:
            continue
        out.append(_Block(cleaned, bulleted, scrap="\t" in raw and len(cleaned) < 60))
    return [b for b in out if not _is_chrome(b.text)]


def _is_chrome(text: str) -> bool:
    """Site chrome. The "Links to other documents" line is chrome too, but is kept until
    :func:`_split_studies` has used it to find where the commentary starts."""
    return any(p.search(text) for p in _CHROME_RES)


def _is_scrap(block: _Block) -> bool:
    """A clipped sidebar fragment: tab-split, or short with no sentence in it."""
    if block.scrap:
        return True
    text = block.text
    words = text.split()
    return len(words) < 6 and not _ends_terminal(text) and not text.endswith("?")


def _ends_terminal(text: str) -> bool:
    """Whether ``text`` ends a sentence (closing quotes and brackets looked through)."""
    stripped = text.rstrip().rstrip(_CLOSERS)
    return bool(stripped) and stripped[-1] in _TERMINAL


def _starts_lower(text: str) -> bool:
    return bool(text) and text[0].islower()


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z]+", text.lower()) if w not in _STOPWORDS]


def _terms(text: str) -> set[str]:
    return {stem(w) for w in _words(text) if len(w) > 1}


# --------------------------------------------------------------------------- header


@dataclass
class _Header:
    matrix: str
    code: str
    label: str
    description: str
    title_index: int | None
    next_index: int


def _parse_header(blocks: list[_Block], *, matrix: str | None, code: str | None) -> _Header:
    fb_matrix, fb_code = _fallback_identity(matrix, code)
    title_index = None
    page_matrix = page_code = inline_label = None
    for i, block in enumerate(blocks[:12]):
        m = _TITLE_RE.match(block.text)
        if m:
            title_index = i
            page_matrix = _MATRIX_NAMES[m["matrix"].lower()]
            page_code = m["code"].upper()
            inline_label = m["label"]
            break
    final_matrix, final_code = _cell_identity(page_matrix, page_code, fb_matrix, fb_code)
    i = 0 if title_index is None else title_index + 1
    label = inline_label or ""
    if not label and i < len(blocks) and _looks_like_label(blocks[i].text):
        label = blocks[i].text
        i += 1
    description = ""
    if (
        i < len(blocks)
        and not _STUDY_RE.match(blocks[i].text)
        and not _LINKS_LINE_RE.match(blocks[i].text)
        and _ends_terminal(blocks[i].text)
    ):
        description = blocks[i].text
        i += 1
    return _Header(final_matrix, final_code, label, description, title_index, i)


def _fallback_identity(matrix: str | None, code: str | None) -> tuple[str | None, str | None]:
    """The fallback ``(matrix, code)`` normalised: ``("Drugs", "e1")`` -> ``("drug", "E1")``."""
    fb_matrix = _MATRIX_NAMES.get(matrix.lower()) if matrix else None
    if matrix and fb_matrix is None:
        raise IngestError(f"unknown matrix {matrix!r}", "the matrices are 'alcohol' and 'drug'")
    return fb_matrix, code.upper() if code else None


def _cell_identity(
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


def _looks_like_label(text: str) -> bool:
    return ";" in text and len(text.split()) <= 14 and not _ends_terminal(text)


# --------------------------------------------------------------------------- studies


@dataclass
class _StudyDraft:
    types: tuple[str, ...]
    title: str
    organisation: str | None
    year: int | None
    summary: str
    links: int = 0  # how many links its cross-reference sentence had
    named_sections: tuple[str, ...] = ()
    match_text: str = ""


def _split_studies(blocks: list[_Block]) -> tuple[list[str], list[_Block]]:
    """Study lines, and the commentary blocks after the chrome that follows them."""
    studies: list[str] = []
    i = 0
    while i < len(blocks):
        text = blocks[i].text
        if _MORE_RE.match(text):
            i += 1
            break
        m = _STUDY_RE.match(text)
        if not m:
            if studies or not _LINKS_LINE_RE.match(text):
                break
            i += 1  # the legend's "Links to other documents" tail before the list
            continue
        # a study line cut by a page break continues in a lower-case block
        while (
            not _ends_terminal(text)
            and i + 1 < len(blocks)
            and _starts_lower(blocks[i + 1].text)
            and len(text) <= MAX_PARAGRAPH_CHARS
        ):
            i += 1
            text = f"{text} {blocks[i].text}"
        studies.append(text)
        i += 1
    rest = blocks[i:]
    # The commentary starts after the last "Links to other documents" line, when there is one;
    # otherwise after the run of clipped sidebar scraps.
    marks = [j for j, b in enumerate(rest) if _LINKS_LINE_RE.match(b.text)]
    if marks:
        rest = rest[marks[-1] + 1 :]
    else:
        skip = 0
        while skip < len(rest) and _is_scrap(rest[skip]):
            skip += 1
        rest = rest[skip:]
    return studies, [b for b in rest if not _LINKS_LINE_RE.match(b.text)]


def _parse_study(line: str) -> _StudyDraft:
    m = _STUDY_RE.match(line)
    assert m is not None
    types = tuple(t for t in m["types"].split() if t in STUDY_TYPES)
    rest = m["rest"]
    head = _STUDY_HEAD_RE.match(rest)
    if head:
        title, year = head["title"].strip(), int(head["year"])
        org = head["org"].strip() if head["org"] and head["org"].strip() else None
        summary = head["summary"]
    else:  # no (organisation, year): the title is the first sentence
        parts = _SENTENCE_SPLIT_RE.split(rest, maxsplit=1)
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
    return _StudyDraft(
        types=types,
        title=title,
        organisation=org,
        year=year,
        summary=summary,
        links=links if not named else max(links, len(named)),
        named_sections=tuple(named),
        match_text=match_text,
    )


# --------------------------------------------------------------------------- commentary


@dataclass
class _Item:
    """One piece of commentary before passages are numbered."""

    kind: str  # "heading", "paragraph", "quote", "panel", "panel-heading"
    text: str
    bulleted: bool = False
    extra: list[_Item] = field(default_factory=list)


@dataclass
class _Draft:
    section: str
    role: PassageRole
    text: str


def _rejoin(blocks: Sequence[_Block]) -> list[_Item]:
    """Undo page-break cuts, lifting side panels and pull quotes out of the sentences they cut.

    A block starting in lower case continues the nearest earlier paragraph cut mid-sentence
    (at most :data:`MAX_PANEL_BLOCKS` blocks back); the blocks in between landed inside the
    sentence: one unpunctuated line is a pull quote, more are a side panel with its heading.
    """
    out: list[_Item] = []
    for block in blocks:
        item = _Item("paragraph", block.text, block.bulleted)
        back = _cut_target(out) if _starts_lower(block.text) and not block.bulleted else None
        if back is not None and len(out[-back].text) > MAX_PARAGRAPH_CHARS:
            back = None
        if back is None:
            out.append(item)
            continue
        target, between = out[-back], out[len(out) - back + 1 :]
        del out[len(out) - back + 1 :]
        target.text = f"{target.text} {item.text}"
        if len(between) == 1 and not _ends_terminal(between[0].text):
            target.extra.append(_Item("quote", between[0].text))
        elif between:
            heading = None if _ends_terminal(between[0].text) else between[0].text
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
    if items and not _ends_terminal(items[-1].text):
        return 1
    return None


def _is_cut_paragraph(text: str) -> bool:
    """A paragraph (not a heading or pull-quote line) that stops mid-sentence.

    Headings and pull quotes also lack terminal punctuation, but they do not end on a
    function word ("... at the"), leave a bracket open, or hold a finished sentence.
    """
    if len(text) > MAX_PARAGRAPH_CHARS or _ends_terminal(text) or len(text.split()) < 4:
        return False
    last = re.findall(r"[A-Za-z']+", text[-200:])[-1:] or [""]
    return (
        last[0].lower() in _STOPWORDS
        or text.count("(") > text.count(")")
        or (len(text.split()) >= 8 and bool(re.search(r"[.?!;:]\s", text)))
    )


def _parse_commentary(blocks: Sequence[_Block]) -> tuple[list[_Draft], list[str]]:
    """Passages in reading order, and every section heading (empty ones too)."""
    items = _rejoin(blocks)
    headings: list[str] = []
    texts = [it.text for it in items]
    drafts: list[_Draft] = []
    section = DEFAULT_SECTION
    for n, item in enumerate(items):
        text = item.text
        neighbours = " ".join(texts[max(0, n - 3) : n + 4])
        heading, body = _split_heading(text, bulleted=item.bulleted, context=neighbours)
        if heading is not None:
            section = heading
            headings.append(heading)
            if not body:
                continue
            text = body
        elif _is_line_quote(text, neighbours):
            drafts.append(_Draft(section, "quote", text))
            continue
        quote, rest = _split_glued_quote(text, neighbours)
        if quote:
            drafts.append(_Draft(section, "quote", quote))
            text = rest
        drafts.append(_Draft(section, "paragraph", text))
        panel_section = section
        for extra in item.extra:
            if extra.kind == "panel-heading":
                panel_section = extra.text
            elif extra.kind == "quote":
                drafts.append(_Draft(section, "quote", extra.text))
            else:
                drafts.append(_Draft(panel_section, "panel", extra.text))
    return drafts, headings


def _split_heading(text: str, *, bulleted: bool, context: str) -> tuple[str | None, str]:
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
            return (text, "") if not _ends_terminal(text) else (None, text)
        return text[:split].strip(), text[split:].strip()
    if not _ends_terminal(text) and len(text.split()) <= 7 and not _is_line_quote(text, context):
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
    words = _terms(text)
    if not words:
        return 0.0
    return len(words & _terms(context)) / len(words)


def _is_line_quote(text: str, context: str) -> bool:
    """A pull quote on a line of its own: no terminal punctuation, and echoed nearby."""
    if _ends_terminal(text) or text.endswith("?"):
        return False
    n_words = len(text.split())
    if n_words >= 8:
        return True
    rest = context.replace(text, " ")
    return len(_terms(text)) >= 4 and _echo(text, rest) >= 0.6


def _split_glued_quote(text: str, context: str) -> tuple[str | None, str]:
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


# --------------------------------------------------------------------------- sections


def _resolve_sections(
    drafts: Sequence[_StudyDraft], passages: Sequence[_Draft], headings: Sequence[str]
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
    return [tuple(_unique(t)[: d.links]) for t, d in zip(targets, drafts, strict=True)]


def _backreferences(
    drafts: Sequence[_StudyDraft], passages: Sequence[_Draft]
) -> list[tuple[str, int]]:
    """``(section, study index)`` for each sentence pointing back at the study list."""
    bags = [_terms(d.match_text) for d in drafts]
    df = Counter(t for bag in bags for t in bag)
    n = len(drafts)
    idf = {t: math.log(n / c) for t, c in df.items()}
    found: list[tuple[str, int]] = []
    seen = 0
    for p in passages:
        if p.role not in ("paragraph", "panel"):
            continue
        for sentence in _SENTENCE_SPLIT_RE.split(p.text):
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
    drafts: Sequence[_StudyDraft],
    bags: Sequence[set[str]],
    idf: dict[str, float],
) -> int | None:
    terms = _terms(sentence)
    nouns = {m["noun"].lower() for m in _BACKREF_NOUN_RE.finditer(sentence)}
    wanted = set().union(*(_NOUN_TYPES.get(noun, set()) for noun in nouns))
    scores = []
    for d, bag in zip(drafts, bags, strict=True):
        score = sum(idf[t] for t in terms & bag)
        if wanted & set(d.types):
            score += _NOUN_TYPE_BONUS
        scores.append(score)
    ranked = sorted(range(len(scores)), key=lambda k: -scores[k])
    if not ranked or scores[ranked[0]] < 1.0:
        return None
    if len(ranked) > 1 and scores[ranked[1]] == scores[ranked[0]]:
        return None
    return ranked[0]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# --------------------------------------------------------------------------- files


def _read_limited(path: Path) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_CELL_FILE_BYTES`, checked before
    reading it whole (a FIFO or device is refused rather than read)."""
    st = os.stat(path)  # before opening: opening a FIFO would block
    if not stat.S_ISREG(st.st_mode):
        raise IngestError(f"{path} is not a regular file", "cell files are ordinary files")
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        if st.st_size > MAX_CELL_FILE_BYTES:
            raise IngestError(
                f"{path} is {st.st_size:,} bytes; the limit for a cell file is "
                f"{MAX_CELL_FILE_BYTES:,} bytes",
                "a cell page is far smaller: check this is the right file",
            )
        data = fh.read(MAX_CELL_FILE_BYTES + 1)
    if len(data) > MAX_CELL_FILE_BYTES:  # it grew while we looked
        raise IngestError(
            f"{path} is over the {MAX_CELL_FILE_BYTES:,}-byte limit for a cell file",
            "a cell page is far smaller: check this is the right file",
        )
    return data


def _decode(data: bytes) -> str:
    """UTF-8 (BOM or not), UTF-16 with a BOM, else cp1252, else latin-1: never fails
    (truncated UTF-16 ends in U+FFFD)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _page_name(path: Path, root: Path | None) -> str:
    """The path below ``root`` without its suffix: ``pages/hot-topic.htm`` -> ``pages/hot-topic``."""
    rel = path
    if root is not None:
        try:
            rel = path.resolve().relative_to(Path(root).resolve())
        except ValueError:
            pass
    return rel.with_suffix("").as_posix() if root is not None else path.stem


def _guess_from_path(path: Path, root: Path | None) -> tuple[str | None, str | None]:
    """``(matrix, code)`` from ``alcohol/B5.txt``, ``Drugs/E1.txt`` or ``alcohol-B5.txt``."""
    parts = path.parts
    if root is not None:
        try:
            parts = path.resolve().relative_to(Path(root).resolve()).parts
        except ValueError:
            pass
    stem = path.stem
    m = _PATH_NAME_RE.match(stem)
    if m:
        return _MATRIX_NAMES[m["matrix"].lower()], m["code"].upper()
    code = stem.upper() if _CODE_RE.match(stem) else None
    parent = parts[-2].lower() if len(parts) >= 2 else ""
    return _MATRIX_NAMES.get(parent), code
