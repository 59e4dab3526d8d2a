"""HTML as blocks: decoding a saved page, parsing it, pruning site chrome, and cutting the tree
into blocks in reading order (with the bold/italic runs, anchors and links the reader keys on).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, Comment, Tag
from bs4.element import NavigableString

from evsearch.ingest.grammar import BULLETS, clean, ends_terminal

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


TYPE_ONLY_RE = re.compile(r"^(?:(?:[SKRG]|MORE)\s*)+$")


_SRC_TYPE_RE = re.compile(r"(?:^|[-_./])(?:type[-_]?)?([skrg])(?:[-_.]|$)", re.IGNORECASE)


_FUNC_CALL_RE = re.compile(r"\(\s*['\"]#?([\w:.-]+)['\"]")


def make_soup(text: str) -> BeautifulSoup:
    """``lxml`` where installed (fast, forgiving), else the standard library's parser."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bs4 warns about markup that looks like a file name
        try:
            return BeautifulSoup(text, "lxml")
        except Exception:  # bs4.FeatureNotFound when lxml is missing
            return BeautifulSoup(text, "html.parser")


def read_meta_description(soup: BeautifulSoup) -> str:
    tag = soup.find("meta", attrs={"name": re.compile(r"^description$", re.I)})
    content = tag.get("content") if isinstance(tag, Tag) else None
    return clean(content) if isinstance(content, str) else ""


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
        if len(piece.split()) >= 12 and ends_terminal(piece):
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


def flatten_deep(soup: BeautifulSoup, root: Tag, max_depth: int = MAX_DEPTH) -> None:
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


def prune(root: Tag) -> None:
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


@dataclass
class _Run:
    text: str
    bold: bool
    italic: bool


@dataclass
class HBlock:
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
                head = strip_bullets(clean(lead))
                return head if head and rest else None
            lead += run.text
        return None

    def all_styled(self, attr: str) -> bool:
        styled = [getattr(r, attr) for r in self.runs if r.text.strip()]
        return bool(styled) and all(styled)


def strip_bullets(text: str) -> str:
    return text.lstrip(BULLETS + " \u00a0").strip()


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


class Walker:
    """Walks the tree in reading order and cuts it into :class:`HBlock` s."""

    def __init__(self) -> None:
        self.blocks: list[HBlock] = []
        self.current = HBlock()
        self.pending: list[str] = []
        self.breaks = 0  # consecutive <br>
        self.boxes: list[tuple[int, str]] = []
        self.next_box = 0

    def run(self, root: Tag) -> list[HBlock]:
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
        block.bulleted = bool(stripped) and stripped[0] in BULLETS
        block.text = strip_bullets(clean(raw))
        block.lines = [line for line in map(clean, raw.split("\n")) if line]
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
        self.current = HBlock()
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
            elif alt and all(ch in BULLETS for ch in alt):
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
            if TYPE_ONLY_RE.match(inner) and name != "a":
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

