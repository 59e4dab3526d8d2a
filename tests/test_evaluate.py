"""The evaluation harness (scripts/evaluate.py) on a tiny BEIR collection."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from tests._scripts import load_script

pytest.importorskip("ir_measures")

KEYS = {"ndcg@10", "recall@100", "p50_ms", "p95_ms"}

DOCS = [
    ("d1", "Motivational interviewing", "Motivational interviewing in prisons reduces drinking."),
    ("d2", "Supervision", "Clinical supervision of counsellors improves retention."),
    ("d3", "", "Needle exchange programmes cut hepatitis C transmission."),
    ("d4", "Brief advice", "Brief advice from a general practitioner helps heavy drinkers."),
    ("d5", "Aftercare", "Mutual aid groups support recovery after residential treatment."),
]
QUERIES = [
    ("q1", "needle exchange programmes cut hepatitis C transmission"),
    ("q2", "Can clinical supervision improve retention?"),
    ("q3", "an unjudged query is not run"),
]
QRELS = [("q1", "d3", 1), ("q2", "d2", 2), ("q2", "d4", 1)]


@pytest.fixture(scope="module")
def harness() -> ModuleType:
    return load_script("evaluate", "evaluate_script")


@pytest.fixture()
def beir_dir(tmp_path: Path) -> Path:
    (tmp_path / "qrels").mkdir()
    with open(tmp_path / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for doc_id, title, text in DOCS:
            fh.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with open(tmp_path / "queries.jsonl", "w", encoding="utf-8") as fh:
        for qid, text in QUERIES:
            fh.write(json.dumps({"_id": qid, "text": text}) + "\n")
    lines = ["query-id\tcorpus-id\tscore", *(f"{q}\t{d}\t{s}" for q, d, s in QRELS)]
    (tmp_path / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def run_json(harness: ModuleType, capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert harness.main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_evsearch_report(
    harness: ModuleType, beir_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = run_json(harness, capsys, str(beir_dir))
    assert report["collection"] == beir_dir.name
    assert report["queries"] == 2
    assert set(report["evsearch"]) == KEYS
    assert report["peers"] == {}
    assert report["query_errors"] == {}
    # q1 is its judged document's own text: it ranks first
    collection = harness.load_collection(beir_dir)
    run = harness.run_evsearch(collection)
    scores = harness.score_run(collection, run)
    assert run.ranking["q1"][0] == "d3"
    assert scores.ndcg10["q1"] == pytest.approx(1.0)
    assert 0.0 < report["evsearch"]["ndcg@10"] <= 1.0
    assert report["evsearch"]["p95_ms"] >= report["evsearch"]["p50_ms"] >= 0.0


def test_limit_queries_and_table(
    harness: ModuleType, beir_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert harness.main([str(beir_dir), "--limit-queries", "1"]) == 0
    out = capsys.readouterr().out
    assert "1 judged queries" in out
    assert out.splitlines()[2].startswith("evsearch")
    assert "1.0000" in out  # q1 alone: nDCG@10 = 1


def test_sign_flip_test(harness: ModuleType) -> None:
    same = [0.5, 0.2, 0.9]
    assert harness.sign_flip_test(same, same) == 1.0
    better = [1.0] * 12
    worse = [0.0] * 12
    assert harness.sign_flip_test(better, worse) < 0.01
    assert harness.percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)


def test_peers(harness: ModuleType, beir_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for module in ("tantivy", "bm25s", "Stemmer"):
        pytest.importorskip(module)
    report = run_json(harness, capsys, str(beir_dir), "--peers")
    assert set(report["peers"]) == set(harness.PEER_NAMES)
    for scores in report["peers"].values():
        assert set(scores) == KEYS
    perm = report["permutation"]
    assert perm["best_peer"] in harness.PEER_NAMES
    assert 0.0 < perm["p_value"] <= 1.0
    collection = harness.load_collection(beir_dir)
    for name, run_peer in harness.PEERS.items():
        run = run_peer(collection)
        assert run.ranking["q1"][0] == "d3", name


def test_levers_table(beir_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for module in ("tantivy", "bm25s", "Stemmer"):
        pytest.importorskip(module)
    levers = load_script("levers", "levers_script")
    cache = tmp_path / "cache"
    argv = [str(beir_dir), "--cache", str(cache), "--only", "text-only,no-feedback", "--json"]
    assert levers.main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert set(first["levers"]) == {"default", "text-only", "no-feedback"}
    assert set(first["peers"]) == set(levers.evaluate.PEER_NAMES)
    assert first["levers"]["default"][beir_dir.name] > 0
    # an override is undone after its row: the default ranking is the same on a second run,
    # which reads the index and the peers' figures from the cache
    assert levers.main(argv) == 0
    assert json.loads(capsys.readouterr().out) == first
    assert any(cache.glob("*-peers.json"))
    import evsearch.config as config
    assert config.PRF_DOCS == 10
