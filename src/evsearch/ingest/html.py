"""The HTML ingester: a Treatment Matrix cell page as the site serves it -> a :class:`ParsedCell`.

It yields the same documents as the text form (:mod:`evsearch.ingest.text`) and reuses its helpers
(study lines, headings, pull quotes, back-references), but keys on what HTML adds:

- structure: heading elements and bold lead-ins are headings; asides, blockquotes and boxed
  ``div``/``table`` elements are pull quotes (one unpunctuated line) or side panels (a heading
  and paragraphs); lists, tables and unknown elements degrade to paragraphs;
- links: a study's ``href="#anchor"`` (or ``hilite('anchor')``) names the commentary section
  whose heading carries that anchor, so study -> section links are exact;
- chrome: scripts, styles, forms, ``nav``, footers, menus and link lists never reach the index;
  the text-form chrome patterns (legend, "Close Matrix Bite", ...) apply too.

The cell comes from the ``<title>`` (``Alcohol Treatment Matrix cell B5: Practitioners; ...``)
or the page's heading, the file path being a fallback; a disagreement is an :class:`IngestError`.
A page that is neither (no cell title, no study list) is a generic page: a ``page/<slug>``
document whose passages carry the page's ``<title>``."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from evsearch.errors import IngestError
from evsearch.ingest.commentary import Draft, is_line_quote, split_heading
from evsearch.ingest.documents import assemble, page_slug, passage_rows
from evsearch.ingest.files import decode_html
from evsearch.ingest.grammar import (
    DEFAULT_SECTION,
    MORE_RE,
    STUDY_RE,
    clean,
    ends_terminal,
    is_chrome,
    is_study_line,
    parse_study,
    study_head,
)
from evsearch.ingest.html_dom import (
    TYPE_ONLY_RE,
    HBlock,
    Walker,
    flatten_deep,
    make_soup,
    prune,
    read_meta_description,
    strip_bullets,
)
from evsearch.ingest.identity import (
    EMAIL_RE,
    MATRIX_NAMES,
    RECORD_RE,
    cell_identity,
    fallback_identity,
    looks_like_label,
)
from evsearch.ingest.sections import resolve_sections, unique
from evsearch.ingest.text import PAGE_MATRIX
from evsearch.model import Cell, CellForm, ParsedCell, Passage, PassageRole

__all__ = ["PAGE_MATRIX", "decode_html", "parse_cell_html"]


_PAGE_TITLE_RE = re.compile(
    r"\b(?P<matrix>Alcohol|Drugs?) Treatment Matrix\W{0,3}cell (?P<code>[A-E][1-5])\b"
    r"(?:\s*[:\-–—|]\s*(?P<label>[^|]+?))?\s*(?:\|.*)?$",
    re.IGNORECASE,
)


_MATRIX_ONLY_RE = re.compile(r"\b(?P<matrix>Alcohol|Drugs?) Treatment Matrix\b", re.IGNORECASE)


_CELL_ONLY_RE = re.compile(
    r"^cell (?P<code>[A-E][1-5])\b(?:\s*[:\-–—]\s*(?P<label>.+))?$", re.IGNORECASE
)


_LEGEND_RE = re.compile(
    r"^(?:[SKRG]|MORE)\s+(?:Seminal stud|Key stud|Reviews?$|Guidance$|Search for more)", re.I
)


def parse_cell_html(
    markup: str | bytes,
    *,
    matrix: str | None = None,
    code: str | None = None,
    name: str | None = None,
) -> ParsedCell:
    """Parse one published page; ``matrix``/``code`` are fallbacks from the file path.

    ``name`` (the file's path below the corpus, without suffix) names a page that is not a cell:
    it becomes ``page/<slug of name>`` (else the slug of its title).

    >>> parsed = parse_cell_html(Path("tests/fixtures/alcohol-B5.htm").read_bytes())  # doctest: +SKIP
    >>> parsed.cell.key, len(parsed.studies), len(parsed.passages)  # doctest: +SKIP
    ('alcohol/B5', 9, 28)
    """
    text = decode_html(markup) if isinstance(markup, bytes) else markup
    soup = make_soup(text)
    page_title = clean(soup.title.get_text(" ")) if soup.title else ""
    meta_description = read_meta_description(soup)
    body = soup.body or soup
    flatten_deep(soup, body)
    prune(body)
    blocks = [b for b in Walker().run(body) if b.text]
    fb_matrix, fb_code = fallback_identity(matrix, code)
    header = _find_header(page_title, blocks)
    studies_at = _find_studies(blocks, start=header.after)
    if header.matrix is None and not studies_at.entries:
        return _generic_page(page_title, meta_description, blocks, name)
    final_matrix, final_code, note = cell_identity(header.matrix, header.code, fb_matrix, fb_code)
    form: CellForm = "cell"
    if header.matrix is not None and not studies_at.entries:  # a record or e-mail about the cell
        texts = [b.text for b in blocks]
        form = "record" if any(RECORD_RE.match(t) for t in texts) else "email"
        if not any(EMAIL_RE.match(t) for t in texts) and form == "email" and page_title:
            form = "cell" if _PAGE_TITLE_RE.search(page_title) else form
    description, desc_index = _find_description(blocks, header.after, studies_at.first)
    label = header.label
    start = studies_at.end if studies_at.entries else (desc_index + 1 if desc_index is not None else 0)
    flow = _commentary_blocks(blocks[start:])
    # a study line is a study wherever it sits, never a passage
    studies_at.entries.extend(_Entry(b.text, list(b.targets)) for b in flow if is_study_line(b.text))
    flow = [b for b in flow if not is_study_line(b.text)]
    passages, anchors, headings = _classify(flow, default_section=DEFAULT_SECTION)
    drafts = [parse_study(entry.text) for entry in studies_at.entries]
    fallback = resolve_sections(drafts, passages, headings)
    sections = []
    for entry, recovered in zip(studies_at.entries, fallback, strict=True):
        exact = unique(anchors[t] for t in entry.targets if t in anchors)
        sections.append(tuple(exact) if exact else recovered)
    if form != "cell" and description:
        passages = [Draft(DEFAULT_SECTION, "paragraph", description), *passages]
        description = ""
    return assemble(
        final_matrix, final_code, label, description, drafts, sections, passages,
        form=form, notes=[n for n in (header.note, note) if n],
    )


@dataclass
class _PageHeader:
    matrix: str | None
    code: str | None
    label: str
    after: int  # index of the first block after the header
    note: str | None = None


def _find_header(page_title: str, blocks: Sequence[HBlock]) -> _PageHeader:
    """The cell named by the page's heading, else its ``<title>`` (a disagreement is noted)."""
    t_matrix = t_code = t_label = None
    m = _PAGE_TITLE_RE.search(page_title)
    if m:
        t_matrix, t_code = MATRIX_NAMES[m["matrix"].lower()], m["code"].upper()
        t_label = clean(m["label"]) if m["label"] else None
    b_matrix = b_code = b_label = None
    after = 0
    for i, block in enumerate(blocks[:40]):
        if STUDY_RE.match(block.text) and study_head(block.text):
            break
        m = _PAGE_TITLE_RE.search(block.text) if block.words <= 20 else None
        c = _CELL_ONLY_RE.match(block.text)
        if m:
            b_matrix, b_code = MATRIX_NAMES[m["matrix"].lower()], m["code"].upper()
            b_label = clean(m["label"]) if m["label"] else None
        elif c and i > 0 and (mm := _MATRIX_ONLY_RE.search(blocks[i - 1].text)):
            b_matrix, b_code = MATRIX_NAMES[mm["matrix"].lower()], c["code"].upper()
            b_label = clean(c["label"]) if c["label"] else None
        else:
            continue
        after = i + 1
        if not b_label and after < len(blocks) and looks_like_label(blocks[after].text):
            b_label = blocks[after].text
            after += 1
        break
    if b_matrix is None:  # no cell heading: the label may still head the page
        for i, block in enumerate(blocks[:40]):
            if STUDY_RE.match(block.text) and study_head(block.text):
                break
            if looks_like_label(block.text) and not _is_html_chrome(block.text):
                b_label, after = block.text, i + 1
                break
    note = None
    if t_matrix and b_matrix and (t_matrix, t_code) != (b_matrix, b_code):
        note = (
            f"the page's title says {t_matrix}/{t_code} but its heading says {b_matrix}/{b_code}: "
            f"indexed as {b_matrix}/{b_code}"
        )
    return _PageHeader(b_matrix or t_matrix, b_code or t_code, b_label or t_label or "", after, note)


def _find_description(
    blocks: Sequence[HBlock], start: int, stop: int | None
) -> tuple[str, int | None]:
    """The one-paragraph description between the header and the study list."""
    end = stop if stop is not None else min(len(blocks), start + 6)
    for i in range(start, end):
        block = blocks[i]
        if block.heading or _is_html_chrome(block.text) or STUDY_RE.match(block.text):
            continue
        if block.words >= 8 and ends_terminal(block.text):
            return block.text, i
    return "", None


@dataclass
class _Entry:
    text: str
    targets: list[str]


@dataclass
class _StudyList:
    entries: list[_Entry]
    first: int | None  # block index of the first study
    end: int  # block index after the list


def _is_html_chrome(text: str) -> bool:
    return (
        is_chrome(text)
        or (len(text.split()) <= 6 and bool(_LEGEND_RE.match(text)))
    )


def _is_study_line(text: str) -> bool:
    m = STUDY_RE.match(text)
    if not m or _is_html_chrome(text):
        return False
    return bool(study_head(m["rest"])) or len(m["rest"].split()) >= 6


def _study_pieces(block: HBlock) -> list[str]:
    """A block's study lines: several when studies are separated by single ``<br>`` s."""
    lines = block.lines
    if sum(_is_study_line(line) for line in lines) < 2:
        return [block.text]
    out: list[str] = []
    for line in lines:
        if _is_study_line(line) or not out:
            out.append(line)
        else:
            out[-1] = f"{out[-1]} {line}"
    return out


def _find_studies(blocks: Sequence[HBlock], *, start: int) -> _StudyList:
    """The study list: study lines (type marks may sit in a block of their own), up to MORE."""
    entries: list[_Entry] = []
    first: int | None = None
    prefix = ""
    i = start
    while i < len(blocks):
        block = blocks[i]
        text = f"{prefix} {block.text}".strip() if prefix else block.text
        if TYPE_ONLY_RE.match(block.text) and block.text != "MORE":
            prefix = text
            i += 1
            continue
        had_prefix, prefix = bool(prefix), ""
        if MORE_RE.match(text):
            if entries:
                return _StudyList(entries, first, i + 1)
            i += 1
            continue
        if _is_study_line(text):
            if first is None:
                first = i
            pieces = [text] if had_prefix else _study_pieces(block)
            # links are known per block: when <br>s split a block into studies, they are lost
            # and the sections are recovered from the text instead
            entries.extend(_Entry(piece, list(block.targets) if len(pieces) == 1 else []) for piece in pieces)
        elif entries:
            last = entries[-1]
            head = study_head(STUDY_RE.match(last.text)["rest"])  # type: ignore[index]
            if _is_html_chrome(text) or block.heading:
                break
            if (head and not head["summary"].strip()) or not ends_terminal(last.text):
                last.text = f"{last.text} {text}"  # a summary in a block of its own (<dd>)
                last.targets.extend(block.targets)
            else:
                break
        i += 1
    return _StudyList(entries, first, i)


def _commentary_blocks(blocks: Sequence[HBlock]) -> list[HBlock]:
    """Chrome dropped (its anchors handed on), and the scraps before the first heading or
    sentence dropped: a sidebar left between the study list and the commentary."""
    kept: list[HBlock] = []
    carry: list[str] = []
    for block in blocks:
        if _is_html_chrome(block.text):
            carry.extend(block.anchors)
            continue
        if carry:
            block.anchors = carry + block.anchors
            carry = []
        kept.append(block)
    start = _first_content(kept)
    for block in kept[:start]:
        carry.extend(block.anchors)
    kept = kept[start:]
    if kept and carry:
        kept[0].anchors = carry + kept[0].anchors
    return kept


def _is_sentence_block(block: HBlock) -> bool:
    return block.words >= 12 and ends_terminal(block.text)


def _heading_like(block: HBlock) -> bool:
    if block.heading or block.bulleted or block.lead():
        return True
    return block.words <= 25 and "?" in block.text


def _first_content(blocks: Sequence[HBlock]) -> int:
    for i, block in enumerate(blocks):
        if _is_sentence_block(block):
            return i
        if _heading_like(block):
            j = i + 1
            while j < len(blocks) and blocks[j].heading:
                j += 1
            if j < len(blocks) and (_is_sentence_block(blocks[j]) or block.lead()):
                return i
    return 0


def _classify(
    blocks: Sequence[HBlock], *, default_section: str
) -> tuple[list[Draft], dict[str, str], list[str]]:
    """Passages in reading order, each anchor's section, and every heading."""
    drafts: list[Draft] = []
    anchors: dict[str, str] = {}
    headings: list[str] = []
    section = default_section
    texts = [b.text for b in blocks]
    i = 0
    while i < len(blocks):
        block = blocks[i]
        if block.box is not None:
            j = i
            while j < len(blocks) and blocks[j].box == block.box:
                j += 1
            group = list(blocks[i:j])
            for role, sec, text, marks in _classify_box(group, section):
                if text:
                    drafts.append(Draft(sec, role, text))
                elif sec != section:
                    headings.append(sec)
                for mark in marks:
                    anchors.setdefault(mark, sec)
            i = j
            continue
        context = " ".join(texts[max(0, i - 3) : i + 4])
        heading, body, role = _split_flow(block, context)
        if heading is not None:
            section = heading
            headings.append(heading)
        for mark in block.anchors:
            anchors.setdefault(mark, section)
        if body:
            drafts.append(Draft(section, role, body))
        i += 1
    return drafts, anchors, headings


def _split_flow(block: HBlock, context: str) -> tuple[str | None, str, PassageRole]:
    """``(heading or None, body, role)`` of a block in the commentary's flow."""
    text = block.text
    if block.heading:
        return text, "", "paragraph"
    lead = block.lead()
    if lead and len(lead.split()) <= 25 and (lead.endswith("?") or not ends_terminal(lead)):
        rest = strip_bullets(text[text.find(lead) + len(lead) :] if lead in text else text)
        if rest and (rest[0].isupper() or rest[0] in "\"'“‘(["):
            return lead.rstrip(":").strip(), rest, "paragraph"
    if block.bulleted:
        heading, body = split_heading(text, bulleted=True, context=context)
        return heading, body, "paragraph"
    if not ends_terminal(text) and not text.endswith("?"):
        if block.all_styled("italic") and block.words >= 5:
            return None, text, "quote"
        if block.all_styled("bold"):
            return (text, "", "paragraph") if block.words <= 9 else (None, text, "quote")
    heading, body = split_heading(text, bulleted=False, context=context)
    if heading is not None:
        return heading, body, "paragraph"
    if is_line_quote(text, context):
        return None, text, "quote"
    return None, text, "paragraph"


def _classify_box(
    group: Sequence[HBlock], section: str
) -> Iterator[tuple[PassageRole, str, str, list[str]]]:
    """A pull quote (one unpunctuated line), a side panel (heading + paragraphs), or, for a
    quotation in a blockquote, plain paragraphs."""
    marks = [m for b in group for m in b.anchors]
    if len(group) == 1:
        text = group[0].text
        role: PassageRole = "paragraph" if ends_terminal(text) or text.endswith("?") else "quote"
        yield role, section, text, marks
        return
    first = group[0]
    headed = first.heading or (
        not ends_terminal(first.text) and first.words <= 15 and not first.text.endswith("?")
    ) or (first.all_styled("bold") and first.words <= 15)
    if headed:
        heading = first.text.rstrip(":").strip()
        yield "panel", heading, "", marks
        for block in group[1:]:
            yield "panel", heading, block.text, []
        return
    role = "paragraph" if first.box_tag == "blockquote" else "panel"
    for k, block in enumerate(group):
        yield role, section, block.text, marks if k == 0 else []


def _generic_page(
    title: str, description: str, blocks: Sequence[HBlock], name: str | None
) -> ParsedCell:
    """A page that is not a cell: its paragraphs, under their headings, titled by ``<title>``."""
    slug = page_slug(name or "") or page_slug(title)
    if not slug:
        raise IngestError(
            "not a Treatment Matrix cell, and no title or file name to name the page by",
            "give the page a <title>, or save it under a descriptive file name",
        )
    key = f"{PAGE_MATRIX}/{slug}"
    heading_title = title or next((b.text for b in blocks if b.heading), slug)
    kept = [b for b in blocks if not _is_html_chrome(b.text)]
    drafts, _, _ = _classify(kept, default_section=heading_title)
    if not drafts:
        raise IngestError(
            "not a Treatment Matrix cell, and no text to index",
            "a cell page has a title like 'Alcohol Treatment Matrix cell B5' and a study list",
        )
    cell = Cell(
        matrix=PAGE_MATRIX, code=slug, label=heading_title, description=description, title=heading_title
    )
    passages = tuple(
        Passage(id=i, cell=key, order=n, section=s, role=r, text=t, title=heading_title)
        for n, (i, s, r, t) in enumerate(passage_rows(key, drafts), start=1)
    )
    return ParsedCell(cell=cell, studies=(), passages=passages, form="page")

