"""The text reader: a cell page as text (saved from a browser, copied, extracted from its PDF),
a repository record or a Matrix Bite e-mail -> a :class:`ParsedCell`.

It reads by content, not position. The text is cut into units (lines, or the blank-line
separated blocks of hard-wrapped text); each unit is classified by what it is, wherever it
sits: a cell title, the ``Column; Row`` label, chrome (``data/chrome.txt``), a study line
(type codes, a title and a parenthesis with a year), a line of type codes only (it belongs to
the study below it), ``MORE``, or prose. Then the parts are assembled:

- the studies are every study line, in order (a study line is never a passage);
- the description is the first paragraph of prose before the first study;
- the commentary is the prose after the study list (the clipped scraps that open it dropped),
  with any other prose before the list in front of it;
- what the file is: studies make it the cell page; a file that names a cell but has no
  study list is a repository record (``Home > ...``, a citation line, ``What is cell B5
  about?``) or a Matrix Bite e-mail, indexed as documents of that cell of kind ``record``;
  a file that names no cell and whose path names none is a page (``page/<slug>``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from evsearch.ingest.commentary import MAX_PANEL_BLOCKS, Block, parse_commentary, split_heading
from evsearch.ingest.documents import assemble, page_slug
from evsearch.ingest.grammar import (
    BULLETS,
    DEFAULT_SECTION,
    MAX_PARAGRAPH_CHARS,
    MORE_RE,
    clean,
    ends_terminal,
    is_chrome,
    is_study_line,
    is_type_only,
    parse_study,
    split_glued_studies,
    starts_lower,
    strip_chrome_prefix,
    strip_markup,
    study_parts,
)
from evsearch.ingest.identity import (
    EMAIL_RE,
    RECORD_RE,
    CellRef,
    find_cell_ref,
    find_mention,
    is_column_label,
    is_label,
    resolve_identity,
)
from evsearch.ingest.sections import resolve_sections
from evsearch.model import CellForm, ParsedCell

__all__ = ["MAX_PANEL_BLOCKS", "PAGE_MATRIX", "parse_cell_text"]

#: The ``matrix`` of a page that is not a Treatment Matrix cell (its key is ``page/<slug>``).
PAGE_MATRIX = "page"

_FORM_SECTIONS = {"record": "Repository record", "email": "Matrix Bite e-mail"}

#: Words that make a unit prose, not a scrap of chrome.
_PROSE_WORDS = 10

#: Quotes and brackets that may close a sentence.
_CLOSERS = "\"'”’)]*"


def parse_cell_text(
    text: str, *, matrix: str | None = None, code: str | None = None, name: str | None = None
) -> ParsedCell:
    """Read one text file; ``matrix``/``code`` come from its path, ``name`` names a page.

    >>> parsed = parse_cell_text(Path("corpus/alcohol/B5.txt").read_text())  # doctest: +SKIP
    >>> parsed.cell.key, len(parsed.studies)  # doctest: +SKIP
    ('alcohol/B5', 9)
    """
    reading = _read(units(text))
    ident = resolve_identity(reading.refs, matrix, code)
    if not ident.known and matrix is None and (named := _matrix_named(text)):
        # "What is cell B1 about?" and a path without a matrix: the matrix the text talks about
        ident = resolve_identity(reading.refs, named, code)
    notes = [ident.note] if ident.note else []
    form: CellForm
    if not ident.known:
        return _page(reading, name)
    if reading.email_marks and ident.named_by_text:
        form = "email"
    elif reading.studies or (ident.known and not ident.named_by_text):
        form = "cell"
    else:
        form = "record" if reading.record_marks else "email"
    assert ident.matrix is not None and ident.code is not None  # known
    default = DEFAULT_SECTION if form == "cell" else _FORM_SECTIONS[form]
    flow = reading.flow
    description = reading.description
    if form != "cell":  # a record's or e-mail's text is all its own documents
        flow = [*([Block(description)] if description else []), *reading.flow]
        description = ""
    passages, headings = parse_commentary(flow, default_section=default)
    drafts = [parse_study(raw) for raw in reading.studies]
    sections = resolve_sections(drafts, passages, headings)
    label = reading.label or next((r.label for r in reading.refs if r.label), None) or ""
    return assemble(
        ident.matrix, ident.code, label, description, drafts, sections, passages, form=form, notes=notes
    )


_MATRIX_NAMED_RE = re.compile(r"\b(alcohol|drugs?) (?:treatment )?matrix\b", re.IGNORECASE)


def _matrix_named(text: str) -> str | None:
    """The one matrix a text names (``The Drug Treatment Matrix is ...``), else None."""
    named = {m.lower().rstrip("s") for m in _MATRIX_NAMED_RE.findall(text[:200_000])}
    return named.pop() if len(named) == 1 else None


# --------------------------------------------------------------------------- units


def units(text: str) -> list[Block]:
    """The text as units, cleaned and markup stripped: each line, except that a blank-line
    separated block of hard-wrapped lines is one unit, and a tab-split sidebar scrap is one."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    out: list[Block] = []
    for raw in re.split(r"\n[ \t\u00a0]*\n", text):
        lines = [line for line in raw.split("\n") if line.strip()]
        if not lines:
            continue
        joined = " ".join(lines)
        if "\t" in raw and len(clean(joined)) < 60:
            pieces = [(joined, True)]
        elif len(lines) > 1 and _wrapped(lines):
            pieces = [(_join_wrapped([line.strip() for line in lines]), False)]
        else:
            pieces = [(line, False) for line in _unwrap(lines)]
        for piece, scrap in pieces:
            stripped = piece.strip()
            bulleted = bool(stripped) and stripped[0] in BULLETS
            cleaned = strip_markup(clean(piece))
            if bulleted:
                cleaned = cleaned.lstrip(BULLETS + " ")
            if cleaned:
                out.append(Block(cleaned, bulleted, scrap=scrap))
    return out


def _wrapped(lines: Sequence[str]) -> bool:
    """Hard-wrapped prose (a text browser's dump, a plain-text e-mail): every line but the last
    nearly as long as the longest, which is at most 110 characters; at least half of them not
    ending a sentence; and no line after the first a study line, bullet or title of its own."""
    if len(lines) < 2:
        return False
    stripped = [line.strip() for line in lines]
    width = max(len(line) for line in stripped)
    if not 40 <= width <= 110 or any(len(line) < 0.6 * width for line in stripped[:-1]):
        return False
    if not _continues_line(stripped[0], stripped[1]):
        return False
    open_ends = sum(_open_end(line) for line in stripped[:-1])
    starters = sum(_starts_unit(line) for line in stripped[1:])  # the first may start one
    return open_ends >= 0.5 * (len(lines) - 1) and starters == 0


def _unwrap(lines: Sequence[str]) -> list[str]:
    """The lines of a hard-wrapped block that also holds units of their own (a text browser's
    table of studies, a dump pasted without blank lines): a line that runs nearly to the wrap
    width without ending a sentence is continued by the next line, unless that starts a unit."""
    stripped = [line.strip() for line in lines]
    width = max(len(line) for line in stripped)
    if not 40 <= width <= 110:
        return list(lines)
    out: list[str] = []
    full = False  # the previous line ran to the width without ending a sentence
    for line in stripped:
        if out and full and not _starts_unit(line) and _continues_line(out[-1], line):
            out[-1] = _join_wrapped([out[-1], line])
        else:
            out.append(line)
        full = len(line) >= 0.75 * width and _open_end(line)
    return out


def _open_end(line: str) -> bool:
    """A wrapped line that does not end a paragraph: no full stop, question or exclamation mark
    at its end (a colon or semicolon may end a wrapped line mid-sentence)."""
    stripped = line.rstrip().rstrip(_CLOSERS)
    return not stripped or stripped[-1] not in ".?!…"


def _continues_line(line: str, nxt: str) -> bool:
    """Whether ``nxt`` may continue ``line``: a label, a cell's title line or a chrome line
    (``... Matrix cell logo``) is continued only when it is visibly unfinished (a colon, dash
    or comma at its end, or a next line that does not start with a capital)."""
    if not nxt[:1].isupper():
        return True
    if not (is_column_label(line) or find_cell_ref(line) or is_chrome(line, short=False)):
        return True
    return line.rstrip()[-1:] in ":;,-–—/&"


def _join_wrapped(lines: Sequence[str]) -> str:
    """Hard-wrapped lines as one: a line broken after a hyphen (``cross-`` / ``cutting``) joins
    without a space, as text browsers break only at the hyphens a word already has."""
    out = lines[0]
    for line in lines[1:]:
        glue = "" if re.search(r"[A-Za-z]-$", out) and line[:1].isalpha() else " "
        out = f"{out}{glue}{line}"
    return out


def _starts_unit(line: str) -> bool:
    """A line that is a unit of its own, never the middle of a wrapped paragraph."""
    return bool(
        study_parts(line) or is_type_only(line) or MORE_RE.match(line) or line[:1] in BULLETS
        or is_chrome(line) or find_cell_ref(line) or is_column_label(line)
    )


# --------------------------------------------------------------------------- classification


@dataclass
class _Reading:
    """What the units of one file were found to be."""

    refs: list[CellRef] = field(default_factory=list)
    label: str | None = None
    anchor: int = 0  # prose units before the cell's title or label line (a sidebar's)
    studies: list[str] = field(default_factory=list)
    before: list[Block] = field(default_factory=list)  # prose units before the first study
    after: list[Block] = field(default_factory=list)  # units after it (not studies)
    record_marks: int = 0
    email_marks: int = 0
    description: str = ""
    flow: list[Block] = field(default_factory=list)


def _mend(blocks: Sequence[Block]) -> list[Block]:
    """Undo what copying did to the study list: chrome glued in front of a study, two studies
    on one line, a study's head cut before its parenthesis (``K Hidden harm`` / ``(2003). ...``)."""
    out: list[Block] = []
    for block in blocks:
        text = strip_chrome_prefix(block.text)
        if out and _head_continues(out[-1].text, text):
            block = out.pop()
            text = f"{block.text} {text}"
        pieces = split_glued_studies(text) if study_parts(text) else [text]
        out.extend(Block(piece, block.bulleted, scrap=block.scrap) for piece in pieces)
    return out


def _head_continues(study: str, text: str) -> bool:
    """``text`` (a bracket first) finishes the head of a study line cut before its year (the
    title may end in a question or exclamation mark, not a full stop)."""
    if text[:1] != "(" or study.rstrip().rstrip(_CLOSERS).endswith((".", ";", ":", "…")):
        return False  # "... out?" may end a title
    parts = study_parts(study)
    joined = study_parts(f"{study} {text}")
    if parts is None or joined is None or joined[1] is None:
        return False
    # no head yet, or one that a year in the title made ("Project MATCH (1997): matching ...")
    return parts[1] is None or len(joined[1]["title"]) > len(parts[1]["title"])


def _read(blocks: Sequence[Block]) -> _Reading:
    r = _Reading()
    blocks = _mend(blocks)
    prefix = ""  # a line of type codes waiting for its study
    in_list = False  # the previous unit was a study
    for block in blocks:
        text = block.text
        r.record_marks += bool(RECORD_RE.match(text))
        r.email_marks += bool(EMAIL_RE.match(text))
        if is_type_only(text):
            prefix = f"{prefix} {text}".strip()
            continue
        if prefix:
            candidate, prefix = f"{prefix} {text}", ""
            # (not the legend's "S" / "Seminal studies")
            if study_parts(candidate) and not is_chrome(candidate):
                r.studies.append(candidate)
                in_list = True
                continue
        if is_study_line(text):
            r.studies.append(text)
            in_list = True
            continue
        if MORE_RE.match(text):
            in_list = False
            continue
        ref = find_cell_ref(text)
        if ref is not None:
            r.refs.append(ref)
            if ref.heading:  # "What is cell B5 about?" heads the text that follows
                _keep(r, Block(text, block.bulleted))
            elif not r.studies:
                r.anchor = len(r.before)
            continue
        if block.scrap or is_chrome(text):
            continue
        mention = find_mention(text)
        if mention is not None:
            r.refs.append(mention)
        if r.label is None and not r.studies and is_label(text):
            r.label = text.rstrip(".").strip()
            r.anchor = len(r.before)
            continue
        if in_list and _continues_study(r.studies[-1], text):
            r.studies[-1] = f"{r.studies[-1]} {text}"
            continue
        if (in_list or not r.studies) and study_parts(text) and len(text.split()) >= 4:
            r.studies.append(text)  # a study line without a year: in the list, or leading it
            in_list = True
            continue
        in_list = False
        _keep(r, block)
    _arrange(r)
    return r


def _keep(r: _Reading, block: Block) -> None:
    (r.after if r.studies else r.before).append(block)


def _continues_study(study: str, text: str) -> bool:
    """A study line cut by a page break, or a summary on a line of its own."""
    if len(study) > MAX_PARAGRAPH_CHARS:
        return False
    if not ends_terminal(study) and starts_lower(text):
        return True
    if _head_continues(study, text):  # "K" / "Hidden harm" / "(2003). ..."
        return True
    parts = study_parts(study)
    head = parts[1] if parts else None
    if not (head and not head["summary"].strip() and ends_terminal(text) and len(text.split()) >= 5):
        return False
    return split_heading(text, bulleted=False, context="")[0] is None  # not the commentary's start


def _is_description(block: Block) -> bool:
    """A cell's description: a sentence or more (sidebar lines are links and logos)."""
    return len(block.text.split()) >= 4 and ends_terminal(block.text) and not block.bulleted


def _is_prose(block: Block) -> bool:
    """A paragraph: sentences, not a line of links or logos."""
    return len(block.text.split()) >= _PROSE_WORDS and ends_terminal(block.text)


def _arrange(r: _Reading) -> None:
    """The description (the first prose before the list, after the cell's title or label line
    when there is one there: a sidebar's sentences come before them) and the flow of the
    commentary."""
    before = list(r.before)
    if r.studies:
        found = [i for i, b in enumerate(before) if _is_description(b)]
        desc = next((i for i in found if i >= r.anchor), found[0] if found else None)
        if desc is not None:
            r.description = before.pop(desc).text
            before = before[desc:]
        before = [b for b in before if _is_prose(b)]  # sidebar scraps ahead of the list go
        after = list(r.after)
        skip = 0
        while skip < len(after) and _is_scrap(after[skip]) and not _heads(after, skip):
            skip += 1
        r.flow = before + after[skip:]
    else:
        r.flow = before + r.after


def _heads(blocks: Sequence[Block], i: int) -> bool:
    """A short line that heads what follows (``Issues to consider and discuss``): three words
    or more, then a bullet or a paragraph without a heading of its own."""
    if len(blocks[i].text.split()) < 3 or i + 1 >= len(blocks) or not blocks[i].text[:1].isupper():
        return False
    nxt = blocks[i + 1]
    if nxt.bulleted:
        return True
    heading, _ = split_heading(nxt.text, bulleted=False, context="")
    return heading is None and _is_prose(nxt)


def _is_scrap(block: Block) -> bool:
    """A clipped sidebar fragment: tab-split, or short with no sentence in it."""
    if block.scrap:
        return True
    text = block.text
    return len(text.split()) < 6 and not ends_terminal(text) and not text.endswith("?")


# --------------------------------------------------------------------------- pages


def _page(reading: _Reading, name: str | None) -> ParsedCell:
    """A text that names no cell: its paragraphs under their headings (and any study lines)."""
    flow = [*([Block(reading.description)] if reading.description else []), *reading.flow]
    first = next((b.text for b in flow), "")
    heading = first if first and len(first.split()) <= 12 and not ends_terminal(first) else ""
    page = page_slug(name or "") or page_slug(first[:60]) or "untitled"
    doc_title = heading or (name.rsplit("/", 1)[-1] if name else "") or page
    passages, headings = parse_commentary(flow, default_section=doc_title)
    drafts = [parse_study(raw) for raw in reading.studies]
    sections = resolve_sections(drafts, passages, headings)
    return assemble(
        PAGE_MATRIX, page, doc_title, "", drafts, sections, passages, form="page", title=doc_title
    )
