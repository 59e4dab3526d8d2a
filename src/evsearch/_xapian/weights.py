"""Xapian's BM25 turned into the Whoosh engine's BM25F, with what remote shards can run.

The wdfs already hold BM25F's combined frequencies (:mod:`.schema`); what differs is the idf.
Xapian's is ``log((N - n + 0.5) / (n + 0.5))`` (and ``log(r / 2 + 1)`` of that ratio ``r``
below 2), Lucene's, which the Whoosh engine uses, ``log(1 + (N - n + 0.5) / (n + 0.5))``.
Each scored term's weight is scaled (``OP_SCALE_WEIGHT``, built into Xapian, so it runs inside
``xapian-tcpsrv`` too, unlike a weighting scheme written in Python) by Lucene's idf over
Xapian's, from the statistics of all shards together, and scores are divided by Xapian's
``k1 + 1``: the Whoosh engine's numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..config import BM25_K1
from ..search.bm25f import lucene_idf
from . import load
from .query import PHRASE
from .schema import WDF_SCALE
from .shards import ShardSet

#: Xapian's BM25 multiplies every weight by ``k1 + 1``: dividing by it gives the Whoosh
#: engine's scores (BM25F's ``idf * tf / (k1 + tf)``), the same numbers for the same query.
SCORE_SCALE = BM25_K1 * WDF_SCALE + 1
#: Statistics kept between searches (forgotten when the shards change), at most this many.
MAX_KEPT = 100_000


def xapian_idf(n: int, df: int) -> float:
    """Xapian's BM25 idf (1.4): log((N - n + 0.5) / (n + 0.5)), halved towards 1 below 2."""
    r = (n - df + 0.5) / (df + 0.5)
    return math.log(r if r >= 2 else r * 0.5 + 1)


def synonym_frequency(n: int, freqs: list[int]) -> int:
    """The document frequency Xapian's BM25 gives a term (one frequency) or an
    ``OP_SYNONYM`` of terms: its estimate of their union, as if they were independent."""
    est = 0
    for df in freqs:
        est = int(est + df - est * df / n) if n else 0
    return est


def wdf_in(db: Any, docid: int, term: str) -> int:
    """A term's wdf in one document (0 when the document lacks it)."""
    tl = db.termlist(docid)
    try:
        item = tl.skip_to(term)
    except StopIteration:
        return 0
    found = item.term.decode("utf-8") if isinstance(item.term, bytes) else str(item.term)
    return int(item.wdf) if found == term else 0


class TermStats:
    """The factors that make Xapian's idf Lucene's, for the terms of the queries run on one
    set of shards; ``enquire(db, query, scored)`` is the searcher's (its BM25 parameters)."""

    def __init__(self, shards: ShardSet, enquire: Callable[[Any, Any, bool], Any]) -> None:
        self.shards = shards
        self.enquire = enquire
        self._freqs: dict[str, int] = {}
        self._n: int | None = None
        self._missing: tuple[str, ...] = ()
        self._phrases: dict[tuple[str, ...], float | None] = {}

    def forget(self) -> None:
        self._freqs.clear()
        self._phrases.clear()
        self._n = None

    def ratios(self, wanted: set[tuple[str, ...]]) -> dict[tuple[str, ...], float]:
        """Lucene's idf over Xapian's BM25 idf for each term (or group of fields' terms joined
        by ``OP_SYNONYM``, or phrase: ``(PHRASE, *words)``) in ``wanted``."""
        if tuple(self.shards.missing) != self._missing:  # a shard left out since: other totals
            self.forget()
        groups = sorted(g for g in wanted if g[0] != PHRASE)
        unknown = sorted({t for g in groups for t in g} - self._freqs.keys())
        if unknown or self._n is None:
            self._read(unknown)
        n = self._n or 0
        out = {}
        for group in groups:
            df = synonym_frequency(n, [self._freqs[t] for t in group])
            if df:
                out[group] = lucene_idf(n, df) / xapian_idf(n, df)
        for group in wanted:
            if group[0] != PHRASE:
                continue
            if group not in self._phrases:
                if len(self._phrases) > MAX_KEPT:
                    self._phrases.clear()
                self._phrases[group] = self._phrase_ratio(group[1:])
            ratio = self._phrases[group]
            if ratio:
                out[group] = ratio
        return out

    def _read(self, terms: list[str]) -> None:
        """The document count and these terms' frequencies over all the shards."""

        def run(db: Any) -> tuple[int, list[int]]:
            if not terms:
                return db.get_doccount(), []
            # one match of them all, counting nothing, brings every term's frequency from
            # every shard in one exchange a shard (not one a term and shard)
            Q = load().Query
            mset = self.enquire(db, Q(Q.OP_OR, [Q(t) for t in terms]), False).get_mset(0, 0)
            return db.get_doccount(), [int(mset.get_termfreq(t)) for t in terms]

        self._n, freqs = self.shards.run(run)
        self._missing = tuple(self.shards.missing)
        if len(self._freqs) > MAX_KEPT:
            self._freqs.clear()
        self._freqs.update(zip(terms, freqs, strict=True))

    def _phrase_ratio(self, words: tuple[str, ...]) -> float | None:
        """Lucene's idf over the one Xapian's BM25 gives a phrase (as one term, ``OP_SYNONYM``).

        Xapian weighs such a phrase with an estimate of the documents having it, and with
        the least wdf of its words in each document. One search finds how many documents
        really have it (counting every match) and the weight of the best; that weight, over
        the saturated least wdf of its words there, is the idf Xapian used."""
        k1 = BM25_K1 * WDF_SCALE

        def run(db: Any) -> float | None:
            Q = load().Query
            n = db.get_doccount()
            q = Q(Q.OP_SYNONYM, [Q(Q.OP_PHRASE, list(words), len(words))])
            mset = self.enquire(db, q, True).get_mset(0, 1, n)
            df = int(mset.get_matches_estimated())
            best = next(iter(mset), None)
            if not df or best is None:
                return None
            wdf = min(wdf_in(db, int(best.docid), w) for w in words)
            if wdf <= 0 or best.weight <= 0:
                return None
            idf_used = float(best.weight) / ((k1 + 1) * wdf / (k1 + wdf))
            return lucene_idf(n, df) / idf_used

        return self.shards.run(run)
