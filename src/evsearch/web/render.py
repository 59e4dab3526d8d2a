"""What the templates need beyond the result types: safe snippets, names, the year chart, paging.

Corpus text and queries reach the page only through Jinja2's autoescaping, after escape
sequences, control characters and bidi overrides are stripped (as for the terminal); the one
exception is a snippet, whose only markup, ``<mark>``, is rebuilt here around re-escaped text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

from markupsafe import Markup

from .._sanitize import clean_terminal
from ..config import STUDY_TYPE_LABELS
from ..results import FacetCount
from .params import SearchParams

ROLE_NAMES = {"description": "cell description", "quote": "pull quote", "panel": "side panel"}
KIND_PLURALS = {"study": "studies", "passage": "passages", "record": "records"}


def kind_label(kind: str, role: str | None) -> str:
    """What a non-study document is, for its badge: ``commentary``, ``pull quote``, ``record``."""
    if kind == "passage":
        return ROLE_NAMES.get(role or "", "commentary")
    return kind
#: Facet values that the ``cell=`` parameter accepts (other layouts' cells are shown unlinked).
_CELL_VALUE = re.compile(r"^(?:alcohol|drugs?)/[A-Ea-e][1-5]$")
_MARK = re.compile(r"(<mark>.*?</mark>)", re.DOTALL)


def clean(text: object) -> str:
    """Corpus text fit to show: no escapes, control characters or bidi overrides."""
    return clean_terminal("" if text is None else str(text))


def snippet_html(snippet: str) -> Markup:
    """A library snippet as markup whose only tags are ``<mark>``: every other part is
    unescaped, cleaned and escaped again, so nothing else in it can become markup."""
    out = []
    for part in _MARK.split(snippet):
        if part.startswith("<mark>") and part.endswith("</mark>"):
            out.append(f"<mark>{html.escape(clean(html.unescape(part[6:-7])))}</mark>")
        else:
            out.append(html.escape(clean(html.unescape(part))))
    return Markup("".join(out))


def doc_path(doc_id: str) -> str:
    """The document page's path: ``/doc/alcohol/B5/s1``."""
    return "/doc/" + quote(doc_id, safe="/")


def type_names(study_type: str | None) -> str:
    """``"S G"`` -> ``"seminal study, guidance"``."""
    return ", ".join(STUDY_TYPE_LABELS.get(t, t) for t in (study_type or "").split())


def cell_linkable(value: str) -> bool:
    return bool(_CELL_VALUE.match(value))


@dataclass(frozen=True)
class Bar:
    year: int
    count: int
    x: float
    y: float
    height: float
    href: str
    selected: bool


@dataclass(frozen=True)
class YearChart:
    bars: tuple[Bar, ...]
    width: float
    height: float
    first: int
    last: int
    bar_width: float
    first_x: float  # where the first and the last year's labels go (their bars' centres)
    last_x: float


#: A chart is drawn with room for at least this many years, so that a few bars stay narrow.
MIN_CHART_YEARS = 12


def year_chart(years: Iterable[FacetCount], params: SearchParams, *, width: float = 200,
               height: float = 60) -> YearChart | None:
    """The matches per year as bars of an SVG chart ``width`` wide, each a link filtering on
    its year (or, when selected, removing that filter); years without matches between the
    first and the last leave a gap, and a short span of years is centred."""
    counts = {}
    for c in years:
        try:
            counts[int(c.value)] = c.count
        except ValueError:
            continue
    if not counts:
        return None
    first, last = min(counts), max(counts)
    span = last - first + 1
    step = width / max(span, MIN_CHART_YEARS)
    offset = (width - span * step) / 2
    bar_width = max(step * 0.8, 0.5)
    top = max(counts.values())
    bars = []
    for year, count in sorted(counts.items()):
        h = max(2.0, height * count / top)
        selected = params.year_from == year and params.year_to == year
        href = params.url(year_from=None, year_to=None) if selected else params.url(
            year_from=year, year_to=year)
        x = offset + (year - first) * step + (step - bar_width) / 2
        bars.append(Bar(year, count, round(x, 2), round(height - h, 2), round(h, 2), href, selected))
    centre = step / 2
    return YearChart(tuple(bars), width, height, first, last, round(bar_width, 2),
                     round(offset + centre, 2), round(offset + (span - 1) * step + centre, 2))


def page_links(page: int, pages: int, around: int = 2) -> list[int | None]:
    """Page numbers to link: the first, the last, and ``around`` either side of ``page``;
    ``None`` where numbers are left out."""
    if pages <= 1:
        return []
    wanted = {1, pages, *range(max(1, page - around), min(pages, page + around) + 1)}
    out: list[int | None] = []
    previous = 0
    for n in sorted(wanted):
        if n - previous > 1:
            out.append(None)
        out.append(n)
        previous = n
    return out
