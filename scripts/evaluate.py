#!/usr/bin/env python3
"""Retrieval quality of evsearch on a BEIR-layout test collection, optionally against peers.

Usage::

    python scripts/evaluate.py DATA_DIR [--json] [--peers] [--permutation] [--limit-queries N]

``DATA_DIR`` holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``) and ``qrels/test.tsv`` (header ``query-id corpus-id score``). The
collection is indexed through evsearch's own index and query layer (as the CLI does), every
judged query is run (top 100), and the script reports nDCG@10 and recall@100 (trec_eval's
definitions with graded judgements, computed by ``ir-measures``) and the p50/p95 time of one
query in milliseconds.

``--peers`` also runs, in this process on the same data: plain Whoosh (its defaults:
StemmingAnalyzer, MultifieldParser over title+text with OrGroup, BM25F), tantivy (``en_stem``),
bm25s (PyStemmer English, stopwords ``"en"``) and SQLite FTS5 (``porter``, ranked by
``bm25()``). Peers get their queries reduced to plain words. With ``--peers`` (or
``--permutation``) a paired sign-flip permutation test compares evsearch's per-query nDCG@10
with the best peer's (two-sided, 10,000 permutations, fixed seed).

The peers' packages are imported only when they run: without ``--peers`` the script needs
evsearch and ir-measures alone.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import math
import random
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Results fetched per query (the depth of recall@100).
DEPTH = 100
#: The permutation test's number of permutations and seed.
PERMUTATIONS = 10_000
SEED = 20240601
#: The systems of ``--peers``, in the order they are run and printed.
PEER_NAMES: tuple[str, ...] = ("whoosh", "tantivy", "bm25s", "fts5")

_WORD_RE = re.compile(r"[^\W_]+")


# --- the collection --------------------------------------------------------------------------


@dataclass(frozen=True)
class Doc:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Collection:
    """A BEIR test collection: the documents, the judged queries and their judgements."""

    name: str
    docs: tuple[Doc, ...]
    queries: dict[str, str]  # query id -> text, judged queries only, in file order
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}


def _read_jsonl(path: Path) -> Iterable[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``qrels/test.tsv`` (with its header line) as ``{query id: {doc id: relevance}}``."""
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh, delimiter="\t")
        for row in rows:
            if not row or row[0] == "query-id":
                continue
            qid, doc_id, score = row[0], row[1], row[2]
            qrels.setdefault(qid, {})[doc_id] = int(float(score))
    return qrels


def load_collection(data_dir: Path | str, limit_queries: int | None = None) -> Collection:
    """Read a BEIR collection; keep the queries that have judgements (the first N if asked)."""
    data_dir = Path(data_dir)
    docs = tuple(
        Doc(str(d["_id"]), d.get("title") or "", d.get("text") or "")
        for d in _read_jsonl(data_dir / "corpus.jsonl")
    )
    qrels = read_qrels(data_dir / "qrels" / "test.tsv")
    queries = {
        str(q["_id"]): q["text"]
        for q in _read_jsonl(data_dir / "queries.jsonl")
        if str(q["_id"]) in qrels
    }
    if limit_queries is not None:
        queries = dict(list(queries.items())[:limit_queries])
    qrels = {qid: qrels[qid] for qid in queries}
    return Collection(data_dir.resolve().name, docs, queries, qrels)


# --- runs and their measures -----------------------------------------------------------------


@dataclass
class SystemRun:
    """What one system returned: ranked doc ids and the time taken, per query."""

    name: str
    ranking: dict[str, list[str]] = field(default_factory=dict)
    times_ms: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # query id -> error message


@dataclass(frozen=True)
class Scores:
    ndcg10: dict[str, float]  # per query, every judged query (0.0 when nothing was found)
    recall100: dict[str, float]
    p50_ms: float
    p95_ms: float

    def summary(self) -> dict[str, float]:
        return {
            "ndcg@10": round(mean(self.ndcg10.values()), 4),
            "recall@100": round(mean(self.recall100.values()), 4),
            "p50_ms": round(self.p50_ms, 3),
            "p95_ms": round(self.p95_ms, 3),
        }


def mean(values: Iterable[float]) -> float:
    vals = list(values)
    return sum(vals) / len(vals) if vals else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), interpolated linearly as numpy's default does."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def score_run(collection: Collection, run: SystemRun) -> Scores:
    """nDCG@10 and recall@100 per query (trec_eval via ir-measures), and the latencies.

    The ranking is passed in the system's own order (scores ``DEPTH - rank``), so trec_eval's
    tie-breaking never reorders a system's results. A judged query with no results scores 0.
    """
    import ir_measures
    from ir_measures import R, nDCG

    ndcg_m, recall_m = nDCG @ 10, R @ DEPTH
    qrels = [
        ir_measures.Qrel(qid, doc_id, rel)
        for qid, judged in collection.qrels.items()
        for doc_id, rel in judged.items()
    ]
    scored = [
        ir_measures.ScoredDoc(qid, doc_id, float(DEPTH - rank))
        for qid, docs in run.ranking.items()
        for rank, doc_id in enumerate(docs[:DEPTH])
    ]
    ndcg = dict.fromkeys(collection.queries, 0.0)
    recall = dict.fromkeys(collection.queries, 0.0)
    if scored:
        for m in ir_measures.iter_calc([ndcg_m, recall_m], qrels, scored):
            if m.query_id in ndcg:
                (ndcg if m.measure == ndcg_m else recall)[m.query_id] = float(m.value)
    times = list(run.times_ms.values())
    return Scores(ndcg, recall, percentile(times, 50), percentile(times, 95))


def sign_flip_test(
    a: Sequence[float], b: Sequence[float], permutations: int = PERMUTATIONS, seed: int = SEED
) -> float:
    """Two-sided p-value of a paired sign-flip permutation test of mean(a - b) == 0."""
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    if not diffs:
        return 1.0
    observed = abs(sum(diffs))
    rng = random.Random(seed)
    hits = 0
    for _ in range(permutations):
        total = sum(d if rng.random() < 0.5 else -d for d in diffs)
        if abs(total) >= observed - 1e-12:
            hits += 1
    return (hits + 1) / (permutations + 1)


def _timed_queries(
    name: str, queries: dict[str, str], search: Callable[[str], list[str]]
) -> SystemRun:
    """Run every query through ``search`` (after one untimed warm-up query)."""
    run = SystemRun(name)
    if queries:
        search(next(iter(queries.values())))
    for qid, text in queries.items():
        started = time.perf_counter()
        run.ranking[qid] = search(text)
        run.times_ms[qid] = (time.perf_counter() - started) * 1000.0
    return run


def plain_words(text: str) -> list[str]:
    """The query's alphanumeric words, lowercased: the safe form given to the peers."""
    return _WORD_RE.findall(text.lower())


# --- evsearch --------------------------------------------------------------------------------


def index_evsearch(collection: Collection, index_dir: Path | str, engine: str = "whoosh") -> None:
    """Index the collection with evsearch's own analysis and index layer (and ``engine``)."""
    from evsearch.index import passage, write_documents

    write_documents(
        (passage(d.id, d.text, d.title) for d in collection.docs), index=index_dir, engine=engine
    )


def search_evsearch(
    collection: Collection, index_dir: Path | str, name: str = "evsearch"
) -> SystemRun:
    """Run the judged queries as typed through ``SearchIndex.search``.

    A query that raises :class:`evsearch.QueryError` counts as no results and is reported.
    """
    from evsearch.errors import QueryError
    from evsearch.search import open_index

    errors: dict[str, str] = {}
    with open_index(index=index_dir) as idx:

        def search(text: str) -> list[str]:
            try:
                result = idx.search(text, limit=DEPTH, snippets=False, suggest=False)
            except QueryError as exc:
                errors[text] = exc.message
                return []
            return [hit.id for hit in result.hits]

        run = _timed_queries(name, collection.queries, search)
    run.errors = {qid: errors[t] for qid, t in collection.queries.items() if t in errors}
    return run


def run_evsearch(collection: Collection, engine: str = "whoosh") -> SystemRun:
    with tempfile.TemporaryDirectory(prefix="evsearch-eval-") as tmp:
        index_dir = Path(tmp) / "index"
        index_evsearch(collection, index_dir, engine)
        return search_evsearch(collection, index_dir)


# --- peers -----------------------------------------------------------------------------------


def run_whoosh(collection: Collection) -> SystemRun:
    """Plain Whoosh: StemmingAnalyzer, MultifieldParser(title, text) with OrGroup, BM25F."""
    from whoosh import scoring
    from whoosh.analysis import StemmingAnalyzer
    from whoosh.fields import ID, TEXT, Schema
    from whoosh.filedb.filestore import RamStorage
    from whoosh.qparser import MultifieldParser, OrGroup

    schema = Schema(
        id=ID(stored=True, unique=True),
        title=TEXT(analyzer=StemmingAnalyzer()),
        text=TEXT(analyzer=StemmingAnalyzer()),
    )
    ix = RamStorage().create_index(schema)
    writer = ix.writer()
    for d in collection.docs:
        writer.add_document(id=d.id, title=d.title, text=d.text)
    writer.commit()
    parser = MultifieldParser(["title", "text"], schema, group=OrGroup)
    with ix.searcher(weighting=scoring.BM25F()) as searcher:

        def search(text: str) -> list[str]:
            words = plain_words(text)
            if not words:
                return []
            results = searcher.search(parser.parse(" ".join(words)), limit=DEPTH)
            return [hit["id"] for hit in results]

        return _timed_queries("whoosh", collection.queries, search)


def run_tantivy(collection: Collection) -> SystemRun:
    """tantivy: title and text with the ``en_stem`` tokenizer, words joined by OR."""
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", tokenizer_name="en_stem")
    builder.add_text_field("text", tokenizer_name="en_stem")
    schema = builder.build()
    index = tantivy.Index(schema)
    writer = index.writer()
    for d in collection.docs:
        writer.add_document(tantivy.Document(id=d.id, title=d.title, text=d.text))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    searcher = index.searcher()

    def search(text: str) -> list[str]:
        words = plain_words(text)
        if not words:
            return []
        query = index.parse_query(" OR ".join(words), ["title", "text"])
        hits = searcher.search(query, DEPTH).hits
        return [searcher.doc(address)["id"][0] for _, address in hits]

    return _timed_queries("tantivy", collection.queries, search)


def run_bm25s(collection: Collection) -> SystemRun:
    """bm25s (its defaults) over title + text, PyStemmer English, stopwords "en"."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    corpus = [f"{d.title} {d.text}".strip() for d in collection.docs]
    tokens = bm25s.tokenize(corpus, stopwords="en", stemmer=stemmer, show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    k = min(DEPTH, len(corpus))

    def search(text: str) -> list[str]:
        words = " ".join(plain_words(text))
        query = bm25s.tokenize(
            [words], stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False
        )[0]
        query = [t for t in query if t in retriever.vocab_dict]
        if not query:
            return []
        docs, scores = retriever.retrieve([query], k=k, show_progress=False)
        return [collection.docs[i].id for i, s in zip(docs[0], scores[0], strict=True) if s > 0]

    return _timed_queries("bm25s", collection.queries, search)


def run_fts5(collection: Collection) -> SystemRun:
    """SQLite FTS5: title and text, ``tokenize='porter'``, ranked by ``bm25()``."""
    con = sqlite3.connect(":memory:")
    try:
        con.execute(
            "CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, text, tokenize='porter')"
        )
        con.executemany(
            "INSERT INTO docs (id, title, text) VALUES (?, ?, ?)",
            ((d.id, d.title, d.text) for d in collection.docs),
        )
        con.commit()

        def search(text: str) -> list[str]:
            words = plain_words(text)
            if not words:
                return []
            match = " OR ".join(f'"{w}"' for w in words)
            rows = con.execute(
                "SELECT id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT ?",
                (match, DEPTH),
            )
            return [row[0] for row in rows]

        return _timed_queries("fts5", collection.queries, search)
    finally:
        con.close()


#: The modules the peers import (PyStemmer imports as Stemmer).
PEER_MODULES: tuple[str, ...] = ("tantivy", "bm25s", "Stemmer")

PEERS: dict[str, Callable[[Collection], SystemRun]] = {
    "whoosh": run_whoosh,
    "tantivy": run_tantivy,
    "bm25s": run_bm25s,
    "fts5": run_fts5,
}


# --- the report ------------------------------------------------------------------------------


def evaluate(
    collection: Collection,
    *,
    peers: Sequence[str] = (),
    engine: str = "whoosh",
) -> dict[str, Any]:
    """Run evsearch (and the named peers) on the collection; the report as a JSON-able dict."""
    runs = {"evsearch": run_evsearch(collection, engine)}
    for name in peers:
        runs[name] = PEERS[name](collection)
    scores = {name: score_run(collection, run) for name, run in runs.items()}
    report: dict[str, Any] = {
        "collection": collection.name,
        "queries": len(collection.queries),
        "evsearch": scores["evsearch"].summary(),
        "peers": {name: scores[name].summary() for name in peers},
        "query_errors": {name: run.errors for name, run in runs.items() if run.errors},
    }
    if peers:
        qids = list(collection.queries)
        ours = [scores["evsearch"].ndcg10[q] for q in qids]
        tests = {}
        for name in peers:
            theirs = [scores[name].ndcg10[q] for q in qids]
            tests[name] = {
                "delta_ndcg@10": round(mean(ours) - mean(theirs), 4),
                "p_value": round(sign_flip_test(ours, theirs), 4),
            }
        best = max(peers, key=lambda n: mean(scores[n].ndcg10.values()))
        report["permutation"] = {
            "best_peer": best,
            **tests[best],
            "permutations": PERMUTATIONS,
            "seed": SEED,
            "by_peer": tests,
        }
    return report


def format_table(report: dict[str, Any]) -> str:
    rows = [("evsearch", report["evsearch"]), *report["peers"].items()]
    lines = [
        f"{report['collection']}: {report['queries']} judged queries, top {DEPTH}",
        f"{'system':<10} {'nDCG@10':>8} {'recall@100':>11} {'p50 ms':>8} {'p95 ms':>8}",
    ]
    for name, s in rows:
        lines.append(
            f"{name:<10} {s['ndcg@10']:>8.4f} {s['recall@100']:>11.4f} "
            f"{s['p50_ms']:>8.2f} {s['p95_ms']:>8.2f}"
        )
    perm = report.get("permutation")
    if perm:
        lines.append(
            f"evsearch vs {perm['best_peer']} (best peer): delta nDCG@10 "
            f"{perm['delta_ndcg@10']:+.4f}, sign-flip p = {perm['p_value']:.4f} "
            f"(two-sided, {perm['permutations']:,} permutations, seed {perm['seed']})"
        )
    for name, errors in report["query_errors"].items():
        for qid, message in errors.items():
            lines.append(f"{name}: query {qid} failed ({message}); counted as no results")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, help="a BEIR collection directory")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--peers", action="store_true", help="also run " + ", ".join(PEER_NAMES))
    parser.add_argument(
        "--permutation",
        action="store_true",
        help="sign-flip test against the best peer (implied by --peers)",
    )
    parser.add_argument("--limit-queries", type=int, metavar="N", help="run the first N queries")
    parser.add_argument(
        "--engine", choices=("whoosh", "xapian"), default="whoosh",
        help="the engine evsearch indexes and searches with (xapian: the evsearch[xapian] extra)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        collection = load_collection(args.data_dir, args.limit_queries)
    except (OSError, ValueError, KeyError) as exc:
        print(f"Error: cannot read the collection at {args.data_dir}: {exc}", file=sys.stderr)
        print("Hint: DATA_DIR holds corpus.jsonl, queries.jsonl and qrels/test.tsv (BEIR layout)",
              file=sys.stderr)
        return 1
    peers = PEER_NAMES if (args.peers or args.permutation) else ()
    missing = [m for m in PEER_MODULES if peers and importlib.util.find_spec(m) is None]
    if missing:
        print(f"Error: --peers needs the packages {', '.join(missing)}", file=sys.stderr)
        print("Hint: pip install -e '.[eval]'", file=sys.stderr)
        return 1
    report = evaluate(collection, peers=peers, engine=args.engine)
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
