"""How an evsearch document is laid out in a Xapian document: terms, positions, values, data.

Ranking uses Xapian's own BM25 over **unprefixed** terms whose within-document frequency is
each field's weight times the term's frequency there (BM25F with field weights as wdf
increments; see :data:`FIELD_WDF`). They carry the positions, numbered on across fields with
a gap of :data:`FIELD_GAP`, so a phrase never spans two fields. Each field's terms are also
indexed with a prefix and a wdf of 0, without positions: they give ``title:``-style
restrictions and per-field document frequencies (feedback) but add nothing to the document
length, so the length BM25 normalises by is the weighted length of the fields. A phrase in
one field is the unprefixed phrase, restricted to documents with all its words in that field
(positions are written once: they are most of the cost of adding a document).

Filters are boolean terms; facets and sorting read value slots; the stored fields are the
document data (JSON), so snippets, ``show`` and ``similar`` need nothing else.
"""

from __future__ import annotations

import zlib

from ..config import FIELD_WEIGHTS

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
#: Unstemmed words, for spelling suggestions (boolean terms: document frequency only).
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

def _wdf_scale(weights: dict[str, float]) -> int:
    """The smallest factor that makes every field weight an integer (wdf is an integer)."""
    for scale in range(1, 101):
        if all(abs(w * scale - round(w * scale)) < 1e-9 and round(w * scale) > 0 for w in weights.values()):
            return scale
    raise ValueError(f"field weights {weights} have no small integer multiple")


#: Field weights as integer wdf increments: :data:`evsearch.config.FIELD_WEIGHTS` times
#: :data:`WDF_SCALE`. Scaling every wdf by s equals dividing BM25's k1 by s, so the
#: weighting uses ``k1 * WDF_SCALE`` and ranks as the unscaled weights would.
WDF_SCALE = _wdf_scale(FIELD_WEIGHTS)
FIELD_WDF: dict[str, int] = {f: round(w * WDF_SCALE) for f, w in FIELD_WEIGHTS.items()}
#: Positions of consecutive fields are this far apart, so no phrase spans two fields.
FIELD_GAP = 100
#: Xapian refuses terms longer than 245 bytes; longer words are not indexed.
MAX_TERM_BYTES = 240

#: Database metadata keys.
META_FILES = "evsearch.files"  # this shard's part of the file manifest (JSON)
META_INFO = "evsearch.info"  # schema version, shard number and count, corpus (JSON)


def shard_of(cell: str, shards: int) -> int:
    """The shard holding cell ``cell`` (``"alcohol/B5"``): a stable hash, the same everywhere."""
    if shards <= 1:
        return 0
    return zlib.crc32(cell.encode("utf-8")) % shards


def shard_name(i: int) -> str:
    return f"shard-{i:03d}"
