"""The engine seam: what ranking needs from a search engine, and nothing more.

Ranking (:mod:`evsearch.search.scorer` and :mod:`evsearch.search.rank`) computes BM25F,
paging, sorting and facets itself, with numpy, over *document numbers*: dense integers
``0 .. doc_count() - 1`` that stay valid while one open view of the index lives. It reads
the engine only through :class:`Backend`:

- ``postings(field, term)``: the term's document numbers (ascending, unique), its term
  frequencies, and its document frequency (the statistic idf uses). Deleted documents may be
  included: ranking drops every document that ``live()`` says is gone.
- ``field_lengths(field)``: every document's length of a scored field (0 when empty), as the
  engine records it (whoosh3 keeps a one-byte approximation; scores use what is recorded),
  or None for a field that is not scored (its stored weight is then the score).
- ``avg_field_length(field)``: the average Whoosh's own BM25F divides by (over all documents);
  ``total_field_length(field)``: the sum of a field's lengths (BM25F divides it by the number
  of documents that have the field, as Lucene does).
- ``phrase_frequencies(phrase)``: the documents holding a phrase and how often each does (a
  phrase is a term of BM25F like any other).
- ``column(field)``: the value of a sortable field for every document (``seq`` for cell
  order, ``year``, and the single-valued facet fields of
  :data:`evsearch.config.FACET_FIELDS`); indexable by document number, may be lazy.
- ``leaf_matches(query)``: documents and scores of a leaf ranking cannot score from postings
  alone (a phrase needs positions; a numeric range needs the engine's encoding).
- ``stored(docnum)``: the stored fields of one document, as :mod:`evsearch.index.schema`
  defines them (``id``, ``kind``, ``cell_key``, ``title``, ``text`` ...).
- ``terms(field)``: the vocabulary of a field (the many-valued facet ``type`` counts each).
- ``has_field(field)``: whether the index has that field indexed (older indexes may lack one).

The Whoosh implementation is :class:`evsearch._whoosh.backend.WhooshBackend`. The query
tree handed to ranking is built by :mod:`evsearch.search.plan` from ``whoosh.query``'s public
classes used as plain data (``Term``, ``Phrase``, ``Or``, ``And``, ``AndMaybe``,
``DisjunctionMax``, ``NumericRange``); ``leaf_matches`` receives only its ``Phrase`` and
``NumericRange`` leaves.

The Xapian engine (:mod:`evsearch._xapian`) does not implement this protocol: it meets the
query layer one step higher, at the plan. Its shards may be remote, and ranking from posting
lists would pull every query term's whole posting list over the network from every shard;
Xapian ranks inside each shard's server with statistics merged across shards, and returns
only the page. So :class:`evsearch._xapian.engine.XapianIndex` takes the same plan (built by
the same code, with the same synonyms, prefixes, corrections and feedback) and runs it with
Xapian's own BM25, match spies and value sorts (``SearchIndex._run`` is what it overrides).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np


class Backend(Protocol):
    """Postings, statistics, columns and stored fields of one open view of an index."""

    def doc_count(self) -> int:
        """How many document numbers there are (deleted documents included)."""
        ...

    def live(self) -> np.ndarray:
        """A boolean array over document numbers: True where the document is not deleted."""
        ...

    def has_field(self, field: str) -> bool:
        """Whether ``field`` is an indexed field of this index."""
        ...

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray, int]:
        """``(ids int64, term frequencies float64, document frequency)`` of one term."""
        ...

    def field_lengths(self, field: str) -> np.ndarray | None:
        """Every document's length of ``field`` (float64), or None if it is not scored."""
        ...

    def avg_field_length(self, field: str) -> float:
        """The average length of ``field`` over all documents (1 when there is none)."""
        ...

    def total_field_length(self, field: str) -> float:
        """The sum of every document's length of ``field``."""
        ...

    def phrase_frequencies(self, phrase: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, frequencies)`` of a ``Phrase``: where it occurs and how often, ids ascending."""
        ...

    def scored_query(self, ids: np.ndarray, scores: np.ndarray) -> Any:
        """A query of the engine that matches ``ids`` with ``scores`` (for searching a query
        shape the array scorer does not know with the engine's own collectors)."""
        ...

    def terms(self, field: str) -> list[str]:
        """Every term of ``field`` (for counting a many-valued facet)."""
        ...

    def column(self, field: str) -> Sequence[Any]:
        """The sortable values of ``field``, indexable by document number."""
        ...

    def leaf_matches(self, query: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, scores)`` of a phrase or range leaf, ids ascending, the leaf's boost applied."""
        ...

    def stored(self, docnum: int) -> dict[str, Any]:
        """The stored fields of one document."""
        ...
