"""Benchmark evsearch at scale, against SQLite FTS5 and tantivy on the same passages.

    python scripts/bench.py --sizes 10000,100000          # the table
    python scripts/bench.py --sizes 10000 --json          # one JSON object

For each size, in one process: a synthetic corpus (scripts/make_corpus.py, seed 1); a full
build (time, passages/s); an incremental update of one changed cell (``update_index`` when
evsearch has it, else a full rebuild, and the output says which); the index's size on disk;
peak RSS; query latency p50/p95/p99 (top 10) for three query sets: 2-4 common words, 2-4
rare words, natural-language questions of 8-15 words, with and without snippets, and with
snippets from a cold start (no posting list kept in memory from earlier queries). The same
queries then run against SQLite FTS5 (``porter`` tokenizer, ``bm25()``) and tantivy
(``en_stem``) over the same documents' title and text, words joined by OR; the peers get the
words minus evsearch's stopwords, the terms evsearch itself searches for. Finally the
end-to-end time of ``evsearch search`` on the bundled corpus and of ``evsearch --help``, each
a new process (interpreter start included; median of ``--cli-runs``). The web layer: the
server-side time of the results page (``GET /?q=...``: HTML with 10 hits, snippets and
facets, through the ASGI application without the network) for the common words and the
questions at each size, and the time from starting ``evsearch serve`` to its first answered
request on the bundled corpus (a new process each run, median of ``--cli-runs``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from evsearch import build_index, open_index  # noqa: E402
from evsearch.analysis import stopwords  # noqa: E402

QUERY_SETS: tuple[str, ...] = ("common", "rare", "questions")
_WORD_RE = re.compile(r"[a-z][a-z0-9]+")
_QUESTION_LEADS = ("what is", "how does", "does", "can", "why do", "which", "is there evidence that")


def _load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def peak_rss_mb() -> float:
    """The peak RSS of this process or of any (waited-for) child, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, kids) / 1024, 1)  # kB on Linux


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def percentiles(times: list[float]) -> dict[str, float]:
    ms = sorted(t * 1000 for t in times)
    if len(ms) == 1:
        ms = ms * 2
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50_ms": round(q[49], 2), "p95_ms": round(q[94], 2), "p99_ms": round(q[98], 2)}


def timed(run: Callable[[str], Any], queries: list[str]) -> dict[str, float]:
    for q in queries[:3]:  # warm up caches and lazy imports
        run(q)
    times = []
    for q in queries:
        t0 = time.perf_counter()
        run(q)
        times.append(time.perf_counter() - t0)
    return percentiles(times)


def forget_postings(idx: Any) -> None:
    """Drop the posting lists ``idx`` keeps in memory between searches, if it keeps any."""
    with idx._lock:
        idx._current()
        scorer = getattr(idx, "_scorer", None)
        if scorer is not None:
            scorer.clear_cache()


# --- queries -----------------------------------------------------------------------------------

def make_queries(docs: list[tuple[str, str, str]], model: Any, n: int, seed: int) -> dict[str, list[str]]:
    """The three query sets, drawn from the corpus's own vocabulary (deterministic)."""
    rng = random.Random(seed)
    stop = stopwords()
    df: Counter[str] = Counter()
    for _, title, text in docs:
        df.update({w for w in _WORD_RE.findall(f"{title} {text}".lower()) if w not in stop and len(w) > 2})
    ranked = [w for w, _ in df.most_common()]
    common = ranked[:200]
    rare = [w for w in ranked if 2 <= df[w] <= max(3, len(docs) // 5000)] or ranked[-200:]
    sets: dict[str, list[str]] = {"common": [], "rare": [], "questions": []}
    for _ in range(n):
        sets["common"].append(" ".join(rng.sample(common, rng.randint(2, 4))))
        sets["rare"].append(" ".join(rng.sample(rare, min(len(rare), rng.randint(2, 4)))))
        lead = rng.choice(_QUESTION_LEADS)
        body = model.sentence(rng, 8, 15).rstrip(".").lower().split()
        words = (lead.split() + body)[: rng.randint(8, 15)]
        sets["questions"].append(" ".join(words).capitalize() + "?")
    return sets


def peer_words(query: str) -> list[str]:
    stop = stopwords()
    return [w for w in _WORD_RE.findall(query.lower()) if w not in stop]


# --- peers -------------------------------------------------------------------------------------

def fts5_engine(docs: list[tuple[str, str, str]], where: Path) -> tuple[Callable[[str], Any], float]:
    """SQLite FTS5 (porter, bm25()) on disk; returns the search function and build seconds."""
    t0 = time.perf_counter()
    con = sqlite3.connect(str(where / "fts5.db"))
    con.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, text, tokenize='porter')")
    con.executemany("INSERT INTO docs (id, title, text) VALUES (?, ?, ?)", docs)
    con.commit()
    build = time.perf_counter() - t0

    def search(query: str) -> list[Any]:
        words = peer_words(query)
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words)
        return con.execute(
            "SELECT id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT 10", (match,)
        ).fetchall()

    return search, build


def tantivy_engine(
    docs: list[tuple[str, str, str]], where: Path
) -> tuple[Callable[[str], Any], float] | None:
    """tantivy (en_stem) on disk, or None when it is not installed."""
    try:
        import tantivy
    except ImportError:
        return None
    t0 = time.perf_counter()
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", tokenizer_name="en_stem")
    builder.add_text_field("text", tokenizer_name="en_stem")
    (where / "tantivy").mkdir()
    index = tantivy.Index(builder.build(), path=str(where / "tantivy"))
    writer = index.writer()
    for doc_id, title, text in docs:
        writer.add_document(tantivy.Document(id=doc_id, title=title, text=text))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    searcher = index.searcher()
    build = time.perf_counter() - t0

    def search(query: str) -> list[Any]:
        words = peer_words(query)
        if not words:
            return []
        hits = searcher.search(index.parse_query(" OR ".join(words), ["title", "text"]), 10).hits
        return [searcher.doc(address)["id"][0] for _, address in hits]

    return search, build


# --- the web layer -------------------------------------------------------------------------------

def asgi_times(app: Any, paths: list[str]) -> list[float]:
    """Seconds of each ``GET path`` through an ASGI application in-process, one after another
    in one event loop (as a server runs them, its worker threads kept): the server's side of a
    request, without the network or an HTTP parser."""
    import asyncio
    from urllib.parse import urlsplit

    async def get(path: str) -> tuple[int, bytes]:
        parts = urlsplit(path)
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": parts.path, "raw_path": parts.path.encode(),
            "query_string": parts.query.encode(), "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), (b"accept", b"text/html")],
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
        }
        status: list[int] = []
        body: list[bytes] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))

        await app(scope, receive, send)
        return status[0], b"".join(body)

    async def run_all() -> list[float]:
        times = []
        for path in paths:
            t0 = time.perf_counter()
            code, html = await get(path)
            times.append(time.perf_counter() - t0)
            if code != 200 or b'class="hit ' not in html and b"No matches" not in html:
                raise SystemExit(f"the results page failed for {path!r}: {code}")
        return times

    return asyncio.run(run_all())


def web_page_times(index_dir: Path, corpus: Path, queries: dict[str, list[str]]) -> dict[str, Any]:
    """p50/p95/p99 ms of the results page (10 hits, snippets, facets) for two query sets, after
    one pass over the queries (the server's own index is new: warm it as the rows above are)."""
    from urllib.parse import quote_plus

    from evsearch.web import create_app

    app = create_app(index=index_dir, corpus=corpus)
    try:
        out: dict[str, Any] = {}
        for name in ("common", "questions"):
            paths = ["/?q=" + quote_plus(q) for q in queries[name]]
            asgi_times(app, paths)  # warm-up pass
            out[name] = percentiles(asgi_times(app, paths))
        return out
    finally:
        app.state.web.index.close()


def serve_startup_time(index_dir: Path, corpus: Path, runs: int) -> float:
    """Median seconds from starting ``evsearch serve`` (a new process) to its first answered
    request (``GET /?q=...``), on an index that exists."""
    import http.client
    import signal

    cmd = [sys.executable, "-m", "evsearch", "serve", "--index", str(index_dir), "--corpus", str(corpus),
           "--port", "0"]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        with subprocess.Popen(cmd, env=_cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) as proc:
            try:
                assert proc.stdout is not None
                line = proc.stdout.readline()  # printed once listening, before uvicorn starts
                m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
                if not m:
                    raise SystemExit(f"evsearch serve did not start: {line!r}")
                conn = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=60)
                conn.request("GET", "/?q=motivational+interviewing")
                response = conn.getresponse()
                response.read()
                times.append(time.perf_counter() - t0)
                conn.close()
                if response.status != 200:
                    raise SystemExit(f"evsearch serve answered {response.status}")
            finally:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.communicate(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()
    return round(statistics.median(times), 3)


# --- one size ----------------------------------------------------------------------------------

def run_measured(args: list[str], limit: int) -> dict[str, float]:
    """Run ``evsearch ARGS`` in a new process (with the ingester's per-file limit ``limit``);
    its wall time, CPU time (user + system) and peak RSS, from the process's own usage."""
    code = (
        "import sys, evsearch.ingest as i; i.MAX_CELL_FILE_BYTES = int(sys.argv[1]); "
        "from evsearch.cli import main; sys.argv = ['evsearch', *sys.argv[2:]]; main()"
    )
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, str(limit), *args], env=_cli_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"evsearch {' '.join(args)} failed: {err.strip()[-500:]}")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def bench_xapian(
    corpus: Path, index_dir: Path, shards: int, limit: int, passages: int, queries: dict[str, list[str]]
) -> dict[str, Any]:
    """The Xapian engine on the same corpus: a build in its own process (``evsearch index
    --engine xapian --shards N``), its size, and query latency through the library."""
    args = ["index", "--engine", "xapian", "--shards", str(shards), "--corpus", str(corpus),
            "--index", str(index_dir)]
    build = run_measured(args, limit)
    gen = index_dir / (index_dir / "CURRENT").read_text().strip()
    out: dict[str, Any] = {
        "shards": shards,
        "build_s": build["wall_s"],
        "build_cpu_s": build["cpu_s"],
        "build_passages_per_s": round(passages / build["wall_s"]),
        "index_bytes": dir_bytes(gen),
        "peak_rss_build_mb": build["peak_rss_mb"],
        "queries": {},
    }
    with open_index(index=index_dir) as idx:
        for name in QUERY_SETS:
            out["queries"][name] = {
                "xapian": timed(lambda q: idx.search(q, snippets=False), queries[name]),
                "xapian_snippets": timed(lambda q: idx.search(q), queries[name]),
            }
    return out


def bench_size(
    n: int, work: Path, n_queries: int, seed: int, engines: tuple[str, ...] = ("whoosh",),
    layout: str = "giant", xapian_shards: int = 1,
) -> dict[str, Any]:
    make_corpus = _load_script("make_corpus")
    corpus, index_dir = work / f"corpus-{n}", work / f"index-{n}"
    model = make_corpus.train(make_corpus.DEFAULT_TRAINING)
    t0 = time.perf_counter()
    make_corpus.write_corpus(n, corpus, seed=seed, layout=layout)
    corpus_s = time.perf_counter() - t0

    # 50 cells hold the whole corpus, so at a million passages a cell file is ~13 MB: raise the
    # ingester's per-file limit (a guard against hostile files) for this run only, and say so
    import evsearch.ingest as ev_ingest

    largest = max(p.stat().st_size for p in corpus.rglob("*") if p.is_file())
    limit_raised = largest > ev_ingest.MAX_CELL_FILE_BYTES
    if limit_raised:  # with room for the rewritten cell of the update below
        ev_ingest.MAX_CELL_FILE_BYTES = 2 * largest
    t0 = time.perf_counter()
    report = build_index(corpus=corpus, index=index_dir)
    build_s = time.perf_counter() - t0
    gen = index_dir / (index_dir / "CURRENT").read_text().strip()
    index_bytes = dir_bytes(gen)
    build_rss = peak_rss_mb()  # before this script loads every document for the peers

    with open_index(index=index_dir) as idx:
        stored = idx.documents()
    docs = [(d.id, d.title, d.text) for d in stored]
    passages = sum(d.kind == "passage" for d in stored)
    studies = len(stored) - passages
    del stored
    queries = make_queries(docs, model, n_queries, seed)

    out: dict[str, Any] = {
        "layout": layout,
        "files": sum(1 for p in corpus.rglob("*") if p.is_file()),
        "passages": passages,
        "studies": studies,
        "corpus_bytes": dir_bytes(corpus),
        "corpus_write_s": round(corpus_s, 2),
        "largest_cell_file_bytes": largest,
        "cell_file_limit_raised": limit_raised,
        "build_s": round(build_s, 2),
        "build_passages_per_s": round(passages / build_s),
        "build_documents_per_s": round(report.documents / build_s),
        "index_bytes": index_bytes,
        "saved_postings_bytes": sum(p.stat().st_size for p in gen.glob("*.evpost*")),
        "peak_rss_build_mb": build_rss,
        "queries": {name: {} for name in QUERY_SETS},
    }
    with open_index(index=index_dir) as idx:
        for name in QUERY_SETS:
            out["queries"][name]["evsearch"] = timed(lambda q: idx.search(q, snippets=False), queries[name])
            out["queries"][name]["evsearch_snippets"] = timed(lambda q: idx.search(q), queries[name])

            def cold(q: str) -> Any:  # no posting list kept in memory from earlier queries
                forget_postings(idx)
                return idx.search(q)

            out["queries"][name]["evsearch_cold_snippets"] = timed(cold, queries[name])
    out["web_results_page"] = web_page_times(index_dir, corpus, queries)
    out["peak_rss_mb"] = peak_rss_mb()
    out["cli_search_s"] = cli_search_time(index_dir, corpus, queries["common"][0])
    xapian_dir = work / f"index-{n}-xapian"
    if "xapian" in engines:
        out["xapian"] = bench_xapian(
            corpus, xapian_dir, xapian_shards, ev_ingest.MAX_CELL_FILE_BYTES, passages, queries
        )

    # one changed cell: rewrite one file with new text, then update the index
    changed = corpus / "alcohol" / "A1.txt"
    per_cell = max(1, round(passages / 50)) if layout == "giant" else 30
    changed.write_text(
        make_corpus.cell_text(model, random.Random(seed + 1), "alcohol", "A1", per_cell), encoding="utf-8"
    )
    import evsearch.index as ev_index

    update = getattr(ev_index, "update_index", None)
    t0 = time.perf_counter()
    if update is not None:
        report = update(corpus=corpus, index=index_dir)
        if report.updated != 1 or report.problems:
            raise SystemExit(f"the one-cell update did not happen as intended: {report}")
        out["update_mode"] = "incremental (update_index)"
    else:
        build_index(corpus=corpus, index=index_dir)
        out["update_mode"] = "full rebuild: this evsearch has no update_index"
    out["update_one_cell_s"] = round(time.perf_counter() - t0, 3)
    out["update_cell_passages"] = per_cell
    if "xapian" in engines:
        update_x = run_measured(
            ["index", "--corpus", str(corpus), "--index", str(xapian_dir), "--json"],
            ev_ingest.MAX_CELL_FILE_BYTES,
        )
        out["xapian"]["update_one_cell_s"] = update_x["wall_s"]
        out["xapian"]["update_one_cell_note"] = "a new process: interpreter start included"

    peers: dict[str, tuple[Callable[[str], Any], float] | None] = {
        "fts5": fts5_engine(docs, work),
        "tantivy": tantivy_engine(docs, work),
    }
    out["peer_build_s"] = {}
    for peer, engine in peers.items():
        if engine is None:
            continue
        search, build = engine
        out["peer_build_s"][peer] = round(build, 2)
        for name in QUERY_SETS:
            out["queries"][name][peer] = timed(search, queries[name])
    out["peer_index_bytes"] = {
        "fts5": (work / "fts5.db").stat().st_size,
        **({"tantivy": dir_bytes(work / "tantivy")} if (work / "tantivy").exists() else {}),
    }
    for name in QUERY_SETS:
        row = out["queries"][name]
        row["ratios"] = {
            f"{ours}/{peer}": round(row[engine]["p50_ms"] / row[peer]["p50_ms"], 2)
            for ours, engine in (("evsearch", "evsearch"), ("evsearch_cold", "evsearch_cold_snippets"))
            for peer in ("fts5", "tantivy")
            if peer in row and engine in row and row[peer]["p50_ms"] > 0
        }
    out["example_queries"] = {name: queries[name][:2] for name in QUERY_SETS}
    return out


def _cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}


def cli_search_time(index_dir: Path, corpus: Path, query: str, runs: int = 3) -> float:
    """Median seconds of ``evsearch search`` on this size's index, a new process each time."""
    cmd = [sys.executable, "-m", "evsearch", "search", query,
           "--index", str(index_dir), "--corpus", str(corpus)]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=_cli_env(), check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times), 3)


def cli_times(work: Path, runs: int) -> tuple[float, float]:
    """Median seconds of ``evsearch search`` (bundled corpus) and ``evsearch --help``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    index = work / "cli-index"
    search = [sys.executable, "-m", "evsearch", "search", "motivational interviewing in criminal justice",
              "--index", str(index), "--corpus", str(ROOT / "corpus")]
    subprocess.run(search, env=env, check=True, capture_output=True)  # builds the index

    def median(cmd: list[str]) -> float:
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(cmd, env=env, check=True, capture_output=True)
            times.append(time.perf_counter() - t0)
        return round(statistics.median(times), 3)

    return median(search), median([sys.executable, "-m", "evsearch", "--help"])


# --- output ------------------------------------------------------------------------------------

def table(result: dict[str, Any]) -> str:
    lines = []
    for size, r in result["sizes"].items():
        lines.append(
            f"== {int(size):,} passages ({r['passages']:,} passages + {r['studies']:,} studies, "
            f"corpus {r['corpus_bytes'] / 1e6:.1f} MB)"
        )
        peer_build = ", ".join(f"{p} {s} s" for p, s in r["peer_build_s"].items())
        lines.append(
            f"build {r['build_s']} s = {r['build_passages_per_s']:,} passages/s (peers: {peer_build}); "
            f"index {r['index_bytes'] / 1e6:.1f} MB "
            f"(saved postings {r.get('saved_postings_bytes', 0) / 1e6:.1f} MB of it); "
            f"peak RSS {r.get('peak_rss_build_mb', '?')} MB after the build, {r['peak_rss_mb']} MB in all"
        )
        if r.get("cell_file_limit_raised"):
            lines.append(
                f"(cell files up to {r['largest_cell_file_bytes'] / 1e6:.1f} MB: the ingester's per-file "
                "limit was raised for this run)"
            )
        lines.append(
            f"update one changed cell ({r['update_cell_passages']} passages): {r['update_one_cell_s']} s "
            f"[{r['update_mode']}]"
        )
        if "cli_search_s" in r:
            lines.append(f"evsearch search on this index (new process, median of 3): {r['cli_search_s']} s")
        x = r.get("xapian")
        if x:
            lines.append(
                f"xapian ({x['shards']} shard(s)): build {x['build_s']} s = {x['build_passages_per_s']:,} "
                f"passages/s (CPU {x['build_cpu_s']} s); index {x['index_bytes'] / 1e6:.1f} MB; peak RSS "
                f"{x['peak_rss_build_mb']} MB (build process); update one changed cell "
                f"{x.get('update_one_cell_s', '?')} s (new process)"
            )
        lines.append(f"{'queries (ms)':<12} {'engine':<22} {'p50':>8} {'p95':>8} {'p99':>8}   ratio p50")
        for name in QUERY_SETS:
            row = r["queries"][name]
            for engine in ("evsearch", "evsearch_snippets", "evsearch_cold_snippets", "fts5", "tantivy"):
                if engine not in row:
                    continue
                t = row[engine]
                ratio = ""
                if engine in ("fts5", "tantivy") and f"evsearch/{engine}" in row["ratios"]:
                    ratio = f"evsearch/{engine} = {row['ratios'][f'evsearch/{engine}']}"
                lines.append(
                    f"{name:<12} {engine:<22} {t['p50_ms']:>8} {t['p95_ms']:>8} {t['p99_ms']:>8}   {ratio}"
                )
            for engine, t in (x["queries"][name].items() if x else ()):
                lines.append(
                    f"{name:<12} {engine:<22} {t['p50_ms']:>8} {t['p95_ms']:>8} {t['p99_ms']:>8}"
                )
        if "web_results_page" in r:
            for name, t in r["web_results_page"].items():
                lines.append(f"{name:<12} {'web results page':<22} {t['p50_ms']:>8} {t['p95_ms']:>8} "
                             f"{t['p99_ms']:>8}   (HTML: 10 hits, snippets, facets)")
        lines.append("")
    lines.append(f"evsearch search (bundled corpus, new process): {result['cli_search_s']} s")
    if "serve_first_answer_s" in result:
        lines.append(f"evsearch serve to its first answered request (bundled corpus): "
                     f"{result['serve_first_answer_s']} s")
    lines.append(f"evsearch --help: {result['cli_help_s']} s")
    lines.append(f"total benchmark time: {result['bench_s']} s")
    return "\n".join(lines)


def run(sizes: list[int], *, queries: int = 50, cli_runs: int = 5, seed: int = 1,
        work_dir: Path | None = None, engines: tuple[str, ...] = ("whoosh",),
        layout: str = "giant", xapian_shards: int = 1) -> dict[str, Any]:
    """Run the benchmark; returns the figures keyed as ``--json`` prints them."""
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="evsearch-bench-", dir=work_dir))
    try:
        result: dict[str, Any] = {"sizes": {}}
        for n in sizes:
            where = work / str(n)
            where.mkdir()
            result["sizes"][str(n)] = bench_size(
                n, where, queries, seed, engines=engines, layout=layout, xapian_shards=xapian_shards
            )
            shutil.rmtree(where, ignore_errors=True)
        result["cli_search_s"], result["cli_help_s"] = cli_times(work, cli_runs)
        result["serve_first_answer_s"] = serve_startup_time(work / "cli-index", ROOT / "corpus", cli_runs)
        result["machine"] = {"cpus": os.cpu_count(), "load_avg": [round(x, 2) for x in os.getloadavg()]}
        result["bench_s"] = round(time.perf_counter() - started, 1)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated passage counts")
    parser.add_argument("--queries", type=int, default=50, help="queries per set")
    parser.add_argument("--cli-runs", type=int, default=5, help="runs of each CLI command (median)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work-dir", type=Path, default=None, help="where to put the temporary files")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--engine", action="append", choices=("whoosh", "xapian"), default=[],
                        help="also benchmark this engine beside Whoosh (xapian: the evsearch[xapian] extra)")
    parser.add_argument("--layout", choices=("giant", "library"), default="giant",
                        help="the corpus: 50 giant cells (worst case) or a library of real-sized "
                             "cells and pages (scripts/make_corpus.py --layout)")
    parser.add_argument("--xapian-shards", type=int, default=1, metavar="N",
                        help="shards of the Xapian build (written by up to one process per CPU)")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    result = run(sizes, queries=args.queries, cli_runs=args.cli_runs, seed=args.seed, work_dir=args.work_dir,
                 engines=("whoosh", *args.engine), layout=args.layout, xapian_shards=args.xapian_shards)
    print(json.dumps(result, indent=1) if args.json else table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
