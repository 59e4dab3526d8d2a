"""Running query plans on Xapian shards: matching, BM25 ranking, year sorts, facets by
match spies, and snippets cut from the stored text by the shared highlighter.

:class:`XapianSearcher` is one opened state of the shards. It also answers what the shared
query layer asks of an engine while it builds a plan (``reader()``, prefix expansion,
document frequencies, spelling candidates), so plans, corrections and synonyms are the
shared code (:mod:`evsearch.search.plan`, :mod:`evsearch.search.extras`).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import highlight
from whoosh import query as wq

from ..analysis import _shared_analyzer
from ..config import BM25_K1, FIELD_WEIGHTS, MAX_PREFIX_TERMS, SHARD_CONNECT_TIMEOUT
from ..errors import IndexCorruptError
from ..results import Facets
from ..search.extras import labels_of
from ..search.rank import _facets_from_groups
from ..search.snippets import SNIPPET_CHARS, MarkFormatter
from . import load
from .query import Translator
from .schema import (
    BOOL_PREFIX,
    FIELD_PREFIX,
    MAX_TERM_BYTES,
    META_FILES,
    META_INFO,
    SLOT_CELL,
    SLOT_KIND,
    SLOT_MATRIX,
    SLOT_SEQ,
    SLOT_TYPE,
    SLOT_YEAR,
    SLOT_YEAR_ASC,
    SLOT_YEAR_DESC,
    WDF_SCALE,
    WORD_PREFIX,
    shard_name,
)
from .shards import (
    ShardAddress,
    ShardSet,
    _damaged,
    _open_one,
    _unavailable,
    refuse_symlinks,
    timeout,
)
from .weights import SCORE_SCALE, TermStats
from .writer import boolean_term

#: Xapian's ``min_normlen`` (its default). With ``b = 0`` it has no effect: the length
#: normalisation is BM25F's, per field, done at index time (see :mod:`.schema`).
MIN_NORMLEN = 0.5
#: The facets counted with ``facets=True``: name -> (value slot, several values per document).
FACET_SLOTS: dict[str, tuple[int, bool]] = {
    "kind": (SLOT_KIND, False),
    "type": (SLOT_TYPE, True),
    "year": (SLOT_YEAR, False),
    "matrix": (SLOT_MATRIX, False),
    "cell": (SLOT_CELL, False),
}
_TEXT_FIELDS = frozenset(FIELD_PREFIX)


def shard_addresses(index_dir: Path, meta: dict[str, Any], gen_path: Path) -> list[ShardAddress]:
    """The local shard databases of a generation."""
    built = meta.get("built")
    if not isinstance(built, list) or not built:
        raise IndexCorruptError(f"the index at {index_dir} names no Xapian shards")
    paths = [gen_path / shard_name(int(i)) for i in built]
    refuse_symlinks(paths)
    return [ShardAddress(path=p) for p in paths]


@dataclass
class _Match:
    docid: int
    weight: float
    stored: dict[str, Any]
    seq: str
    key: str  # the year sort's key (see ``schema.year_keys``), or ""


def _decode(b: Any) -> str:
    return b.decode("utf-8") if isinstance(b, bytes) else str(b)


class XapianSearcher:
    """One opened state of the shards: what the shared query layer asks of an engine
    (``reader()``, ``doc_count()``, prefix expansion, document frequencies, spelling
    candidates) and the Xapian-specific work of running a plan."""

    def __init__(self, shards: ShardSet) -> None:
        self.xapian = load()
        self.shards = shards
        self.translator = Translator(self.xapian, FIELD_WEIGHTS)
        self.schema = frozenset([*FIELD_PREFIX, "words"])
        self.stats = TermStats(shards, self._enquire)

    def refresh(self) -> bool:
        """See the shards' latest commits (and forget statistics when they changed); True
        if any changed."""
        if self.shards.reopen():
            self.stats.forget()
            return True
        return False

    # -- what the shared query layer reads -----------------------------------------------------
    def reader(self) -> XapianSearcher:
        return self

    def doc_count(self) -> int:
        return int(self.shards.run(lambda db: db.get_doccount()))

    doc_count_all = doc_count  # what the query layer asks when it keeps a long query's best words

    def _prefix(self, fieldname: str) -> str:
        return FIELD_PREFIX[fieldname]

    def _words(self, head: str, limit: int | None = None) -> list[str]:
        """The spelling words starting with ``head``, in order, over every shard (at most
        ``limit``): the shards' metadata keys (see :data:`.schema.WORD_PREFIX`)."""
        p = WORD_PREFIX

        def keys(db: Any) -> list[str]:
            found: set[str] = set()
            for part in self.shards.parts:
                k = 0
                for key in part.metadata_keys(p + head):
                    found.add(_decode(key)[len(p):])
                    k += 1
                    if limit is not None and k >= limit:
                        break
            return sorted(found)[:limit]

        return self.shards.run(keys)

    def expand_prefix(self, fieldname: str, prefix: str) -> Iterator[str]:
        if fieldname == "words":
            return iter(self._words(prefix, MAX_PREFIX_TERMS))
        p = self._prefix(fieldname)

        def terms(db: Any) -> list[str]:
            out = []
            for item in db.allterms(p + prefix):
                out.append(_decode(item.term)[len(p):])
                if len(out) >= MAX_PREFIX_TERMS:
                    break
            return out

        return iter(self.shards.run(terms))

    def doc_frequency(self, fieldname: str, term: str) -> int:
        if fieldname == "words":
            key = WORD_PREFIX + term
            if not term or len(key.encode("utf-8")) > MAX_TERM_BYTES + len(WORD_PREFIX):
                return 0  # no word counted is empty or this long (nor may a metadata key be)
            return int(self.shards.run(
                lambda db: sum(int(part.get_metadata(key) or 0) for part in self.shards.parts)
            ))
        t = self._prefix(fieldname) + term
        return int(self.shards.run(lambda db: db.get_termfreq(t)))

    def terms_within(self, fieldname: str, word: str, maxdist: int, prefix: int = 0) -> list[str]:
        """Index words within ``maxdist`` edits of ``word`` sharing its first ``prefix`` chars."""
        head = word[:prefix]
        if fieldname == "words":
            return [c for c in self._words(head)
                    if abs(len(c) - len(word)) <= maxdist and _within(word, c, maxdist)]
        p = self._prefix(fieldname)

        def scan(db: Any) -> list[str]:
            out = []
            for item in db.allterms(p + head):
                cand = _decode(item.term)[len(p):]
                if abs(len(cand) - len(word)) <= maxdist and _within(word, cand, maxdist):
                    out.append(cand)
            return out

        return self.shards.run(scan)

    # -- documents ---------------------------------------------------------------------------
    def docid(self, doc_id: str) -> int | None:
        term = boolean_term(BOOL_PREFIX["id"], doc_id)

        def find(db: Any) -> int | None:
            for item in db.postlist(term):
                return int(item.docid)
            return None

        return self.shards.run(find)

    def stored(self, docid: int) -> dict[str, Any]:
        return self.fields(self.shards.run(lambda db: db.get_document(docid).get_data()), docid)

    def fields(self, data: Any, docid: int) -> dict[str, Any]:
        """A document's stored fields from its data (a damaged one: the error naming its shard)."""
        try:
            fields = json.loads(data)
        except ValueError:
            fields = None
        if not isinstance(fields, dict):
            raise IndexCorruptError(
                f"a stored document in the Xapian shard {self.shards.holder(docid)} is damaged"
            )
        return fields

    # -- running plans -------------------------------------------------------------------------
    def _enquire(self, db: Any, xq: Any, scored: bool) -> Any:
        x = self.xapian
        enquire = x.Enquire(db)
        enquire.set_query(xq)
        if scored:
            enquire.set_weighting_scheme(
                x.BM25Weight(BM25_K1 * WDF_SCALE, 0, 0, 0, MIN_NORMLEN)
            )
        else:
            enquire.set_weighting_scheme(x.BoolWeight())
        return enquire

    def compose(self, q: Any, fq: Any, mask: Any) -> Any:
        Q = self.xapian.Query
        xq = self.translate(q)
        if fq is not None:
            xq = Q(Q.OP_FILTER, xq, self.translator.boolean(fq))
        if mask is not None:
            xq = Q(Q.OP_AND_NOT, xq, self.translator.boolean(mask))
        return xq

    def translate(self, q: Any) -> Any:
        """The Xapian query of a plan, its terms' weights scaled to Lucene's idf: the plan is
        translated once to learn its terms, their statistics are read in one round trip, and
        it is translated again with them."""
        probe = Translator(self.xapian, FIELD_WEIGHTS)
        probe.query(q)
        return Translator(self.xapian, FIELD_WEIGHTS, self.stats.ratios(probe.wanted)).query(q)

    def _matches(self, mset: Any, key_slot: int | None = None) -> list[_Match]:
        out = []
        for m in mset:
            doc = m.document
            key = _decode(doc.get_value(key_slot)) if key_slot is not None else ""
            out.append(_Match(int(m.docid), float(m.weight) / SCORE_SCALE,
                              self.fields(doc.get_data(), int(m.docid)),
                              _decode(doc.get_value(SLOT_SEQ)), key))
        return out

    def top(self, q: Any, fq: Any, mask: Any, k: int) -> list[_Match]:
        """The ``k`` best matches by relevance (ties in cell order)."""
        xq = self.compose(q, fq, mask)

        def run(db: Any) -> list[_Match]:
            enquire = self._enquire(db, xq, True)
            enquire.set_sort_by_relevance_then_value(SLOT_SEQ, False)
            return self._matches(enquire.get_mset(0, k))

        return self.shards.run(run)

    def page(self, q: Any, fq: Any, mask: Any, opts: Any) -> tuple[int, list[_Match], Facets | None]:
        """The total, one page of matches in ``opts.sort`` order, and the facets if asked for."""
        scored = not isinstance(q, wq.Every)
        xq = self.compose(q, fq, mask)
        start, end = (opts.page - 1) * opts.limit, opts.page * opts.limit

        def run(db: Any) -> tuple[int, list[_Match], Facets | None]:
            everything = db.get_doccount()
            enquire = self._enquire(db, xq, scored)
            if opts.sort == "relevance":
                if scored:
                    enquire.set_sort_by_relevance_then_value(SLOT_SEQ, False)
                else:
                    enquire.set_sort_by_value(SLOT_SEQ, False)
                mset = enquire.get_mset(start, opts.limit, everything)
                total, found = int(mset.get_matches_estimated()), self._matches(mset)
            else:
                total, found = self._by_year(db, enquire, xq, scored, opts.sort == "-year", end, everything)
                found = found[start:end]
            facets = self._count_facets(db, xq, everything) if opts.facets else None
            return total, found, facets

        return self.shards.run(run)

    def _by_year(
        self, db: Any, enquire: Any, xq: Any, scored: bool, newest: bool, end: int, everything: int
    ) -> tuple[int, list[_Match]]:
        """The first ``end`` matches by year (undated last), then score, then cell order.

        Xapian sorts by the year key and then by relevance, but breaks the remaining ties by
        document id, which differs between one database and shards. So the matches of every
        year wholly inside the first ``end`` are re-sorted here, and the year cut at ``end``
        is fetched again on its own, by relevance and then cell order."""
        Q = self.xapian.Query
        slot = SLOT_YEAR_DESC if newest else SLOT_YEAR_ASC
        enquire.set_sort_by_value_then_relevance(slot, False)
        mset = enquire.get_mset(0, end, everything)
        total = int(mset.get_matches_estimated())
        found = self._matches(mset, slot)

        def order(m: _Match) -> tuple[Any, ...]:
            return (m.key, -m.weight if scored else 0.0, m.seq)

        if total <= end:
            return total, sorted(found, key=order)
        cut = found[-1].key
        whole = sorted((m for m in found if m.key < cut), key=order)
        again = self._enquire(db, Q(Q.OP_FILTER, xq, Q(Q.OP_VALUE_RANGE, slot, cut, cut)), scored)
        if scored:
            again.set_sort_by_relevance_then_value(SLOT_SEQ, False)
        else:
            again.set_sort_by_value(SLOT_SEQ, False)
        rest = self._matches(again.get_mset(0, end - len(whole)), slot)
        return total, whole + rest

    def _count_facets(self, db: Any, xq: Any, everything: int) -> Facets:
        """Facet counts over every match, by match spies on the value slots.

        A pass of its own, unsorted and unweighted: with shards served remotely, Xapian
        1.4's spies count some documents twice when the match is sorted by value."""
        x = self.xapian
        enquire = self._enquire(db, xq, False)
        spies = {}
        for name, (slot, _) in FACET_SLOTS.items():
            spies[name] = x.ValueCountMatchSpy(slot)
            enquire.add_matchspy(spies[name])
        enquire.get_mset(0, 0, everything)
        groups: dict[str, dict[Any, int]] = {}
        for name, spy in spies.items():
            counts: Counter[Any] = Counter()
            for item in spy.values():
                value = _decode(item.term) if name != "year" else item.term
                if name == "year":
                    counts[int(x.sortable_unserialise(value))] += int(item.termfreq)
                elif FACET_SLOTS[name][1]:
                    for part in set(value.split()):
                        counts[part] += int(item.termfreq)
                else:
                    counts[value] += int(item.termfreq)
            groups[name] = dict(counts)
        return _facets_from_groups(groups)

    def filtered(self, fq: Any) -> list[dict[str, Any]]:
        """The stored fields of every document passing ``fq`` (all of them for None), in cell order."""
        Q = self.xapian.Query
        xq = Q.MatchAll if fq is None else Q(Q.OP_FILTER, Q.MatchAll, self.translator.boolean(fq))

        def run(db: Any) -> list[dict[str, Any]]:
            enquire = self._enquire(db, xq, False)
            enquire.set_sort_by_value(SLOT_SEQ, False)
            return [self.fields(m.document.get_data(), int(m.docid))
                    for m in enquire.get_mset(0, db.get_doccount())]

        return self.shards.run(run)

    def term_score(self, q: Any, doc_id: str, docid: int) -> float | None:
        """The score of one document for the plan ``q`` alone (None when it does not match)."""
        Q = self.xapian.Query
        xq = self.translate(q)
        only = Q(boolean_term(BOOL_PREFIX["id"], doc_id))

        def run(db: Any) -> float | None:
            enquire = self._enquire(db, Q(Q.OP_FILTER, xq, only), True)
            for m in enquire.get_mset(0, 10):
                if int(m.docid) == docid:
                    return float(m.weight) / SCORE_SCALE
            return None

        return self.shards.run(run)

    def key_terms(self, docid: int, k: int) -> list[tuple[str, float]]:
        """The ``k`` terms that best tell a document apart, with their weights: its ranking
        terms by (weighted) frequency times idf over the whole index. (Xapian's own expand set
        weighs remote shards' terms by each shard's statistics, so shards would disagree.)"""

        def run(db: Any) -> list[tuple[str, float]]:
            n = db.get_doccount()
            scored = []
            for item in db.termlist(docid):
                term = _decode(item.term)
                if not term or term[:1].isupper() or term.isdigit() or not item.wdf:
                    continue
                df = db.get_termfreq(term)
                if df:
                    scored.append((term, float(item.wdf) * math.log((n + 1) / df)))
            scored.sort(key=lambda tw: (-tw[1], tw[0]))
            return scored[:k]

        return self.shards.run(run)

    def shard_metadata(self) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        """Each shard's name, file manifest and info, read from the shard itself (a shard
        that does not answer is named in an error, or with ``partial`` left out)."""
        x = self.xapian
        out = []
        for addr in self.shards.shards:
            if addr.name in self.shards.missing:
                continue
            try:
                db = _open_one(x, addr, timeout() if addr.path is None else 0.0, SHARD_CONNECT_TIMEOUT)
                try:
                    files, info = db.get_metadata(META_FILES), db.get_metadata(META_INFO)
                finally:
                    db.close()
            except x.NetworkError:
                if self.shards.partial:
                    continue
                raise _unavailable([addr.name], len(self.shards.shards)) from None
            except x.Error as exc:
                raise _damaged(addr, exc) from None
            try:
                part, meta = json.loads(_decode(files) or "{}"), json.loads(_decode(info) or "{}")
            except ValueError:
                raise IndexCorruptError(f"the Xapian shard {addr.name} holds an unreadable manifest"
                                        ) from None
            out.append((addr.name, part, meta))
        return out

    def cell_labels(self) -> dict[str, str]:
        """Each cell's label, from the shards' manifests (see :meth:`SearchIndex.cell_labels`)."""
        files: dict[str, Any] = {}
        for _, part, _ in self.shard_metadata():
            files.update(part)
        return labels_of(files)


def _within(a: str, b: str, maxdist: int) -> bool:
    """Whether the Levenshtein distance of ``a`` and ``b`` is at most ``maxdist``."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if min(cur) > maxdist:
            return False
        prev = cur
    return prev[-1] <= maxdist


def _text_words(q: Any) -> frozenset[str]:
    """The words the plan searches in the body text: what snippets mark."""
    out = set()
    for leaf in _leaves(q):
        if getattr(leaf, "fieldname", None) != "text":
            continue
        if isinstance(leaf, wq.Term):
            out.add(_decode(leaf.text))
        elif isinstance(leaf, wq.Phrase):
            out.update(str(w) for w in leaf.words)
    return frozenset(out)


def snippet(text: str, q: Any, words: frozenset[str]) -> str:
    """The snippet of ``text`` for the plan ``q``: the steps of Whoosh's highlighter (as the
    Whoosh engine runs it, re-tokenising the stored text) and the shared formatter. With a
    phrase in the query, phrase words are marked only where the phrase occurs (strict),
    falling back to loose marking when that finds nothing, as :mod:`evsearch.snippets` does."""
    if not text or not words:
        return ""
    fragmenter = (
        highlight.WholeFragmenter()
        if len(text) <= SNIPPET_CHARS * 1.25
        else highlight.ContextFragmenter(maxchars=SNIPPET_CHARS, surround=90)
    )
    analyzer = _shared_analyzer()

    def cut(strict: bool) -> str:
        tokens = analyzer(text, positions=True, chars=True, mode="index", removestops=False)
        if strict:
            terms, phrases = q.phrases()
            tokens = highlight.set_matched_filter_phrases(tokens, text, terms, phrases)
        else:
            tokens = highlight.set_matched_filter(tokens, words)
        tokens = highlight.Highlighter._merge_matched_tokens(tokens)
        fragments = highlight.top_fragments(
            fragmenter.fragment_tokens(text, tokens), 2, highlight.BasicFragmentScorer(),
            highlight.FIRST, minscore=1,
        )
        return MarkFormatter().format(fragments)

    if not any(isinstance(leaf, wq.Phrase) for leaf in _leaves(q)):
        return cut(False)
    return cut(True) or cut(False)


def _leaves(q: Any) -> list[Any]:
    return [q] if isinstance(q, (wq.Term, wq.Phrase)) else list(q.leaves())


