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
from .results import DocumentView, FileProblem, Hit, IndexReport, IndexStats, SearchResult
from .search import SearchIndex, ensure_index, open_index

__all__ = [
    "Cell",
    "CorpusError",
    "DocumentNotFoundError",
    "DocumentView",
    "EvsearchError",
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
    "SearchIndex",
    "SearchResult",
    "Study",
    "__version__",
    "build_index",
    "default_corpus_dir",
    "default_index_dir",
    "ensure_index",
    "open_index",
    "parse_cell_text",
    "read_cell_file",
    "update_index",
]
