"""The benchmark scripts at toy scale: they run and report every figure (no timings checked)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evsearch.index import ingest_corpus

from ._scripts import load_script


@pytest.mark.slow
def test_make_corpus_writes_cells_the_ingester_reads(tmp_path: Path) -> None:
    make_corpus = load_script("make_corpus")
    make_corpus.write_corpus(500, tmp_path / "a", seed=3)
    make_corpus.write_corpus(500, tmp_path / "b", seed=3)
    first = sorted(p.read_text() for p in (tmp_path / "a").rglob("*.txt"))
    assert first == sorted(p.read_text() for p in (tmp_path / "b").rglob("*.txt"))  # deterministic
    batches, problems = ingest_corpus(tmp_path / "a")
    assert not problems and len(batches) == 50
    kinds = [type(d).__name__ for b in batches for d in b.documents]
    assert 490 <= kinds.count("Passage") <= 520
    assert 120 <= kinds.count("Study") <= 200  # about 9 studies per 28 passages


@pytest.mark.slow
def test_bench_smoke(tmp_path: Path) -> None:
    bench = load_script("bench")
    result = bench.run([500], queries=3, cli_runs=1, work_dir=tmp_path)
    size = result["sizes"]["500"]
    for key in ("build_passages_per_s", "update_one_cell_s", "index_bytes", "peak_rss_mb", "cli_search_s"):
        assert size[key] > 0, key
    for name in ("common", "rare", "questions"):
        row = size["queries"][name]
        for engine in ("evsearch", "evsearch_snippets", "evsearch_cold_snippets", "fts5"):
            assert set(row[engine]) == {"p50_ms", "p95_ms", "p99_ms"}
    assert result["cli_search_s"] > 0 and result["cli_help_s"] > 0
    assert result["serve_first_answer_s"] > 0
    for name in ("common", "questions"):
        assert set(size["web_results_page"][name]) == {"p50_ms", "p95_ms", "p99_ms"}
    assert size["saved_postings_bytes"] >= 0 and size["peak_rss_build_mb"] > 0
    assert "500" in bench.table(result)
