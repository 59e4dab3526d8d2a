"""How an evsearch document is laid out in a Xapian document: terms, positions, values, data.

Ranking is BM25F (as :mod:`evsearch.search.bm25f` defines it for the Whoosh engine) with its
per-field length normalisation done at index time. Each **unprefixed** term's within-document
frequency is

    wdf = round(WDF_SCALE * sum over fields f of w_f * tf_f / ((1 - b_f) + b_f * len_f / avg_f))

(at least 1 where the term occurs; see :func:`bm25f_wdf`), with ``len_f`` the field's length
as the Whoosh engine stores it (:func:`evsearch.search.bm25f.stored_length`), and Xapian's
BM25 runs with ``b = 0`` and ``k1 = BM25_K1 * WDF_SCALE``, so a term scores
``idf * (k1 + 1) tf~ / (k1 + tf~)`` with ``tf~`` BM25F's combined frequency. The searcher
scales each term's weight by Lucene's idf over Xapian's and divides scores by ``k1 + 1``
(:mod:`.searcher`): the Whoosh engine's BM25F, number for number. ``avg_f`` is field ``f``'s
average length over the documents that have it, computed over every document of a build (all
shards) and recorded in each shard's metadata (:data:`META_AVGLEN`); an incremental update
normalises the documents it adds by those stored averages, which stay fixed until the next
rebuild.

The unprefixed terms carry the positions, numbered on across fields with a gap of
:data:`FIELD_GAP`, so a phrase never spans two fields. Each field's terms are also indexed
with a prefix, without positions: they give ``title:``-style restrictions and
per-field document frequencies (feedback). A phrase in one field is the unprefixed phrase,
restricted to documents with all its words in that field (positions are written once: they
are most of the cost of adding a document). The prefixed terms' wdf is their field's own
share of the sum above (``WDF_SCALE * w_f * tf_f / norm_f``): a word searched in some fields
only (``title:x``, feedback terms in the body text) ranks by BM25F over those fields.

Filters are boolean terms; facets and sorting read value slots; the stored fields are the
document data (JSON), so snippets, ``show`` and ``similar`` need nothing else.
"""

from __future__ import annotations

import zlib

from ..config import BM25_B, FIELD_B, FIELD_WEIGHTS

#: The prefix of each text field's own (position-carrying, wdf 0) terms.
FIELD_PREFIX: dict[str, str] = {
    "title": "S",
    "doc_title": "XD",
    "section": "XS",
    "text": "XT",
    "organisation": "XO",
    "meta": "XM",
}
#: Boolean (filter) term prefixes.
BOOL_PREFIX: dict[str, str] = {
    "id": "Q",
    "kind": "XK",
    "type": "XY",
    "cell": "XC",
    "matrix": "XX",
    "source": "XF",
}
#: Unstemmed words, for spelling corrections and suggestions, are not terms of the documents
#: (they were a third of all terms written): each shard keeps, per word, the number of its
#: documents that have it, as a metadata entry ``WORD_PREFIX + word`` -> the count in decimal
#: ASCII (no other metadata key starts with it), counted when the shard is written and kept
#: up to date by incremental updates. The searcher adds the shards' counts up.
WORD_PREFIX = "W"

#: Value slots.
SLOT_YEAR = 0  # xapian.sortable_serialise(year); empty when undated
SLOT_KIND = 1
SLOT_TYPE = 2  # "k", or "s g" for a study of two types (split when counted)
SLOT_CELL = 3  # "alcohol/B5"
SLOT_MATRIX = 4
SLOT_SEQ = 5  # "alcohol/B5|0|000001": cell order, the tie-break of every ordering
SLOT_UNDATED = 6  # "0" dated, "1" undated
#: The year sorts' keys, one slot per direction (Xapian's remote backend sorts by one value,
#: not by a key maker): "0" + the year (or 9999 - the year), undated documents "1", last.
SLOT_YEAR_ASC = 7
SLOT_YEAR_DESC = 8


def year_keys(year: int | None) -> tuple[str, str]:
    """The ascending and descending sort keys of a year."""
    if year is None:
        return "1", "1"
    return f"0{year:04d}", f"0{9999 - year:04d}"


#: BM25F's normalised frequencies are fractional; wdf is an integer, so they are scaled by
#: this and rounded (an error of at most 1/(2 * WDF_SCALE) of an occurrence: with 50, scores
#: differed from the Whoosh engine's by up to 2%, with 1,000 by under 0.1%, for 1% more
#: index). Scaling every wdf by s equals dividing BM25's k1 by s, so the weighting uses
#: ``k1 * WDF_SCALE``. With b > 0 a wdf is at most about 1.3 * WDF_SCALE * w_f * avg_f; a
#: field with b = 0 (organisation, meta: short labels) would need 4 million words to pass
#: Xapian's 32-bit document length.
WDF_SCALE = 1000
#: Each text field's BM25F weight and length-normalisation strength, as the Whoosh engine's.
FIELD_BM25F: dict[str, tuple[float, float]] = {
    f: (w, FIELD_B.get(f, BM25_B)) for f, w in FIELD_WEIGHTS.items()
}
#: What a Xapian index's wdfs were computed with (recorded in the generation's metadata: an
#: index written with other values must be rebuilt).
RANKING: dict[str, object] = {
    "bm25f": 2,
    "words": "metadata",  # where the spelling vocabulary is (an index without it is rebuilt)
    "wdf_scale": WDF_SCALE,
    "fields": {f: [w, b] for f, (w, b) in FIELD_BM25F.items()},
}


def average_lengths(totals: dict[str, int], having: dict[str, int]) -> dict[str, float]:
    """Each field's average length over the documents that have it (1 when none has it)."""
    return {f: (totals.get(f, 0) / having[f]) if having.get(f) else 1.0 for f in FIELD_BM25F}


def bm25f_wdf(weighted: float) -> int:
    """The wdf of a term whose BM25F normalised frequency is ``weighted`` (> 0)."""
    return round(WDF_SCALE * weighted) or 1


#: Positions of consecutive fields are this far apart, so no phrase spans two fields.
FIELD_GAP = 100
#: Xapian refuses terms longer than 245 bytes; longer words are not indexed (nor counted as
#: spelling words: their metadata key would be as long).
MAX_TERM_BYTES = 240

#: Database metadata keys.
META_FILES = "evsearch.files"  # this shard's part of the file manifest (JSON)
META_INFO = "evsearch.info"  # schema version, shard number and count, corpus (JSON)
META_AVGLEN = "evsearch.avglen"  # each field's average length at build time (JSON)
META_CORPUS = "evsearch.corpus"  # a --shard build's map of every corpus file it saw (JSON)


def shard_of(cell: str, shards: int) -> int:
    """The shard holding cell ``cell`` (``"alcohol/B5"``): a stable hash, the same everywhere."""
    if shards <= 1:
        return 0
    return zlib.crc32(cell.encode("utf-8")) % shards


def shard_name(i: int) -> str:
    return f"shard-{i:03d}"
