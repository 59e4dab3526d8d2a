#!/usr/bin/env python3
"""Which ranking levers earn their place: nDCG@10 of each lever on every collection given.

Usage::

    python scripts/levers.py DATA_DIR [DATA_DIR ...] [--cache DIR] [--only NAME,...] [--analysis] [--json]

Each collection (BEIR layout, as for ``scripts/evaluate.py``) is indexed once through evsearch;
then every lever of ``LEVERS`` is run over all of them: the default ranking with one setting
changed (a lever turned off, or on). A lever is kept when turning it off lowers the mean
nDCG@10 over the collections, and no collection gains more than 0.005 without it (and the other
way round for a lever that is off). The peers' figures are cached in ``--cache`` (they never
change); so are the indexes, keyed by the collection's file sizes and evsearch's schema version.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import evaluate  # noqa: E402

#: name -> (module attribute overrides, description). The first row is the default ranking.
LEVERS: dict[str, tuple[dict[str, Any], str]] = {}
#: Levers of the analysis (stemmer, stopwords): name -> (analysis overrides, description).
#: Each needs indexes of its own (with ``--analysis``; cached like the others).
ANALYSIS_LEVERS: dict[str, tuple[dict[str, Any], str]] = {}


def lever(name: str, description: str, **overrides: Any) -> None:
    LEVERS[name] = (overrides, description)


def _clear_analysis_caches() -> None:
    import evsearch.analysis as analysis

    analysis._STEMS.clear()
    for cached in (analysis._shared_analyzer, analysis.synonym_groups, analysis._synonym_index,
                   analysis._composed_analyzer, analysis._composed_word_analyzer):
        cached.cache_clear()


@contextlib.contextmanager
def analysed(overrides: dict[str, Any]) -> Iterator[None]:
    """The analysis with some of its functions replaced (``stopwords``, ``_snowball_stem``)."""
    import evsearch.analysis as analysis

    old = {k: getattr(analysis, k) for k in overrides}
    try:
        for k, v in overrides.items():
            setattr(analysis, k, v)
        _clear_analysis_caches()
        yield
    finally:
        for k, v in old.items():
            setattr(analysis, k, v)
        _clear_analysis_caches()


@functools.lru_cache(maxsize=1)
def _porter() -> Any:
    import Stemmer

    return Stemmer.Stemmer("porter").stemWord


def _lucene_stopwords() -> frozenset[str]:
    import bm25s.stopwords

    return frozenset(bm25s.stopwords.STOPWORDS_EN)


ANALYSIS_LEVERS["porter"] = ({"_snowball_stem": _porter}, "Porter's stemmer, not Snowball")
ANALYSIS_LEVERS["stopwords-33"] = ({"stopwords": _lucene_stopwords}, "Lucene's 33 English stopwords")
ANALYSIS_LEVERS["no-stopwords"] = ({"stopwords": lambda: frozenset()}, "no stopwords")


def _settings() -> Any:
    import evsearch.config as settings

    return settings


@contextlib.contextmanager
def overridden(overrides: dict[str, Any]) -> Iterator[None]:
    settings = _settings()
    old = {k: getattr(settings, k) for k in overrides}
    try:
        for k, v in overrides.items():
            setattr(settings, k, v)
        yield
    finally:
        for k, v in old.items():
            setattr(settings, k, v)


def _key(data_dir: Path) -> str:
    h = hashlib.sha256()
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        h.update(str((data_dir / name).stat().st_size).encode())
    return h.hexdigest()[:12]


def index_for(collection: evaluate.Collection, data_dir: Path, cache: Path, variant: str = "") -> Path:
    from evsearch.index.schema import SCHEMA_VERSION

    target = cache / f"{collection.name}-{_key(data_dir)}-v{SCHEMA_VERSION}{variant and '-' + variant}"
    if not (target / "CURRENT").exists():
        evaluate.index_evsearch(collection, target)
    return target


def peers_for(collection: evaluate.Collection, data_dir: Path, cache: Path) -> dict[str, dict[str, float]]:
    path = cache / f"{collection.name}-{_key(data_dir)}-peers.json"
    if path.exists():
        return json.loads(path.read_text())
    out = {}
    for name in evaluate.PEER_NAMES:
        out[name] = evaluate.score_run(collection, evaluate.PEERS[name](collection)).ndcg10
    path.write_text(json.dumps(out))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dirs", type=Path, nargs="+")
    parser.add_argument("--cache", type=Path, default=Path(".levers-cache"))
    parser.add_argument("--only", default="", help="comma-separated lever names")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--analysis", action="store_true",
                        help="also the analysis levers (stemmer, stopwords): each indexes anew")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    names = [n for n in LEVERS if not args.only or n in args.only.split(",") or n == "default"]
    analysis_names = [n for n in ANALYSIS_LEVERS if args.analysis]
    table: dict[str, dict[str, float]] = {n: {} for n in [*names, *analysis_names]}
    peers_table: dict[str, dict[str, float]] = {}
    for data_dir in args.data_dirs:
        collection = evaluate.load_collection(data_dir)
        index_dir = index_for(collection, data_dir, args.cache)
        peers = peers_for(collection, data_dir, args.cache)
        for p, per_query in peers.items():
            peers_table.setdefault(p, {})[collection.name] = evaluate.mean(per_query.values())
        for name in names:
            with overridden(LEVERS[name][0]):
                run = evaluate.search_evsearch(collection, index_dir, name)
            table[name][collection.name] = evaluate.mean(evaluate.score_run(collection, run).ndcg10.values())
            print(f"{collection.name:6} {name:24} {table[name][collection.name]:.4f}", file=sys.stderr)
        for name in analysis_names:
            with analysed(ANALYSIS_LEVERS[name][0]):
                variant_dir = index_for(collection, data_dir, args.cache, name)
                run = evaluate.search_evsearch(collection, variant_dir, name)
            table[name][collection.name] = evaluate.mean(evaluate.score_run(collection, run).ndcg10.values())
            print(f"{collection.name:6} {name:24} {table[name][collection.name]:.4f}", file=sys.stderr)
    cols = list(table[names[0]])
    if args.json:
        print(json.dumps({"levers": table, "peers": peers_table}, indent=2))
        return 0
    head = f"{'lever':<26}" + "".join(f"{c:>8}" for c in cols) + f"{'mean':>8}"
    print(head)
    for group in (table, peers_table):
        for name, row in group.items():
            vals = [row[c] for c in cols]
            print(f"{name:<26}" + "".join(f"{v:>8.4f}" for v in vals) + f"{sum(vals) / len(vals):>8.4f}")
    return 0


def _weights(**changed: float) -> dict[str, float]:
    import evsearch.config as settings

    return {**settings.FIELD_WEIGHTS, **changed}


lever("default", "the ranking as shipped")
lever("text-only", "Lucene BM25 over the body text alone",
      FIELD_WEIGHTS=_weights(title=0.0, doc_title=0.0, section=0.0, organisation=0.0, meta=0.0))
lever("titles-x1", "titles weigh 1", FIELD_WEIGHTS=_weights(title=1.0, doc_title=1.0, section=1.0))
lever("titles-x2", "titles weigh 2", FIELD_WEIGHTS=_weights(title=2.0, doc_title=2.0, section=2.0))
lever("titles-x4", "titles weigh 4", FIELD_WEIGHTS=_weights(title=4.0, doc_title=4.0, section=4.0))
lever("feedback-0.5", "feedback terms get half the weight", PRF_WEIGHT=0.5)
lever("feedback-5-terms", "feedback from 5 query terms up", PRF_MIN_TERMS=5)
lever("feedback-0.2", "feedback terms get 0.2 of the weight", PRF_WEIGHT=0.2)
lever("feedback-0.4", "feedback terms get 0.4 of the weight", PRF_WEIGHT=0.4)
lever("feedback-docs-5", "feedback from the top 5 documents", PRF_DOCS=5)
lever("feedback-docs-20", "feedback from the top 20 documents", PRF_DOCS=20)
lever("feedback-30-terms", "30 feedback terms", PRF_TERMS=30)
lever("feedback-all-fields", "feedback terms searched in the titles too",
      PRF_FIELDS=("title", "doc_title", "section", "text"))
lever("feedback-small", "feedback on collections of 50 documents up", PRF_MIN_DOCS=50)
lever("feedback-10-terms", "10 feedback terms", PRF_TERMS=10)
lever("proximity-0.25", "adjacent typed words as phrases, weight 0.25", PROXIMITY_WEIGHT=0.25)
lever("proximity-0.5", "adjacent typed words as phrases, weight 0.5", PROXIMITY_WEIGHT=0.5)
lever("no-field-phrase", "a typed term of the synonym table is not also a phrase", FIELD_PHRASE_WEIGHT=0.0)
lever("acronyms-0.3", "typed acronyms' expansions weigh 0.3, as synonyms", ACRONYM_WEIGHT=0.3)
lever("no-phrase-words", "a quoted phrase among other words is only a phrase", PHRASE_WORDS=False)
lever("no-forms", "joined and hyphenated forms do not find each other", FORMS=False)
lever("query-tf", "a word typed n times weighs n", QUERY_TF=True)
lever("k1-1.2", "k1 1.2 (Lucene's default)", BM25_K1=1.2)
lever("k1-0.9", "k1 0.9 (Anserini's default)", BM25_K1=0.9)
lever("k1-1.8", "k1 1.8", BM25_K1=1.8)
lever("no-query-tf-k3", "a word typed n times weighs 1", QUERY_TF_K3=0.0)
lever("query-tf-k3-2", "a word typed n times weighs 3n / (2 + n)", QUERY_TF_K3=2.0)
lever("b-0.6", "b 0.6 on every length-normalised field", BM25_B=0.6)
lever("b-0.9", "b 0.9 on every length-normalised field", BM25_B=0.9)
lever("title-b-0.5", "titles and headings normalised with b 0.5",
      FIELD_B={"organisation": 0.0, "meta": 0.0, "title": 0.5, "doc_title": 0.5, "section": 0.5})
lever("single-letters", "single letters and digits among other words are searched", MIN_TERM_CHARS=1)
lever("no-feedback", "no pseudo-relevance feedback", PRF_DOCS=0)
lever("no-synonyms", "no synonym/acronym expansion", EXPANSION_WEIGHT=0.0)

if __name__ == "__main__":
    sys.exit(main())
