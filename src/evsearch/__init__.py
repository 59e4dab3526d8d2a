"""evsearch: full-text search over the Drug and Alcohol Findings Treatment Matrices.

>>> import evsearch
>>> with evsearch.ensure_index(index="index", corpus="corpus") as idx:   # doctest: +SKIP
...     for hit in idx.search("motivational interviewing", limit=3).hits:
...         print(hit.rank, hit.id, hit.title)
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

from ._version import __version__
from .errors import (
    CorpusError,
    DocumentNotFoundError,
    EvsearchError,
    IndexBusyError,
    IndexCorruptError,
    IndexMissingError,
    IndexProblem,
    IndexVersionError,
    IngestError,
    NoSpaceError,
    QueryError,
)
from .model import Cell, ParsedCell, Passage, Study
from .results import (
    DocumentView,
    Explanation,
    FacetCount,
    Facets,
    FileProblem,
    Hit,
    IndexReport,
    IndexStats,
    Related,
    SearchResult,
    SimilarResult,
    TermScore,
)

if _typing.TYPE_CHECKING:
    from .config import default_corpus_dir, default_index_dir
    from .index import build_index, update_index
    from .ingest import parse_cell_html, parse_cell_text, read_cell_file
    from .search import SearchIndex, ensure_index, open_index

#: Names loaded on first use, so that ``import evsearch`` and ``evsearch --help`` import
#: neither Whoosh nor numpy, and the HTML reader (BeautifulSoup) loads only when it is used.
_LAZY: dict[str, str] = {
    "SearchIndex": "search",
    "build_index": "index",
    "default_corpus_dir": "config",
    "default_index_dir": "config",
    "ensure_index": "search",
    "open_index": "search",
    "parse_cell_html": "ingest",
    "parse_cell_text": "ingest",
    "read_cell_file": "ingest",
    "update_index": "index",
}

__all__ = [
    "Cell",
    "CorpusError",
    "DocumentNotFoundError",
    "DocumentView",
    "EvsearchError",
    "Explanation",
    "FacetCount",
    "Facets",
    "FileProblem",
    "Hit",
    "IndexBusyError",
    "IndexCorruptError",
    "IndexMissingError",
    "IndexProblem",
    "IndexReport",
    "IndexStats",
    "IndexVersionError",
    "IngestError",
    "NoSpaceError",
    "ParsedCell",
    "Passage",
    "QueryError",
    "Related",
    "SearchIndex",
    "SearchResult",
    "SimilarResult",
    "Study",
    "TermScore",
    "__version__",
    "build_index",
    "default_corpus_dir",
    "default_index_dir",
    "ensure_index",
    "open_index",
    "parse_cell_html",
    "parse_cell_text",
    "read_cell_file",
    "update_index",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'evsearch' has no attribute {name!r}")
    value = getattr(_importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
