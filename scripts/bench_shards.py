"""Scale-out, simulated on one machine: a Xapian index in N shards served by N xapian-tcpsrv.

    python scripts/bench_shards.py --passages 1000000 --shards 4

Writes a "library" corpus (``make_corpus.py --layout library``), builds it with
``evsearch index --engine xapian --shards N`` (one read of the corpus, the shards written by
up to one process per CPU), starts one ``xapian-tcpsrv`` per shard on 127.0.0.1, and times
the same queries (top 10 with snippets) through the remote client
(``xapian+tcp://127.0.0.1:P1,...``) and on the local shards. Prints one JSON object: build
wall and CPU time, peak RSS, each shard's size, query p50/p95/p99.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "src"))

import bench  # noqa: E402
from evsearch import open_index  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(path: Path) -> tuple[subprocess.Popen[bytes], int]:
    tcpsrv = shutil.which("xapian-tcpsrv")
    if tcpsrv is None:
        raise SystemExit("xapian-tcpsrv is not installed (Debian: apt-get install xapian-tools)")
    port = _free_port()
    proc = subprocess.Popen([tcpsrv, "--interface", "127.0.0.1", "--port", str(port), str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"xapian-tcpsrv did not start for {path}")


def sample_documents(corpus: Path, seed: int, files: int = 400) -> list[tuple[str, str, str]]:
    """The documents of a sample of the corpus's files: the queries' vocabulary (all of a
    million documents would not fit in memory here)."""
    import random

    from evsearch.ingest import read_cell_file

    paths = sorted(p for p in corpus.rglob("*") if p.is_file())
    random.Random(seed).shuffle(paths)
    out = []
    for path in paths[:files]:
        for d in read_cell_file(path, root=corpus).documents:
            out.append((d.id, d.title, getattr(d, "text", "") or getattr(d, "summary", "")))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the corpus and index")
    args = parser.parse_args(argv)
    make_corpus = bench._load_script("make_corpus")
    work = Path(tempfile.mkdtemp(prefix="evsearch-shards-", dir=args.work_dir))
    out: dict[str, Any] = {"passages_asked": args.passages, "shards": args.shards}
    servers: list[subprocess.Popen[bytes]] = []
    try:
        corpus, index_dir = work / "corpus", work / "index"
        t0 = time.perf_counter()
        make_corpus.write_corpus(args.passages, corpus, seed=args.seed, layout="library")
        out["corpus_write_s"] = round(time.perf_counter() - t0, 1)
        out["corpus_files"] = sum(1 for p in corpus.rglob("*") if p.is_file())
        out["corpus_bytes"] = bench.dir_bytes(corpus)
        build = bench.run_measured(
            ["index", "--engine", "xapian", "--shards", str(args.shards), "--corpus", str(corpus),
             "--index", str(index_dir)], 2 * 1024 * 1024,
        )
        out["build"] = build
        with open_index(index=index_dir) as idx:
            stats = idx.stats()
        out["documents"] = stats.passages + stats.studies
        out["passages"] = stats.passages
        docs = sample_documents(corpus, args.seed)
        out["build_passages_per_s"] = round(stats.passages / build["wall_s"])
        out["shard_bytes"] = [bench.dir_bytes(Path(p)) for p in stats.shards]
        model = make_corpus.train(make_corpus.DEFAULT_TRAINING)
        queries = bench.make_queries(docs, model, args.queries, args.seed)
        del docs
        ports = []
        for path in stats.shards:
            proc, port = serve(Path(path))
            servers.append(proc)
            ports.append(port)
        spec = "xapian+tcp://" + ",".join(f"127.0.0.1:{p}" for p in ports)
        out["queries"] = {}
        with open_index(index=spec) as remote, open_index(index=index_dir) as local:
            for name in bench.QUERY_SETS:
                out["queries"][name] = {
                    "remote_snippets": bench.timed(lambda q: remote.search(q), queries[name]),
                    "local_snippets": bench.timed(lambda q: local.search(q), queries[name]),
                }
        out["client_peak_rss_mb"] = bench.peak_rss_mb()
        out["load_avg"] = [round(x, 2) for x in os.getloadavg()]
        out["cpus"] = os.cpu_count()
    finally:
        for proc in servers:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
