"""The HTML ingester: a Treatment Matrix cell page as the site serves it -> a :class:`ParsedCell`.

It yields the same documents as the text form (:mod:`evsearch.ingest`) and reuses its helpers
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
document whose passages carry the page's ``<title>``.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, Comment, NavigableString, Tag, UnicodeDammit

from evsearch.errors import IngestError
from evsearch.ingest import (
    _BULLETS,
    _MATRIX_NAMES,
    _MORE_RE,
    _STUDY_HEAD_RE,
    _STUDY_RE,
    DEFAULT_SECTION,
    _assemble,
    _cell_identity,
    _clean,
    _Draft,
    _ends_terminal,
    _fallback_identity,
    _is_chrome,
    _is_line_quote,
    _looks_like_label,
    _parse_study,
    _resolve_sections,
    _split_heading,
    _unique,
)
from evsearch.model import Cell, ParsedCell, Passage, PassageRole

__all__ = ["decode_html", "parse_cell_html"]

#: The ``matrix`` of a page that is not a Treatment Matrix cell (its key is ``page/<slug>``).
PAGE_MATRIX = "page"

#: A box (aside, boxed div or table) holding more blocks than this is layout, not a panel.
MAX_BOX_BLOCKS = 8

#: Elements nested deeper than this are flattened into their ancestor at this depth: their
#: text is kept (a block's start becomes a break), their structure is not. Real pages nest
#: a few dozen levels; 10,000 would exhaust the recursion limit and make work quadratic.
MAX_DEPTH = 64

_DROP_TAGS = frozenset(
    """script style noscript template iframe frame frameset object embed applet svg canvas
    math form input button select textarea option nav footer head title meta link map area
    audio video source track dialog menu""".split()
)
_INLINE_TAGS = frozenset(
    """a abbr acronym b bdi bdo big cite code data del dfn em font i img ins kbd label mark
    nobr q s samp small span strike strong sub sup time tt u var wbr""".split()
)
_BOLD_TAGS = frozenset({"b", "strong"})
_ITALIC_TAGS = frozenset({"i", "em", "cite"})
_HEADING_RE = re.compile(r"^h[1-6]$")
_CHROME_ROLES = frozenset({"navigation", "contentinfo", "search", "menu", "menubar"})
# Class/id words of site chrome; "side"/"sidebar" only when the element holds no prose.
_CHROME_WORDS = frozenset(
    """nav navbar navigation topnav menu menubar breadcrumb breadcrumbs footer foot cookie
    cookies share sharing social subscribe newsletter skip toolbar masthead funders sponsors
    tweet twitter""".split()
)
_SIDE_WORDS = frozenset({"side", "sidebar", "sidenav", "leftcol", "rightcol", "leftcolumn", "rightcolumn"})
_BOX_STEMS = ("box", "panel", "quote", "pull", "callout", "inset", "aside", "sidebar", "float", "pq")
_BOX_TAGS = frozenset({"aside", "blockquote", "figure"})
_FLOAT_RE = re.compile(r"float\s*:\s*(?:left|right)", re.IGNORECASE)
_WORD_SPLIT_RE = re.compile(r"[^a-z0-9]+")

_TYPE_WORD_RE = re.compile(
    r"^\W*(seminal|key|reviews?|guidance|more|[skrg])(?:\s+stud(?:y|ies))?\W*$", re.IGNORECASE
)
_TYPE_CODES = {"seminal": "S", "key": "K", "review": "R", "reviews": "R", "guidance": "G", "more": "MORE"}
_TYPE_ONLY_RE = re.compile(r"^(?:(?:[SKRG]|MORE)\s*)+$")
_SRC_TYPE_RE = re.compile(r"(?:^|[-_./])(?:type[-_]?)?([skrg])(?:[-_.]|$)", re.IGNORECASE)

_PAGE_TITLE_RE = re.compile(
    r"\b(?P<matrix>Alcohol|Drugs?) Treatment Matrix\W{0,3}cell (?P<code>[A-E][1-5])\b"
    r"(?:\s*[:\-–—|]\s*(?P<label>[^|]+?))?\s*(?:\|.*)?$",
    re.IGNORECASE,
)
_MATRIX_ONLY_RE = re.compile(r"\b(?P<matrix>Alcohol|Drugs?) Treatment Matrix\b", re.IGNORECASE)
_CELL_ONLY_RE = re.compile(
    r"^cell (?P<code>[A-E][1-5])\b(?:\s*[:\-–—]\s*(?P<label>.+))?$", re.IGNORECASE
)
_HTML_CHROME_RES = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^Unfold (?:extra|supplementary) text\b",
        r"^Links to other documents\b",
        r"\bClose Matrix Bite\b",
        r"^(?:Back to )?top(?: of page)?$",
        r"^(?:©|\(c\)|Copyright\b)",
        r"^Last (?:revised|updated|modified)\b",
        r"^Skip to\b",
        r"^(?:Print|Share|Email)(?: this page)?$",
        r"\bupdate funded by\b",
        r"^Previously als?o? funded\b",
        r"^Developed with\b",
        r"^(?:About the matrices|Articles and videos)\b",
        r"^Home\b.{0,80}\bContact$",
        r"^Send email for updates\b",
    )
]
_LEGEND_RE = re.compile(
    r"^(?:[SKRG]|MORE)\s+(?:Seminal stud|Key stud|Reviews?$|Guidance$|Search for more)", re.I
)
_FUNC_CALL_RE = re.compile(r"\(\s*['\"]#?([\w:.-]+)['\"]")
_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_XML_DECL_RE = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)""", re.IGNORECASE)
# What browsers do with these labels (WHATWG Encoding Standard): they mean windows-1252.
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "windows-1252": "cp1252",
    "x-cp1252": "cp1252",
}


# --------------------------------------------------------------------------- public API


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
    soup = _soup(text)
    page_title = _clean(soup.title.get_text(" ")) if soup.title else ""
    meta_description = _meta_description(soup)
    body = soup.body or soup
    _flatten_deep(soup, body)
    _prune(body)
    blocks = [b for b in _Walker().run(body) if b.text]
    fb_matrix, fb_code = _fallback_identity(matrix, code)
    header = _find_header(page_title, blocks)
    studies_at = _find_studies(blocks, start=header.after)
    if header.matrix is None and not studies_at.entries:
        return _generic_page(page_title, meta_description, blocks, name)
    final_matrix, final_code = _cell_identity(header.matrix, header.code, fb_matrix, fb_code)
    description, desc_index = _find_description(blocks, header.after, studies_at.first)
    label = header.label
    start = studies_at.end if studies_at.entries else (desc_index + 1 if desc_index is not None else 0)
    flow = _commentary_blocks(blocks[start:])
    passages, anchors, headings = _classify(flow, default_section=DEFAULT_SECTION)
    drafts = [_parse_study(entry.text) for entry in studies_at.entries]
    fallback = _resolve_sections(drafts, passages, headings)
    sections = []
    for entry, recovered in zip(studies_at.entries, fallback, strict=True):
        exact = _unique(anchors[t] for t in entry.targets if t in anchors)
        sections.append(tuple(exact) if exact else recovered)
    return _assemble(final_matrix, final_code, label, description, drafts, sections, passages)


def decode_html(data: bytes) -> str:
    """Bytes of a saved page -> text: BOM, then valid UTF-8, then the declared charset, then
    :class:`~bs4.UnicodeDammit`; ``iso-8859-1`` and ``ascii`` are read as windows-1252, as
    browsers do, so curly quotes and dashes survive.

    >>> decode_html(b'<meta charset="iso-8859-1"><p>\\x93Hi\\x94 \\x96 there')
    '<meta charset="iso-8859-1"><p>“Hi” – there'
    >>> decode_html('<meta charset="iso-8859-1"><p>café'.encode("utf-8"))  # valid UTF-8 wins
    '<meta charset="iso-8859-1"><p>café'
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")  # valid UTF-8 with non-ASCII bytes is UTF-8, whatever it says
    except UnicodeDecodeError:
        pass
    head = data[:4096]
    m = _XML_DECL_RE.search(head) or _CHARSET_RE.search(head)
    declared = m.group(1).decode("ascii", "replace").lower() if m else None
    if declared:
        codec = _CHARSET_ALIASES.get(declared, declared)
        try:
            return data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            pass
    with _quiet(logging.getLogger("bs4.dammit")):  # it logs each replaced character to stderr
        dammit = UnicodeDammit(data, ["cp1252"], is_html=True)
    if dammit.unicode_markup is not None:
        return dammit.unicode_markup
    return data.decode("cp1252", errors="replace")


class _quiet:
    """Silence a logger for a ``with`` block."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def __enter__(self) -> None:
        self.was, self.logger.disabled = self.logger.disabled, True

    def __exit__(self, *exc: object) -> None:
        self.logger.disabled = self.was


# --------------------------------------------------------------------------- soup and pruning


def _soup(text: str) -> BeautifulSoup:
    """``lxml`` where installed (fast, forgiving), else the standard library's parser."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bs4 warns about markup that looks like a file name
        try:
            return BeautifulSoup(text, "lxml")
        except Exception:  # bs4.FeatureNotFound when lxml is missing
            return BeautifulSoup(text, "html.parser")


def _meta_description(soup: BeautifulSoup) -> str:
    tag = soup.find("meta", attrs={"name": re.compile(r"^description$", re.I)})
    content = tag.get("content") if isinstance(tag, Tag) else None
    return _clean(content) if isinstance(content, str) else ""


def _words_of(tag: Tag) -> set[str]:
    """The words of a tag's ``class`` and ``id``: ``class="nav-top"`` -> ``{"nav", "top", "nav-top"}``."""
    values = [*(tag.get("class") or []), str(tag.get("id") or "")]
    words: set[str] = set()
    for value in values:
        value = str(value).lower()
        if value:
            words.add(value)
            words.update(w for w in _WORD_SPLIT_RE.split(value) if w)
    return words


def _is_prose(tag: Tag) -> bool:
    """Whether a tag holds a real sentence (a sidebar of links and logos does not)."""
    for piece in re.split(r"(?<=[.?!])\s+", " ".join(tag.get_text(" ").split())):
        if len(piece.split()) >= 12 and _ends_terminal(piece):
            return True
    return False


def _link_heavy(tag: Tag) -> bool:
    """A list of links: three or more, and little text outside them."""
    links = tag.find_all("a")
    if len(links) < 3 or tag.find(_HEADING_RE):
        return False
    total = len(" ".join(tag.get_text(" ").split()))
    linked = sum(len(" ".join(a.get_text(" ").split())) for a in links)
    return total > 0 and linked / total >= 0.7


def _flatten_deep(soup: BeautifulSoup, root: Tag, max_depth: int = MAX_DEPTH) -> None:
    """Flatten what lies below ``max_depth`` levels into the element at that depth, in place:
    its text in order (dropped elements' text left out), ``<br><br>`` where a block starts.

    This bounds the walker's recursion and every per-element look at a subtree.
    """
    depth: dict[int, int] = {id(root): 0}
    dropped: dict[int, bool] = {id(root): False}
    cut: dict[int, Tag] = {}
    for tag in root.find_all(True):  # document order: a parent comes before its children
        parent = tag.parent
        d = depth[id(parent)] + 1
        depth[id(tag)] = d
        dropped[id(tag)] = dropped[id(parent)] or tag.name in _DROP_TAGS
        if d == max_depth + 1 and parent is not None:
            cut[id(parent)] = parent
    for top in cut.values():
        pieces: list[str | int] = []  # text, or how many <br> to put in its place
        for node in top.descendants:
            if isinstance(node, Tag):
                if not dropped[id(node)] and node.name not in _INLINE_TAGS:
                    pieces.append(1 if node.name == "br" else 2)
            elif not isinstance(node, Comment) and not dropped[id(node.parent)]:
                pieces.append(str(node))
        top.clear(decompose=True)
        for piece in pieces:
            if isinstance(piece, str):
                top.append(NavigableString(piece))
            else:
                top.extend(soup.new_tag("br") for _ in range(piece))


def _prune(root: Tag) -> None:
    """Remove comments and site chrome in place."""
    for comment in root.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for tag in list(root.find_all(True)):
        # not tag.decomposed: on a live tag, bs4 answers that by searching its subtree
        if "_decomposed" in vars(tag) or tag.parent is None:
            continue
        words = _words_of(tag)
        role = str(tag.get("role") or "").lower()
        if (
            tag.name in _DROP_TAGS
            or role in _CHROME_ROLES
            or words & _CHROME_WORDS
            or (words & _SIDE_WORDS and not _is_prose(tag))
            or (tag.name in ("ul", "ol", "div", "td", "p", "table", "dl") and _link_heavy(tag))
        ):
            tag.decompose()


# --------------------------------------------------------------------------- blocks


@dataclass
class _Run:
    text: str
    bold: bool
    italic: bool


@dataclass
class _HBlock:
    """One block of the page: a paragraph, heading, list item or table row, in reading order."""

    text: str = ""
    heading: bool = False
    bulleted: bool = False
    box: int | None = None
    box_tag: str = ""
    runs: list[_Run] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # split at single <br>
    anchors: list[str] = field(default_factory=list)  # ids/names that point here
    targets: list[str] = field(default_factory=list)  # in-page anchors it links to

    @property
    def words(self) -> int:
        return len(self.text.split())

    def lead(self) -> str | None:
        """Bold text the block starts with, when more text follows it."""
        lead = ""
        for k, run in enumerate(self.runs):
            if not run.text.strip():
                lead += run.text
                continue
            if not run.bold:
                rest = "".join(r.text for r in self.runs[k:]).strip()
                head = _strip_bullets(_clean(lead))
                return head if head and rest else None
            lead += run.text
        return None

    def all_styled(self, attr: str) -> bool:
        styled = [getattr(r, attr) for r in self.runs if r.text.strip()]
        return bool(styled) and all(styled)


def _strip_bullets(text: str) -> str:
    return text.lstrip(_BULLETS + " \u00a0").strip()


def _type_of_image(tag: Tag) -> str | None:
    """``<img alt="K">``, ``alt="Key study"``, or ``src=".../K.gif"`` -> ``"K"``."""
    for attr in ("alt", "title", "aria-label"):
        value = tag.get(attr)
        if isinstance(value, str) and value.strip():
            m = _TYPE_WORD_RE.match(value.strip())
            if m:
                word = m.group(1).lower()
                return _TYPE_CODES.get(word, word.upper())
            return None
    src = tag.get("src")
    if isinstance(src, str):
        stem = src.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        m = _TYPE_WORD_RE.match(stem) or _SRC_TYPE_RE.search(stem + ".")
        if m:
            word = m.group(1).lower()
            return _TYPE_CODES.get(word, word.upper())
    return None


def _link_targets(tag: Tag) -> list[str]:
    """In-page anchors a link points to: ``#skills``, ``B5.htm#skills``, ``hilite('skills')``."""
    found: list[str] = []
    href = tag.get("href")
    if isinstance(href, str):
        href = href.strip()
        if href.lower().startswith("javascript:"):
            found.extend(_FUNC_CALL_RE.findall(href))
        else:
            parts = urlsplit(href)
            if parts.fragment and not parts.scheme and not parts.netloc:
                found.append(parts.fragment)
    onclick = tag.get("onclick")
    if isinstance(onclick, str):
        found.extend(_FUNC_CALL_RE.findall(onclick))
    return found


def _is_box(tag: Tag) -> bool:
    if tag.name in _BOX_TAGS:
        return True
    if tag.name == "span":
        return _is_floated_span(tag)
    if tag.name not in ("div", "table", "section", "p", "td", "center"):
        return False
    words = _words_of(tag)
    if any(stem in word for word in words for stem in _BOX_STEMS):
        return True
    style = str(tag.get("style") or "")
    align = str(tag.get("align") or "").lower()
    return bool(_FLOAT_RE.search(style)) or (tag.name in ("table", "div") and align in ("left", "right"))


def _is_floated_span(tag: Tag) -> bool:
    """A pull quote set inline (``<span class="pullquote">``): a box of its own, not prose."""
    words = _words_of(tag)
    stems = ("pull", "pq", "box", "panel", "aside", "callout")
    return any(stem in word for word in words for stem in stems) or bool(
        _FLOAT_RE.search(str(tag.get("style") or ""))
    )


def _flat_row(tag: Tag) -> bool:
    """A table row whose cells hold no blocks: one block (a study line, a legend row)."""
    for cell in tag.find_all(("td", "th"), recursive=False):
        for inner in cell.find_all(True):
            if inner.name not in _INLINE_TAGS and inner.name != "br":
                return False
    return True


class _Walker:
    """Walks the tree in reading order and cuts it into :class:`_HBlock` s."""

    def __init__(self) -> None:
        self.blocks: list[_HBlock] = []
        self.current = _HBlock()
        self.pending: list[str] = []
        self.breaks = 0  # consecutive <br>
        self.boxes: list[tuple[int, str]] = []
        self.next_box = 0

    def run(self, root: Tag) -> list[_HBlock]:
        self._children(root, bold=False, italic=False, heading=False)
        self._flush()
        for block in self.blocks:
            if block.box is not None and sum(b.box == block.box for b in self.blocks) > MAX_BOX_BLOCKS:
                block.box = None
        return self.blocks

    # -- building blocks
    def _flush(self) -> None:
        block = self.current
        raw = "".join(r.text for r in block.runs)
        stripped = raw.strip(" \t\r\n\u00a0")
        block.bulleted = bool(stripped) and stripped[0] in _BULLETS
        block.text = _strip_bullets(_clean(raw))
        block.lines = [_clean(line) for line in raw.split("\n") if _clean(line)]
        if block.text:
            block.anchors = self.pending + block.anchors
            self.pending = []
            if self.boxes:
                block.box, block.box_tag = self.boxes[0]
            self.blocks.append(block)
        else:
            self.pending.extend(block.anchors)
            if block.targets and self.blocks:
                self.blocks[-1].targets.extend(block.targets)
        self.current = _HBlock()
        self.breaks = 0

    def _text(self, text: str, bold: bool, italic: bool) -> None:
        if text.strip():
            self.breaks = 0
        self.current.runs.append(_Run(text, bold, italic))

    # -- walking
    def _children(self, tag: Tag, *, bold: bool, italic: bool, heading: bool) -> None:
        for child in tag.children:
            if isinstance(child, NavigableString):
                if not isinstance(child, Comment):
                    self._text(str(child), bold, italic)
            elif isinstance(child, Tag):
                self._tag(child, bold=bold, italic=italic, heading=heading)

    def _tag(self, tag: Tag, *, bold: bool, italic: bool, heading: bool) -> None:
        name = tag.name
        ident = tag.get("id") or (tag.get("name") if name == "a" else None)
        if isinstance(ident, str) and ident:
            self.pending.append(ident)
        if name == "br":
            self.breaks += 1
            if self.breaks >= 2:
                self._flush()
            else:
                self.current.runs.append(_Run("\n", bold, italic))
            return
        if name == "img":
            kind = _type_of_image(tag)
            alt = str(tag.get("alt") or "").strip()
            if kind:
                self._text(f" {kind} ", bold, italic)
            elif alt and all(ch in _BULLETS for ch in alt):
                self._text(alt + " ", bold, italic)
            return
        if name in ("hr",):
            self._flush()
            return
        if name in _INLINE_TAGS and not (name == "span" and _is_floated_span(tag)):
            if name == "a":
                self.current.targets.extend(_link_targets(tag))
            inner = " ".join(tag.get_text(" ").split())
            if not inner and name != "a":
                title = tag.get("title") or tag.get("aria-label") or tag.get("data-type")
                m = _TYPE_WORD_RE.match(title) if isinstance(title, str) else None
                if m:
                    word = m.group(1).lower()
                    self._text(f" {_TYPE_CODES.get(word, word.upper())} ", bold, italic)
                return
            if _TYPE_ONLY_RE.match(inner) and name != "a":
                self._text(f" {inner} ", bold, italic)
                return
            self._children(
                tag,
                bold=bold or name in _BOLD_TAGS or _bold_style(tag),
                italic=italic or name in _ITALIC_TAGS,
                heading=heading,
            )
            return
        if name in ("td", "th") and getattr(tag, "_evs_flat", False):
            self._text(" ", bold, italic)
            self._children(tag, bold=bold or name == "th", italic=italic, heading=heading)
            self._text(" ", bold, italic)
            return
        # a block element: its own block(s)
        pending_before = self.pending
        self.pending = []
        self._flush()
        self.pending = pending_before + self.pending
        box = _is_box(tag) and not self.boxes
        if box:
            self.next_box += 1
            self.boxes.append((self.next_box, tag.name))
        if name == "tr" and _flat_row(tag):
            for cell in tag.find_all(("td", "th"), recursive=False):
                cell._evs_flat = True  # type: ignore[attr-defined]
        is_heading = bool(_HEADING_RE.match(name)) or (name == "th" and not getattr(tag, "_evs_flat", False))
        self.current.heading = is_heading
        self._children(tag, bold=bold, italic=italic, heading=heading or is_heading)
        self.current.heading = self.current.heading or is_heading
        self._flush()
        if box:
            self.boxes.pop()


def _bold_style(tag: Tag) -> bool:
    style = str(tag.get("style") or "").lower().replace(" ", "")
    return "font-weight:bold" in style or "font-weight:700" in style


# --------------------------------------------------------------------------- header


@dataclass
class _PageHeader:
    matrix: str | None
    code: str | None
    label: str
    after: int  # index of the first block after the header


def _find_header(page_title: str, blocks: Sequence[_HBlock]) -> _PageHeader:
    """The cell named by ``<title>`` and/or the page's heading; they must agree."""
    t_matrix = t_code = t_label = None
    m = _PAGE_TITLE_RE.search(page_title)
    if m:
        t_matrix, t_code = _MATRIX_NAMES[m["matrix"].lower()], m["code"].upper()
        t_label = _clean(m["label"]) if m["label"] else None
    b_matrix = b_code = b_label = None
    after = 0
    for i, block in enumerate(blocks[:40]):
        if _STUDY_RE.match(block.text) and _STUDY_HEAD_RE.match(block.text):
            break
        m = _PAGE_TITLE_RE.search(block.text) if block.words <= 20 else None
        c = _CELL_ONLY_RE.match(block.text)
        if m:
            b_matrix, b_code = _MATRIX_NAMES[m["matrix"].lower()], m["code"].upper()
            b_label = _clean(m["label"]) if m["label"] else None
        elif c and i > 0 and (mm := _MATRIX_ONLY_RE.search(blocks[i - 1].text)):
            b_matrix, b_code = _MATRIX_NAMES[mm["matrix"].lower()], c["code"].upper()
            b_label = _clean(c["label"]) if c["label"] else None
        else:
            continue
        after = i + 1
        if not b_label and after < len(blocks) and _looks_like_label(blocks[after].text):
            b_label = blocks[after].text
            after += 1
        break
    if b_matrix is None:  # no cell heading: the label may still head the page
        for i, block in enumerate(blocks[:40]):
            if _STUDY_RE.match(block.text) and _STUDY_HEAD_RE.match(block.text):
                break
            if _looks_like_label(block.text) and not _is_html_chrome(block.text):
                b_label, after = block.text, i + 1
                break
    if t_matrix and b_matrix and (t_matrix, t_code) != (b_matrix, b_code):
        raise IngestError(
            f"the page's title says {t_matrix}/{t_code} but its heading says {b_matrix}/{b_code}",
            "check the file is one saved cell page",
        )
    return _PageHeader(b_matrix or t_matrix, b_code or t_code, b_label or t_label or "", after)


def _find_description(
    blocks: Sequence[_HBlock], start: int, stop: int | None
) -> tuple[str, int | None]:
    """The one-paragraph description between the header and the study list."""
    end = stop if stop is not None else min(len(blocks), start + 6)
    for i in range(start, end):
        block = blocks[i]
        if block.heading or _is_html_chrome(block.text) or _STUDY_RE.match(block.text):
            continue
        if block.words >= 8 and _ends_terminal(block.text):
            return block.text, i
    return "", None


# --------------------------------------------------------------------------- studies


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
        _is_chrome(text)
        or any(p.search(text) for p in _HTML_CHROME_RES)
        or (len(text.split()) <= 6 and bool(_LEGEND_RE.match(text)))
    )


def _is_study_line(text: str) -> bool:
    m = _STUDY_RE.match(text)
    if not m or _is_html_chrome(text):
        return False
    return bool(_STUDY_HEAD_RE.match(m["rest"])) or len(m["rest"].split()) >= 6


def _study_pieces(block: _HBlock) -> list[str]:
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


def _find_studies(blocks: Sequence[_HBlock], *, start: int) -> _StudyList:
    """The study list: study lines (type marks may sit in a block of their own), up to MORE."""
    entries: list[_Entry] = []
    first: int | None = None
    prefix = ""
    i = start
    while i < len(blocks):
        block = blocks[i]
        text = f"{prefix} {block.text}".strip() if prefix else block.text
        if _TYPE_ONLY_RE.match(block.text) and block.text != "MORE":
            prefix = text
            i += 1
            continue
        had_prefix, prefix = bool(prefix), ""
        if _MORE_RE.match(text):
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
            head = _STUDY_HEAD_RE.match(_STUDY_RE.match(last.text)["rest"])  # type: ignore[index]
            if _is_html_chrome(text) or block.heading:
                break
            if (head and not head["summary"].strip()) or not _ends_terminal(last.text):
                last.text = f"{last.text} {text}"  # a summary in a block of its own (<dd>)
                last.targets.extend(block.targets)
            else:
                break
        i += 1
    return _StudyList(entries, first, i)


# --------------------------------------------------------------------------- commentary


def _commentary_blocks(blocks: Sequence[_HBlock]) -> list[_HBlock]:
    """Chrome dropped (its anchors handed on), and the scraps before the first heading or
    sentence dropped: a sidebar left between the study list and the commentary."""
    kept: list[_HBlock] = []
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


def _is_sentence_block(block: _HBlock) -> bool:
    return block.words >= 12 and _ends_terminal(block.text)


def _heading_like(block: _HBlock) -> bool:
    if block.heading or block.bulleted or block.lead():
        return True
    return block.words <= 25 and "?" in block.text


def _first_content(blocks: Sequence[_HBlock]) -> int:
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
    blocks: Sequence[_HBlock], *, default_section: str
) -> tuple[list[_Draft], dict[str, str], list[str]]:
    """Passages in reading order, each anchor's section, and every heading."""
    drafts: list[_Draft] = []
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
                    drafts.append(_Draft(sec, role, text))
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
            drafts.append(_Draft(section, role, body))
        i += 1
    return drafts, anchors, headings


def _split_flow(block: _HBlock, context: str) -> tuple[str | None, str, PassageRole]:
    """``(heading or None, body, role)`` of a block in the commentary's flow."""
    text = block.text
    if block.heading:
        return text, "", "paragraph"
    lead = block.lead()
    if lead and len(lead.split()) <= 25 and (lead.endswith("?") or not _ends_terminal(lead)):
        rest = _strip_bullets(text[text.find(lead) + len(lead) :] if lead in text else text)
        if rest and (rest[0].isupper() or rest[0] in "\"'“‘(["):
            return lead.rstrip(":").strip(), rest, "paragraph"
    if block.bulleted:
        heading, body = _split_heading(text, bulleted=True, context=context)
        return heading, body, "paragraph"
    if not _ends_terminal(text) and not text.endswith("?"):
        if block.all_styled("italic") and block.words >= 5:
            return None, text, "quote"
        if block.all_styled("bold"):
            return (text, "", "paragraph") if block.words <= 9 else (None, text, "quote")
    heading, body = _split_heading(text, bulleted=False, context=context)
    if heading is not None:
        return heading, body, "paragraph"
    if _is_line_quote(text, context):
        return None, text, "quote"
    return None, text, "paragraph"


def _classify_box(
    group: Sequence[_HBlock], section: str
) -> Iterator[tuple[PassageRole, str, str, list[str]]]:
    """A pull quote (one unpunctuated line), a side panel (heading + paragraphs), or, for a
    quotation in a blockquote, plain paragraphs."""
    marks = [m for b in group for m in b.anchors]
    if len(group) == 1:
        text = group[0].text
        role: PassageRole = "paragraph" if _ends_terminal(text) or text.endswith("?") else "quote"
        yield role, section, text, marks
        return
    first = group[0]
    headed = first.heading or (
        not _ends_terminal(first.text) and first.words <= 15 and not first.text.endswith("?")
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


# --------------------------------------------------------------------------- other pages


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _generic_page(
    title: str, description: str, blocks: Sequence[_HBlock], name: str | None
) -> ParsedCell:
    """A page that is not a cell: its paragraphs, under their headings, titled by ``<title>``."""
    slug = _slug(name or "") or _slug(title)
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
        Passage(
            id=f"{key}/p{i}",
            cell=key,
            order=i,
            section=d.section,
            role=d.role,
            text=d.text,
            title=heading_title,
        )
        for i, d in enumerate(drafts, start=1)
    )
    return ParsedCell(cell=cell, studies=(), passages=passages)
