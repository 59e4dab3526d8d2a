"""The text reader: a cell page saved as text (or extracted from its PDF) -> a :class:`ParsedCell`.

The text is what a PDF extraction of a cell page gives (see ``docs/corpus-format.md``): a header
(title line, "Column; Row" label, description), the study list, site chrome, then the commentary
("Matrix Bite") with inline headings, pull quotes, side panels and page-break cuts. The reader
undoes those artefacts; a block ending without terminal punctuation is continued by the next
block that starts in lower case, and blocks landing in between (at most
:data:`MAX_PANEL_BLOCKS`) are a side panel.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from evsearch.errors import IngestError
from evsearch.ingest.commentary import Draft, is_line_quote, split_glued_quote, split_heading
from evsearch.ingest.grammar import (
    BULLETS,
    DEFAULT_SECTION,
    LINKS_LINE_RE,
    MATRIX_NAMES,
    MAX_PARAGRAPH_CHARS,
    MORE_RE,
    STOPWORDS,
    STUDY_RE,
    TITLE_RE,
    cell_identity,
    clean,
    ends_terminal,
    fallback_identity,
    is_chrome,
    looks_like_label,
    parse_study,
    starts_lower,
    strip_markup,
)
from evsearch.ingest.sections import assemble, resolve_sections
from evsearch.model import ParsedCell

__all__ = ["parse_cell_text"]

#: How many blocks a side panel may span inside a cut sentence.
MAX_PANEL_BLOCKS = 6


def parse_cell_text(text: str, *, matrix: str | None = None, code: str | None = None) -> ParsedCell:
    """Parse the text of one cell page; ``matrix``/``code`` are fallbacks from the file path.

    >>> parsed = parse_cell_text(Path("corpus/alcohol/B5.txt").read_text())  # doctest: +SKIP
    >>> parsed.cell.key, len(parsed.studies)  # doctest: +SKIP
    ('alcohol/B5', 9)
    """
    blocks = _blocks(text)
    header = _parse_header(blocks, matrix=matrix, code=code)
    key = f"{header.matrix}/{header.code}"
    raw_studies, commentary = split_studies(blocks[header.next_index :])
    if header.title_index is None and not raw_studies:
        raise IngestError(
            f"no cell title line and no study list found for {key}",
            "a cell page starts with a line like 'Alcohol Treatment Matrix cell B5'",
        )
    passages, headings = _parse_commentary(commentary)
    drafts = [parse_study(raw) for raw in raw_studies]
    sections = resolve_sections(drafts, passages, headings)
    return assemble(header.matrix, header.code, header.label, header.description, drafts, sections, passages)


@dataclass
class _Block:
    """A run of non-blank lines, cleaned to one line of text."""

    text: str
    bulleted: bool = False
    scrap: bool = False  # tab-split sidebar fragment


def _blocks(text: str) -> list[_Block]:
    """Split into blank-line separated blocks, cleaned, markup stripped, chrome dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    out: list[_Block] = []
    for raw in re.split(r"\n[ \t\u00a0]*\n", text):
        stripped = raw.strip()
        bulleted = bool(stripped) and stripped[0] in BULLETS
        cleaned = strip_markup(clean(raw))
        if not cleaned:
            continue
        out.append(_Block(cleaned, bulleted, scrap="\t" in raw and len(cleaned) < 60))
    return [b for b in out if not is_chrome(b.text)]


def _is_scrap(block: _Block) -> bool:
    """A clipped sidebar fragment: tab-split, or short with no sentence in it."""
    if block.scrap:
        return True
    text = block.text
    words = text.split()
    return len(words) < 6 and not ends_terminal(text) and not text.endswith("?")


@dataclass
class _Header:
    matrix: str
    code: str
    label: str
    description: str
    title_index: int | None
    next_index: int


def _parse_header(blocks: list[_Block], *, matrix: str | None, code: str | None) -> _Header:
    fb_matrix, fb_code = fallback_identity(matrix, code)
    title_index = None
    page_matrix = page_code = inline_label = None
    for i, block in enumerate(blocks[:12]):
        m = TITLE_RE.match(block.text)
        if m:
            title_index = i
            page_matrix = MATRIX_NAMES[m["matrix"].lower()]
            page_code = m["code"].upper()
            inline_label = m["label"]
            break
    final_matrix, final_code = cell_identity(page_matrix, page_code, fb_matrix, fb_code)
    i = 0 if title_index is None else title_index + 1
    label = inline_label or ""
    if not label and i < len(blocks) and looks_like_label(blocks[i].text):
        label = blocks[i].text
        i += 1
    description = ""
    if (
        i < len(blocks)
        and not STUDY_RE.match(blocks[i].text)
        and not LINKS_LINE_RE.match(blocks[i].text)
        and ends_terminal(blocks[i].text)
    ):
        description = blocks[i].text
        i += 1
    return _Header(final_matrix, final_code, label, description, title_index, i)


def split_studies(blocks: list[_Block]) -> tuple[list[str], list[_Block]]:
    """Study lines, and the commentary blocks after the chrome that follows them."""
    studies: list[str] = []
    i = 0
    while i < len(blocks):
        text = blocks[i].text
        if MORE_RE.match(text):
            i += 1
            break
        m = STUDY_RE.match(text)
        if not m:
            if studies or not LINKS_LINE_RE.match(text):
                break
            i += 1  # the legend's "Links to other documents" tail before the list
            continue
        # a study line cut by a page break continues in a lower-case block
        while (
            not ends_terminal(text)
            and i + 1 < len(blocks)
            and starts_lower(blocks[i + 1].text)
            and len(text) <= MAX_PARAGRAPH_CHARS
        ):
            i += 1
            text = f"{text} {blocks[i].text}"
        studies.append(text)
        i += 1
    rest = blocks[i:]
    # The commentary starts after the last "Links to other documents" line, when there is one;
    # otherwise after the run of clipped sidebar scraps.
    marks = [j for j, b in enumerate(rest) if LINKS_LINE_RE.match(b.text)]
    if marks:
        rest = rest[marks[-1] + 1 :]
    else:
        skip = 0
        while skip < len(rest) and _is_scrap(rest[skip]):
            skip += 1
        rest = rest[skip:]
    return studies, [b for b in rest if not LINKS_LINE_RE.match(b.text)]


@dataclass
class _Item:
    """One piece of commentary before passages are numbered."""

    kind: str  # "heading", "paragraph", "quote", "panel", "panel-heading"
    text: str
    bulleted: bool = False
    extra: list[_Item] = field(default_factory=list)


def _rejoin(blocks: Sequence[_Block]) -> list[_Item]:
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
    if items and not ends_terminal(items[-1].text):
        return 1
    return None


def _is_cut_paragraph(text: str) -> bool:
    """A paragraph (not a heading or pull-quote line) that stops mid-sentence.

    Headings and pull quotes also lack terminal punctuation, but they do not end on a
    function word ("... at the"), leave a bracket open, or hold a finished sentence.
    """
    if len(text) > MAX_PARAGRAPH_CHARS or ends_terminal(text) or len(text.split()) < 4:
        return False
    last = re.findall(r"[A-Za-z']+", text[-200:])[-1:] or [""]
    return (
        last[0].lower() in STOPWORDS
        or text.count("(") > text.count(")")
        or (len(text.split()) >= 8 and bool(re.search(r"[.?!;:]\s", text)))
    )


def _parse_commentary(blocks: Sequence[_Block]) -> tuple[list[Draft], list[str]]:
    """Passages in reading order, and every section heading (empty ones too)."""
    items = _rejoin(blocks)
    headings: list[str] = []
    texts = [it.text for it in items]
    drafts: list[Draft] = []
    section = DEFAULT_SECTION
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

