"""evsearch: full-text search over the Drug and Alcohol Findings Treatment Matrices.

>>> import evsearch
>>> with evsearch.ensure_index("index", "corpus") as idx:      # doctest: +SKIP
...     for hit in idx.search("motivational interviewing", limit=3).hits:
...         print(hit.rank, hit.id, hit.title)
"""

from __future__ import annotations

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
    QueryError,
)
from .index import build_index, default_corpus_dir, default_index_dir, update_index
from .ingest import parse_cell_text, read_cell_file
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
from .search import SearchIndex, ensure_index, open_index

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
    # BeautifulSoup costs 0.1 s to import: load the HTML reader only when it is asked for
    if name == "parse_cell_html":
        from .ingest_html import parse_cell_html

        return parse_cell_html
    raise AttributeError(f"module 'evsearch' has no attribute {name!r}")
