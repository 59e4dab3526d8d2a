"""The Xapian engine: one database, local shards and remote shards served by real
``xapian-tcpsrv`` processes answer alike; a shard that dies or hangs is named, never waited
for without bound; builds, updates and the CLI go through the same library code."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from evsearch import open_index
from evsearch.analysis import analyze
from evsearch.cli import cli
from evsearch.config import MAX_CLAUSES
from evsearch.errors import QueryError, ShardUnavailableError
from evsearch.index import update_index

from ._scripts import load_script
from ._xapian import needs_xapian, remote_spec, serve, shard_paths

needs_xapian()

ROOT = Path(__file__).resolve().parents[1]
B5 = ROOT / "corpus" / "alcohol" / "B5.txt"

QUERIES = [
    ("motivational interviewing", {}),
    ("counselling offenders", {"limit": 5, "page": 2}),
    ("supervision", {"facets": True, "limit": 7}),
    ("treatment outcomes", {"sort": "-year", "limit": 6, "page": 2, "facets": True}),
    ("alcohol", {"sort": "year", "limit": 8}),
    ('"brief intervention"', {}),
    ("patients type:K,R year:>=2000", {"facets": True}),
    ("drug* -alcohol", {"limit": 5}),
    ("title:treatment", {"kind": "study"}),
    ("What works for people in treatment for alcohol problems in prisons?", {"limit": 10}),
    ("kind:study cell:B5", {"sort": "-year"}),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """50 cells of a dozen passages each (synthetic text from the bundled cell)."""
    make_corpus = load_script("make_corpus", "make_corpus_for_xapian")
    out = tmp_path_factory.mktemp("xcorpus") / "corpus"
    make_corpus.write_corpus(600, out, seed=7, training=[B5])
    return out


@pytest.fixture(scope="module")
def one_db(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("x1") / "index"
    update_index(corpus=corpus, index=target, engine="xapian", shards=1)
    return target


@pytest.fixture(scope="module")
def whoosh_db(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("w1") / "index"
    update_index(corpus=corpus, index=target)
    return target


@pytest.fixture(scope="module")
def three_shards(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("x3") / "index"
    update_index(corpus=corpus, index=target, engine="xapian", shards=3)
    return target


def _answers(idx, query: str, options: dict) -> tuple:  # type: ignore[no-untyped-def]
    r = idx.search(query, **options)
    return (
        r.total, [h.id for h in r.hits], [round(h.score, 6) for h in r.hits],
        [h.snippet for h in r.hits], r.facets, r.suggestion,
    )


def test_one_database_local_shards_and_remote_shards_answer_alike(one_db: Path, three_shards: Path) -> None:
    paths = shard_paths(three_shards)
    assert len(paths) == 3 and all(p.is_dir() for p in paths)
    with open_index(index=one_db) as a, open_index(index=three_shards) as b, serve(paths) as servers:
        with open_index(index=remote_spec(servers)) as c:
            for query, options in QUERIES:
                one = _answers(a, query, options)
                assert one[0] > 0, query
                assert _answers(b, query, options) == one, (query, options)
                assert _answers(c, query, options) == one, (query, options)
            study = a.documents(kind="study", cell="B5")[0].id
            passage = a.documents(kind="passage", cell="C3")[3].id
            assert c.get(study) == a.get(study)
            assert c.related(study) == a.related(study)
            assert c.stats().studies == a.stats().studies
            question = QUERIES[-2][0]
            best = a.search(question, limit=1).hits[0].id
            assert c.explain(question, best) == b.explain(question, best) == a.explain(question, best)
            assert a.explain(question, best).terms
            assert [h.id for h in c.similar(passage, limit=5).hits] == [
                h.id for h in a.similar(passage, limit=5).hits
            ]


def test_shards_split_the_corpus_by_cell(three_shards: Path) -> None:
    import xapian

    cells_per_shard = []
    for path in shard_paths(three_shards):
        db = xapian.Database(str(path))
        cells_per_shard.append({item.term for item in db.allterms("XCalcohol/")} |
                               {item.term for item in db.allterms("XCdrug/")})
        assert db.get_doccount() > 0
    assert not (cells_per_shard[0] & cells_per_shard[1]) and not (cells_per_shard[1] & cells_per_shard[2])
    assert sum(len(c) for c in cells_per_shard) == 50


def test_ranks_as_the_whoosh_engine(one_db: Path, whoosh_db: Path) -> None:
    """The Xapian engine computes the Whoosh engine's ranking function (BM25F with Lucene's
    idf, the same stored field lengths, the same feedback): the same documents in the same
    order with the same scores, up to the rounding of frequencies to integer wdfs (and, for
    a phrase, up to Xapian's frequency of a phrase: the least of its words')."""
    queries = [
        *QUERIES,
        ('brief intervention "alcohol treatment" prison', {"limit": 10}),
        ("treatment for alcohol problems in prisons and probation offenders", {"limit": 20}),
        ("title:alcohol treatment", {"limit": 15}),
    ]
    with open_index(index=one_db) as x, open_index(index=whoosh_db) as w:
        # a pasted paragraph: more distinct words than are searched (the most informative)
        pasted = " ".join(v.text for v in w.documents(kind="passage")[:20])[:1900].rsplit(" ", 1)[0]
        assert len(set(analyze(pasted))) > MAX_CLAUSES
        for query, options in [*queries, (pasted, {"limit": 10})]:
            rx, rw = x.search(query, **options), w.search(query, **options)
            assert (rx.total, rx.facets) == (rw.total, rw.facets), query
            assert [h.id for h in rx.hits] == [h.id for h in rw.hits], query
            for hx, hw in zip(rx.hits, rw.hits, strict=True):
                assert hx.score == pytest.approx(hw.score, rel=5e-3, abs=1e-6), (query, hx.id)


def test_explain_gives_a_row_per_term_and_field_as_on_whoosh(one_db: Path, whoosh_db: Path) -> None:
    """``explain --json`` on a Xapian index: the Whoosh engine's JSON, a row per query term and
    field (title and text apart), the rows adding up to the score search gives."""
    runner = CliRunner()
    query = "What works for people in treatment for alcohol problems in prisons?"
    with open_index(index=one_db) as x:
        top = x.search(query, limit=3).hits
    assert top
    for hit in top:
        got = {}
        for engine, index in (("xapian", one_db), ("whoosh", whoosh_db)):
            out = runner.invoke(cli, ["explain", query, hit.id, "--index", str(index), "--json"])
            assert out.exit_code == 0, out.output
            got[engine] = json.loads(out.output)
        ex, ew = got["xapian"], got["whoosh"]
        assert set(ex) == set(ew) and ex["matched"] and ex["reason"] is None
        assert ex["score"] == pytest.approx(hit.score, abs=1e-3)
        assert ex["score"] == pytest.approx(ew["score"], rel=5e-3)
        assert sum(t["contribution"] for t in ex["terms"]) == pytest.approx(ex["score"], rel=1e-3)
        assert ex["missing"] == ew["missing"]
        rows = {(t["field"], t["term"]): t for t in ex["terms"]}
        assert rows.keys() == {(t["field"], t["term"]) for t in ew["terms"]}
        for t in ew["terms"]:
            mine = rows[(t["field"], t["term"])]
            assert (mine["frequency"], mine["field_length"]) == (t["frequency"], t["field_length"])
            assert mine["weight"] == pytest.approx(t["weight"], rel=1e-3)
            assert mine["contribution"] == pytest.approx(t["contribution"], rel=5e-3, abs=2e-4)
    fields = {t["field"] for t in ex["terms"]}
    assert "text" in fields and len(fields) > 1  # the fields apart, not one weight per word
    stranger = runner.invoke(cli, ["explain", "zzzyzx", top[0].id, "--index", str(one_db), "--json"])
    assert stranger.exit_code == 0
    assert json.loads(stranger.output)["matched"] is False


def test_a_killed_shard_is_named_and_the_others_can_still_answer(three_shards: Path) -> None:
    paths = shard_paths(three_shards)
    with serve(paths) as servers, open_index(index=remote_spec(servers)) as idx, \
            open_index(index=remote_spec(servers), partial=True) as live:
        before = idx.search("treatment", facets=True)
        assert live.search("supervison").suggestion == "supervision"
        servers[1].signal(signal.SIGKILL)
        with pytest.raises(ShardUnavailableError) as err:
            idx.search("treatment", facets=True)
        assert servers[1].address in err.value.message
        assert servers[0].address not in err.value.message
        # the spelling words are read shard by shard: a dead one is left out there too
        spelt = live.search("supervison")
        assert spelt.suggestion == "supervision" and spelt.missing_shards == (servers[1].address,)
        with open_index(index=remote_spec(servers), partial=True) as part:
            got = part.search("treatment", facets=True)
            assert part.search("supervison").suggestion == "supervision"
        assert got.missing_shards == (servers[1].address,)
        assert 0 < got.total < before.total
        assert got.to_dict()["missing_shards"] == [servers[1].address]


def test_a_hung_shard_times_out_with_its_name(three_shards: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVSEARCH_SHARD_TIMEOUT", "1")
    paths = shard_paths(three_shards)
    with serve(paths) as servers, open_index(index=remote_spec(servers)) as idx:
        assert idx.search("treatment").total
        servers[2].signal(signal.SIGSTOP)  # stops answering mid-conversation
        with pytest.raises(ShardUnavailableError) as err:
            idx.search("alcohol services")
        assert servers[2].address in err.value.message


def test_a_shard_down_before_opening_is_named(three_shards: Path) -> None:
    paths = shard_paths(three_shards)
    with serve(paths) as servers:
        servers[0].stop()
        with pytest.raises(ShardUnavailableError) as err:
            open_index(index=remote_spec(servers))
    assert "did not answer" in err.value.message and "127.0.0.1:" in err.value.message


def test_incremental_update_touches_only_the_changed_cells_shard(corpus: Path, tmp_path: Path) -> None:
    import xapian

    work = tmp_path / "corpus"
    shutil.copytree(corpus, work)
    target = tmp_path / "index"
    update_index(corpus=work, index=target, engine="xapian", shards=3)
    paths = shard_paths(target)
    revisions = [xapian.Database(str(p)).get_revision() for p in paths]
    cell = work / "drug" / "D4.txt"
    cell.write_text(cell.read_text(encoding="utf-8") + "\nZymurgical brewing quandary.\n", encoding="utf-8")
    report = update_index(corpus=work, index=target)  # the engine and shard count come from the index
    assert (report.updated, report.rebuilt) == (1, False)
    changed = [xapian.Database(str(p)).get_revision() != r for p, r in zip(paths, revisions, strict=True)]
    assert changed.count(True) == 1
    fresh = tmp_path / "fresh"
    update_index(corpus=work, index=fresh, engine="xapian", shards=3)
    with open_index(index=target) as a, open_index(index=fresh) as b:
        hit = a.search("zymurgical quandary")
        assert [h.id for h in hit.hits][:1] and hit.hits[0].cell == "drug/D4"
        for query, options in QUERIES[:5]:
            # The update normalised field lengths by the build's stored averages (fixed
            # until a rebuild), the fresh build by its own: the same matches, scores close.
            ra, rb = a.search(query, **options), b.search(query, **options)
            assert (ra.total, ra.facets, ra.suggestion) == (rb.total, rb.facets, rb.suggestion)
        assert a.stats().files == 50
    update_index(corpus=work, index=target, rebuild=True, engine="xapian", shards=3)  # new averages
    with open_index(index=target) as a, open_index(index=fresh) as b:
        for query, options in QUERIES[:5]:
            assert _answers(a, query, options) == _answers(b, query, options)


def test_an_index_ranked_the_old_way_is_rebuilt_not_updated(corpus: Path, tmp_path: Path) -> None:
    """An index whose wdfs were written another way (an older ranking) is refused with the
    rebuild hint, and the next update rebuilds it rather than mixing old and new wdfs."""
    from evsearch.errors import IndexVersionError

    target = tmp_path / "index"
    update_index(corpus=corpus, index=target, engine="xapian")
    meta_file = next(target.glob("gen-*/meta-*.json"))
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    meta["ranking"] = {**meta["ranking"], "bm25f": 1, "wdf_scale": 50}
    del meta["meta_sha256"]  # as an older version wrote it: checksummed
    body = json.dumps(meta, sort_keys=True, ensure_ascii=False)
    meta["meta_sha256"] = hashlib.sha256(body.encode("utf-8")).hexdigest()
    meta_file.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(IndexVersionError) as err:
        open_index(index=target)
    assert "--rebuild" in err.value.hint
    report = update_index(corpus=corpus, index=target)
    assert report.rebuilt
    with open_index(index=target) as idx:
        assert idx.search("alcohol").total > 0


def test_cli_builds_searches_and_lists_shards(corpus: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    target = str(tmp_path / "index")
    args = ["--corpus", str(corpus), "--index", target]
    built = runner.invoke(cli, ["index", *args, "--engine", "xapian", "--shards", "2", "--json"])
    assert built.exit_code == 0, built.output
    stats = json.loads(runner.invoke(cli, ["stats", *args, "--json"]).output)
    assert stats["engine"] == "xapian" and len(stats["shards"]) == 2
    local = json.loads(runner.invoke(cli, ["search", "treatment", *args, "--json"]).output)
    with serve([Path(p) for p in stats["shards"]]) as servers:
        remote = runner.invoke(cli, ["search", "treatment", "--index", remote_spec(servers), "--json"])
        assert remote.exit_code == 0, remote.output
        assert [h["id"] for h in json.loads(remote.output)["hits"]] == [h["id"] for h in local["hits"]]
        servers[0].stop()
        dead = runner.invoke(cli, ["search", "treatment", "--index", remote_spec(servers)])
    assert dead.exit_code == 1
    assert dead.output.startswith("Error: 1 of 2 shard") and "Traceback" not in dead.output
    bad = runner.invoke(cli, ["search", "x", "--index", "xapian+tcp://nowhere"])
    assert bad.exit_code == 1 and "bad shard address" in bad.output


def test_one_shard_of_n_is_built_alone(corpus: Path, tmp_path: Path, three_shards: Path) -> None:
    """``--shard i/N`` on N machines writes the same shards as one ``--shards N`` build."""
    runner = CliRunner()
    parts = []
    for i in range(3):
        target = tmp_path / f"part{i}"
        args = ["--corpus", str(corpus), "--index", str(target), "--shard", f"{i}/3"]
        got = runner.invoke(cli, ["index", *args])
        assert got.exit_code == 0, got.output
        parts += shard_paths(target)
    with serve(parts) as servers, open_index(index=remote_spec(servers)) as remote, \
            open_index(index=three_shards) as whole:
        for query, options in QUERIES[:6]:
            assert _answers(remote, query, options) == _answers(whole, query, options)


def test_the_engine_is_recorded_and_a_different_one_rebuilds(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    args = ["--corpus", str(corpus), "--index", str(tmp_path / "index")]
    monkeypatch.setenv("EVSEARCH_ENGINE", "xapian")
    assert runner.invoke(cli, ["index", *args]).exit_code == 0
    monkeypatch.delenv("EVSEARCH_ENGINE")
    again = runner.invoke(cli, ["index", *args, "--json"])
    assert '"rebuilt": false' in again.output  # follows the index's own engine
    with open_index(index=tmp_path / "index") as idx:
        assert idx.stats().engine == "xapian"
    assert runner.invoke(cli, ["index", *args, "--rebuild", "--shards", "2"]).exit_code == 0
    assert runner.invoke(cli, ["index", *args, "--rebuild"]).exit_code == 0  # keeps engine and shards
    with open_index(index=tmp_path / "index") as idx:
        assert (idx.stats().engine, len(idx.stats().shards)) == ("xapian", 2)
    assert runner.invoke(cli, ["index", *args, "--engine", "whoosh"]).exit_code == 0
    with open_index(index=tmp_path / "index") as idx:
        stats = idx.stats()
        assert (stats.engine, stats.shards) == ("whoosh", ())
        assert idx.search("treatment").total
    bad = runner.invoke(cli, ["index", *args, "--shards", "2", "--engine", "whoosh"])
    assert bad.exit_code == 1 and "--shards and --shard need --engine xapian" in bad.output


def test_without_the_bindings_one_line_says_how_to_install(
    one_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "xapian", None)  # import xapian now fails
    got = CliRunner().invoke(cli, ["search", "treatment", "--index", str(one_db)])
    assert got.exit_code == 1
    assert got.output.splitlines() == [
        "Error: the Xapian engine needs the xapian Python bindings",
        "Hint: pip install 'evsearch[xapian]' (the xapian-bindings-binary wheels, GPL)",
    ]


def test_plan_fields_and_xapian_fields_agree() -> None:
    """A canary for the seam: the query plan's weighted fields are the ones the Xapian
    layout indexes, with the same relative weights."""
    from evsearch._xapian import schema
    from evsearch.config import BM25_B, FIELD_B, FIELD_WEIGHTS

    assert set(FIELD_WEIGHTS) == set(schema.FIELD_BM25F) == set(schema.FIELD_PREFIX)
    for field, weight in FIELD_WEIGHTS.items():
        assert schema.FIELD_BM25F[field] == (weight, FIELD_B.get(field, BM25_B))


def test_field_phrases_and_prefixes(one_db: Path, corpus: Path, tmp_path: Path) -> None:
    """Field-restricted words, phrases and prefixes find what the Whoosh engine finds."""
    whoosh = tmp_path / "whoosh"
    update_index(corpus=corpus, index=whoosh)
    with open_index(index=one_db) as x, open_index(index=whoosh) as w:
        heading = next(v.section for v in w.documents(kind="passage") if len((v.section or "").split()) >= 3)
        words = heading.split()[:2]
        for query in (f'section:"{" ".join(words)}"', f"title:{words[0]}", f"{words[0][:4]}*",
                      f'"{" ".join(words)}" -{words[-1]}'):
            assert x.search(query, limit=50).total == w.search(query, limit=50).total, query
            assert {h.id for h in x.search(query, limit=1000).hits} == {
                h.id for h in w.search(query, limit=1000).hits
            }, query


def test_similar_to_a_pasted_text_on_xapian_as_on_whoosh(corpus: Path, one_db: Path, tmp_path: Path) -> None:
    """``similar --text`` works on the Xapian engine: key terms shown as words, the document
    the text was taken from first, and the same key terms as the Whoosh engine picks."""
    whoosh = tmp_path / "whoosh"
    update_index(corpus=corpus, index=whoosh)
    with open_index(index=one_db) as x, open_index(index=whoosh) as w:
        source = x.documents(kind="passage", cell="C3")[3]
        rx = x.similar(text=source.text, limit=5)
        rw = w.similar(text=source.text, limit=5)
        assert rx.id is None and rx.total > 0
        assert rx.hits[0].id == source.id
        assert set(rx.terms) & set(rw.terms)
        assert all(t in source.text.lower() for t in rx.terms)
        with pytest.raises(QueryError):
            x.similar()


def test_a_server_that_accepts_but_never_answers_times_out_with_its_name(
    three_shards: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listening socket nobody reads (the connection is accepted by the kernel, the greeting
    never comes), and a shard server stopped before the index is opened: both are named once
    the bounded timeout passes, from the library, the CLI and the web application."""
    import socket

    from evsearch.web import create_app

    monkeypatch.setenv("EVSEARCH_SHARD_TIMEOUT", "1")
    with socket.socket() as silent, serve(shard_paths(three_shards)) as servers:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        mute = f"127.0.0.1:{silent.getsockname()[1]}"
        servers[0].signal(signal.SIGSTOP)
        spec = f"xapian+tcp://{mute},{servers[0].address},{servers[1].address}"
        with pytest.raises(ShardUnavailableError) as err:
            open_index(index=spec)
        assert err.value.message == f"2 of 3 shards of the index did not answer: {mute}, {servers[0].address}"
        got = CliRunner().invoke(cli, ["search", "treatment", "--index", spec])
        assert got.exit_code == 1 and got.output.splitlines()[0] == f"Error: {err.value.message}"
        with pytest.raises(ShardUnavailableError):
            create_app(index=spec)
        with open_index(index=spec, partial=True) as part:
            assert part.search("treatment").missing_shards == (mute, servers[0].address)


def test_a_build_writes_compacted_shards_and_a_failed_one_changes_nothing(
    corpus: Path, three_shards: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each shard of a build is compacted into the new generation (compacting it again
    gains nothing); a build that fails there leaves the live generation and no scratch."""
    import xapian

    from evsearch._xapian import writer
    from evsearch.errors import EvsearchError

    gen = three_shards / (three_shards / "CURRENT").read_text().strip()
    assert not list(gen.glob("*.scratch"))
    for shard in shard_paths(three_shards):
        again = tmp_path / ("again-" + shard.name)
        xapian.Database(str(shard)).compact(str(again), xapian.DBCOMPACT_NO_RENUMBER)
        size = sum(p.stat().st_size for p in shard.iterdir())
        assert sum(p.stat().st_size for p in again.iterdir()) >= 0.97 * size

    target = tmp_path / "index"
    update_index(corpus=corpus, index=target, engine="xapian", shards=2)
    live = (target / "CURRENT").read_text()
    before = sorted(p.name for p in target.iterdir())

    def no_space(source: Path, dest: Path) -> None:
        dest.mkdir()
        (dest / "iamglass").write_bytes(b"half")  # a partial copy, then the failure
        raise EvsearchError(f"cannot write the Xapian shard {dest} (no space left on device)")

    monkeypatch.setattr(writer, "compact", no_space)
    with pytest.raises(EvsearchError, match="no space left"):
        update_index(corpus=corpus, index=target, rebuild=True)
    assert (target / "CURRENT").read_text() == live
    assert sorted(p.name for p in target.iterdir()) == before
    with open_index(index=target) as idx:
        assert idx.search("treatment").total > 0


def test_documents_analysed_while_reading_are_the_documents_analysed_when_written(corpus: Path) -> None:
    """A build analyses each document in the process that reads its file (``prepare``); an
    update analyses it when writing. Both make the same Xapian document."""
    from evsearch._xapian import writer
    from evsearch._xapian.store import _prepare
    from evsearch.index.schema import document_fields
    from evsearch.index.sources import ingest_corpus

    batches, _ = ingest_corpus(corpus, procs=2, prepare=_prepare)
    plain, _ = ingest_corpus(corpus)
    averages = writer.field_averages(batches, document_fields)
    assert averages == writer.field_averages(plain, document_fields)
    make = writer.DocumentMaker(averages)

    def content(doc) -> tuple:  # type: ignore[no-untyped-def]
        terms = [(t.term, t.wdf, tuple(t.positer)) for t in doc.termlist()]
        return terms, [(v.num, v.value) for v in doc.values()], doc.get_data()

    checked = 0
    for a, b in zip(batches, plain, strict=True):
        assert a.prepared is not None and b.prepared is None
        for doc, prepared in zip(a.documents, a.prepared, strict=True):
            fields = document_fields(doc, a.source)
            assert content(make(fields, prepared)) == content(make(fields))
            checked += 1
    assert checked > 500


def test_a_shard_build_skips_other_shards_unchanged_files(
    corpus: Path, three_shards: Path, tmp_path: Path
) -> None:
    """``--shard i/N`` built again in the same index reads only its own cells' files and the
    files changed since: the others are known by path and content hash, their field lengths
    remembered, so the shard is the one a whole read gives."""
    import xapian

    from evsearch._xapian.schema import shard_of

    work = tmp_path / "corpus"
    shutil.copytree(corpus, work)
    read: list[int] = []

    def build(target: Path) -> Path:
        read.clear()
        update_index(corpus=work, index=target, shard=(0, 3),
                     progress=lambda p: read.append(p.files_total))
        return shard_paths(target)[0]

    def content(shard: Path) -> tuple:  # type: ignore[no-untyped-def]
        db = xapian.Database(str(shard))
        return db.get_doccount(), db.get_total_length(), db.get_metadata("evsearch.avglen")

    target = tmp_path / "index"
    first = content(build(target))
    assert read[-1] == 50
    assert first == content(shard_paths(three_shards)[0])
    again = content(build(target))
    own = sum(1 for p in work.rglob("*.txt") if shard_of(f"{p.parent.name}/{p.stem}", 3) == 0)
    assert read[-1] == own < 50  # the other shards' files are not read again
    assert again == first
    other = next(p for p in sorted(work.rglob("*.txt")) if shard_of(f"{p.parent.name}/{p.stem}", 3) != 0)
    other.write_text(other.read_text(encoding="utf-8") + "\nA longer commentary now. " * 40, encoding="utf-8")
    changed = content(build(target))
    assert read[-1] == own + 1
    assert changed == content(build(tmp_path / "fresh")) and changed[2] != first[2]


MISSPELT = [
    "motivatonal intervewing", "counseling ofenders", "supervison", "treatmnet outcomes",
    "alcohl", "brief interventoin", "prisn healthcare", "zzzqx", "drinkng patients",
]


def _spelling(idx, query: str) -> tuple:  # type: ignore[no-untyped-def]
    r = idx.search(query, limit=3)
    return r.suggestion, r.corrected, r.total, [h.id for h in r.hits]


def test_corrections_on_one_database_local_and_remote_shards_as_on_whoosh(
    one_db: Path, three_shards: Path, whoosh_db: Path
) -> None:
    """Spelling corrections and "did you mean" read the shards' word counts (metadata): the
    same suggestions, and the same corrected hits, everywhere, and the Whoosh engine's."""
    paths = shard_paths(three_shards)
    counts = _word_counts(three_shards)
    # words known to one shard only, not the first: a correct word and a misspelt one
    elsewhere = sorted(w for w in set(counts[1]) | set(counts[2])
                       if w not in counts[0] and w.isalpha() and len(w) >= 5)[:4]
    assert elsewhere
    queries = [*MISSPELT, *(f"{w} supervison" for w in elsewhere),
               *(w[:3] + w[4:] for w in elsewhere)]
    with open_index(index=one_db) as a, open_index(index=three_shards) as b, \
            open_index(index=whoosh_db) as w, serve(paths) as servers:
        with open_index(index=remote_spec(servers)) as c:
            suggested = 0
            for query in queries:
                one = _spelling(a, query)
                suggested += one[0] is not None
                assert _spelling(b, query) == one, query
                assert _spelling(c, query) == one, query
                assert w.search(query, limit=3).suggestion == one[0], query
            assert suggested >= len(queries) // 2


def _word_counts(index_dir: Path) -> list[dict[str, int]]:
    import xapian

    out = []
    for p in shard_paths(index_dir):
        db = xapian.Database(str(p))
        out.append({k.decode()[1:]: int(db.get_metadata(k)) for k in db.metadata_keys("W")})
    return out


def test_an_update_keeps_the_spelling_words_as_a_fresh_build_has_them(corpus: Path, tmp_path: Path) -> None:
    """A word added by an update becomes known (a correction target); when the only document
    with it goes, it is unknown again; each shard's counts are a fresh build's."""
    work = tmp_path / "corpus"
    shutil.copytree(corpus, work)
    target, whoosh = tmp_path / "index", tmp_path / "whoosh"
    update_index(corpus=work, index=target, engine="xapian", shards=3)
    update_index(corpus=work, index=whoosh)
    cell = work / "drug" / "D4.txt"
    before = cell.read_text(encoding="utf-8")

    def check(known: bool) -> None:
        with open_index(index=target) as x, open_index(index=whoosh) as w:
            # The Whoosh engine's word list keeps a deleted document's words until its
            # segments merge: a removed word stays "known" there; on Xapian it goes at once.
            for idx in (x, w) if known else (x,):
                r = idx.search("zymurgicall quandary")
                assert (r.suggestion == "zymurgical quandary") is known, r.suggestion
                assert (idx.search("zymurgical").total > 0) is known
        fresh = tmp_path / f"fresh-{known}"
        update_index(corpus=work, index=fresh, engine="xapian", shards=3)
        assert _word_counts(target) == _word_counts(fresh)
        assert any(("zymurgical" in counts) is known for counts in _word_counts(target))
        shutil.rmtree(fresh)

    cell.write_text(before + "\nZymurgical brewing quandary.\n", encoding="utf-8")
    update_index(corpus=work, index=target)
    update_index(corpus=work, index=whoosh)
    check(known=True)
    cell.write_text(before, encoding="utf-8")
    update_index(corpus=work, index=target)
    update_index(corpus=work, index=whoosh)
    check(known=False)


def test_a_documents_words_are_rebuilt_from_its_stored_fields(corpus: Path) -> None:
    """An update takes a removed document's words off the counts from its stored fields: they
    give the words it was counted with."""
    from evsearch._xapian.words import stored_words
    from evsearch._xapian.writer import STORED
    from evsearch.analysis import word_analyzer
    from evsearch.index.schema import document_fields
    from evsearch.index.sources import ingest_corpus

    words = word_analyzer()
    seen = set()
    batches, _ = ingest_corpus(corpus)
    for batch in batches[:8]:
        for doc in batch.documents:
            fields = document_fields(doc, batch.source)
            stored = {k: fields[k] for k in STORED if fields.get(k) not in (None, "")}
            expected = set(words.terms(fields["words"]))
            assert expected and set(words.terms(stored_words(stored))) == expected
            seen.add(fields["kind"])
    assert "study" in seen and len(seen) > 1
