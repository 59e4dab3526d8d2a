"""Index lifecycle: incremental updates, the write lock, crashes, readers during writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

import evsearch
from evsearch import IndexBusyError, IndexVersionError, open_index, update_index
from evsearch.cli import cli
from evsearch.index import IndexProgress, index_is_stale, watch_corpus
from evsearch.index.lock import WriteLock, read_holder
from tests._scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


@pytest.fixture(scope="module")
def trials() -> ModuleType:
    """scripts/crash_trials.py, which also makes the synthetic corpora."""
    return load_script("crash_trials")


@pytest.fixture()
def synth(tmp_path: Path, trials: ModuleType) -> tuple[Path, Path, dict[str, int]]:
    """A corpus of 8 distinct cells and its freshly built index."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    state = trials.make_corpus(corpus, 8)
    update_index(corpus=corpus, index=index, rebuild=True)
    return corpus, index, state


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(SRC) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "evsearch", *args], env=env(),
                          capture_output=True, text=True, timeout=120)


def hit_cells(index: Path, query: str) -> list[str]:
    with open_index(index=index) as idx:
        return [h.cell for h in idx.search(query, limit=50, suggest=False).hits]


# --- incremental updates -------------------------------------------------------------------------

def test_add_change_remove_follow_in_search_and_report(synth, trials) -> None:
    corpus, index, state = synth
    base = trials.B5.read_text(encoding="utf-8")
    assert hit_cells(index, trials.marker("alcohol/A1")) == ["alcohol/A1"]

    trials.write_cell(corpus, "drug/E5", 0, base)  # add
    report = update_index(corpus=corpus, index=index)
    assert (report.added, report.updated, report.removed, report.unchanged) == (1, 0, 0, 8)
    assert report.documents == 38 and not report.rebuilt
    assert hit_cells(index, trials.marker("drug/E5")) == ["drug/E5"]

    trials.write_cell(corpus, "alcohol/A2", 7, base)  # change
    report = update_index(corpus=corpus, index=index)
    assert report.summary() == "added 0, updated 1, removed 0, unchanged 8 files"
    assert report.documents == 38  # only the changed cell was re-ingested
    with open_index(index=index) as idx:
        [hit] = idx.search(trials.marker("alcohol/A2"), suggest=False).hits
        assert hit.text.endswith("version v7.")

    (corpus / "alcohol" / "A1.txt").unlink()  # remove
    report = update_index(corpus=corpus, index=index)
    assert report.summary() == "added 0, updated 0, removed 1, unchanged 8 files"
    assert hit_cells(index, trials.marker("alcohol/A1")) == []
    state, problems = trials.index_state(index)
    assert not problems and len(state) == 8


def test_touched_but_unchanged_file_is_not_reingested(synth) -> None:
    corpus, index, _ = synth
    path = corpus / "alcohol" / "A3.txt"
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    report = update_index(corpus=corpus, index=index)
    assert (report.updated, report.unchanged, report.documents) == (0, 8, 0)
    gen = index / (index / "CURRENT").read_text().strip()
    [meta] = [json.loads(m.read_text()) for m in gen.glob("meta-*.json")]  # no new commit
    assert meta["files"]["alcohol/A3.txt"]["mtime_ns"] == 1_000_000_000  # the new mtime recorded


def test_cli_index_reports_and_json(synth, trials) -> None:
    corpus, index, _ = synth
    trials.write_cell(corpus, "alcohol/B1", 3, trials.B5.read_text(encoding="utf-8"))
    args = ["index", "--corpus", str(corpus), "--index", str(index)]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[0].startswith("added 0, updated 1, removed 0, unchanged 7 files; ")
    out = CliRunner().invoke(cli, [*args, "--json"])
    data = json.loads(out.output)
    assert (data["unchanged"], data["updated"], data["rebuilt"], data["problems"]) == (8, 0, False, [])
    out = CliRunner().invoke(cli, [*args, "--rebuild"])
    assert out.output.startswith("rebuilt: added 8, updated 0, removed 0, unchanged 0 files; ")


def test_failing_file_is_reported_and_keeps_its_old_documents(synth, trials) -> None:
    corpus, index, _ = synth
    bad = corpus / "alcohol" / "A4.txt"
    bad.write_bytes(b"\x00\x01\x02 not text at all\xff" * 20)
    (corpus / "alcohol" / "C9.txt").write_bytes(b"\x00\x01 nor this" * 20)  # a new bad file
    report = update_index(corpus=corpus, index=index)
    assert sorted(p.path for p in report.problems) == ["alcohol/A4.txt", "alcohol/C9.txt"]
    assert all(p.reason for p in report.problems)
    assert (report.added, report.updated) == (0, 0)
    assert hit_cells(index, trials.marker("alcohol/A4")) == ["alcohol/A4"]  # still searchable
    assert index_is_stale(corpus=corpus, index=index)  # and retried next time
    trials.write_cell(corpus, "alcohol/A4", 5, trials.B5.read_text(encoding="utf-8"))
    assert update_index(corpus=corpus, index=index).updated == 1


def test_progress_reports_files_documents_and_eta(synth, trials) -> None:
    corpus, index, _ = synth
    seen: list[IndexProgress] = []
    update_index(corpus=corpus, index=index, rebuild=True, progress=seen.append)
    reading = [p for p in seen if p.phase == "reading"]
    assert [p.files_done for p in reading] == list(range(1, 9))
    assert reading[-1].eta == 0 and reading[-1].rate > 0
    assert [p for p in seen if p.phase == "writing"][-1].documents == 8 * 38


def test_progress_is_silent_when_piped(synth) -> None:
    corpus, index, _ = synth
    proc = run_cli("index", "--corpus", str(corpus), "--index", str(index), "--rebuild")
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.startswith("rebuilt: added 8, updated 0, removed 0, unchanged 0 files; ")


def test_search_brings_a_stale_index_up_to_date(synth, trials) -> None:
    corpus, index, _ = synth
    trials.write_cell(corpus, "drug/A1", 0, trials.B5.read_text(encoding="utf-8"))
    assert index_is_stale(corpus=corpus, index=index)
    with evsearch.ensure_index(index=index, corpus=corpus, update=False) as idx:
        assert idx.search(trials.marker("drug/A1"), suggest=False).total == 0
    with evsearch.ensure_index(index=index, corpus=corpus) as idx:
        assert idx.search(trials.marker("drug/A1"), suggest=False).total == 1
    assert not index_is_stale(corpus=trials.ROOT / "corpus", index=index)  # another corpus: never touched


def test_watch_updates_after_a_change(synth, trials) -> None:
    corpus, index, _ = synth
    stop, reports, first = threading.Event(), [], threading.Event()
    changed = threading.Event()

    def on_report(report) -> None:
        reports.append(report)
        (changed if first.is_set() else first).set()

    thread = threading.Thread(target=watch_corpus, daemon=True, kwargs=dict(
        corpus=corpus, index=index,
        on_report=on_report, stop_event=stop, debounce_ms=100, force_polling=True))
    thread.start()
    try:
        assert first.wait(30)
        trials.write_cell(corpus, "alcohol/A5", 9, trials.B5.read_text(encoding="utf-8"))
        # the polling watcher compares whole-second mtimes: an edit in the same second as
        # its first scan, at the same size, would look unchanged to it (inotify sees it)
        edited = corpus / "alcohol" / "A5.txt"
        later = edited.stat().st_mtime + 2
        os.utime(edited, (later, later))
        assert changed.wait(30)
    finally:
        stop.set()
        thread.join(30)
    assert reports[0].unchanged == 8 and reports[-1].updated == 1


# --- versions ------------------------------------------------------------------------------------

def test_incompatible_schema_says_rebuild_and_rebuild_works(synth) -> None:
    corpus, index, _ = synth
    gen = index / (index / "CURRENT").read_text().strip()
    for meta_file in gen.glob("meta-*.json"):
        meta = json.loads(meta_file.read_text())
        meta["schema_version"] = 999
        meta_file.write_text(json.dumps(meta))
    with pytest.raises(IndexVersionError):
        open_index(index=index)
    args = ["--corpus", str(corpus), "--index", str(index)]
    for cmd in (["search", "counselling"], ["index"]):
        out = CliRunner().invoke(cli, [*cmd, *args])
        assert out.exit_code == 1
        assert out.output.splitlines()[0].startswith(f"Error: the index at {index} was written by")
        assert out.output.splitlines()[1] == "Hint: run `evsearch index --rebuild` to build the index again"
    assert CliRunner().invoke(cli, ["index", "--rebuild", *args]).exit_code == 0
    with open_index(index=index) as idx:
        assert idx.stats().schema_version == evsearch.index.SCHEMA_VERSION
        assert idx.stats().evsearch_version == evsearch.__version__


# --- the write lock ------------------------------------------------------------------------------

def test_second_writer_waits_then_fails_with_one_line(synth) -> None:
    corpus, index, _ = synth
    with WriteLock(index):
        holder = read_holder(index)
        assert holder is not None and holder["pid"] == os.getpid()
        with pytest.raises(IndexBusyError):
            update_index(corpus=corpus, index=index, wait=0.1)
        proc = run_cli("index", "--corpus", str(corpus), "--index", str(index), "--wait", "0.2")
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"Error: another indexing run holds the index at {index} "
        f"(pid {holder['pid']} on {holder['host']} since {holder['started']})",
        "Hint: wait for the other `evsearch index` to finish, or pass --wait SECONDS",
    ]
    assert read_holder(index) is None  # released


def test_lock_of_a_killed_process_is_cleared(synth) -> None:
    corpus, index, _ = synth
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    record = {"pid": int(dead), "host": __import__("socket").gethostname(), "started": "then"}
    (index / "write.lock").write_text(json.dumps(record))
    for use_flock in (True, False):
        lock = WriteLock(index, wait=0, use_flock=use_flock)
        with lock:
            assert lock.stale == record
        (index / "write.lock").write_text(json.dumps(record))
    assert update_index(corpus=corpus, index=index, wait=0).unchanged == 8


def test_exclusive_lock_fallback_excludes_a_live_holder(synth) -> None:
    _, index, _ = synth
    (index / "write.lock").unlink()
    with WriteLock(index, use_flock=False):
        with pytest.raises(IndexBusyError):
            WriteLock(index, wait=0.05, use_flock=False).acquire()
    assert not (index / "write.lock").exists()


def test_two_writers_racing_threads(synth, trials) -> None:
    corpus, index, _ = synth
    trials.write_cell(corpus, "alcohol/A1", 4, trials.B5.read_text(encoding="utf-8"))
    barrier, results = threading.Barrier(2), []

    def writer() -> None:
        barrier.wait()
        try:
            results.append(update_index(corpus=corpus, index=index, wait=0))
        except IndexBusyError as exc:
            results.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if not isinstance(r, Exception) and r.updated == 1]
    others = [r for r in results if r not in winners]
    assert len(winners) == 1 and len(others) == 1
    assert isinstance(others[0], IndexBusyError) or others[0].unchanged == 8
    state, problems = trials.index_state(index)
    assert not problems and state["alcohol/A1"] == 4 and len(state) == 8


@pytest.mark.slow
def test_two_writers_racing_processes(synth, trials) -> None:
    corpus, index, _ = synth
    trials.write_cell(corpus, "drug/B2", 0, trials.B5.read_text(encoding="utf-8"))
    cmd = [sys.executable, "-m", "evsearch", "index", "--corpus", str(corpus), "--index", str(index),
           "--wait", "0", "--json"]
    procs = [subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [(p.wait(120), *p.communicate()) for p in procs]
    reports = [json.loads(out) for code, out, _ in outs if code == 0]
    busy = [err for code, _, err in outs if code == 1]
    assert len(reports) + len(busy) == 2
    assert sum(r["added"] for r in reports) == 1  # exactly one run did the work
    assert all(e.startswith("Error: another indexing run holds the index") for e in busy)
    state, problems = trials.index_state(index)
    assert not problems and len(state) == 9


# --- crashes -------------------------------------------------------------------------------------

@pytest.mark.slow
def test_kill_9_at_random_points(tmp_path: Path, trials) -> None:
    outcomes = trials.trials(20, n_cells=6, seed=5, workdir=tmp_path)
    failed = [o for o in outcomes if o.result.startswith("FAILED")]
    assert not failed, failed
    assert len(outcomes) == 20


# --- readers -------------------------------------------------------------------------------------

def test_refreshed_view_never_shows_deleted_or_doubled_documents(synth, trials, monkeypatch) -> None:
    """whoosh3's Searcher.refresh() returns deleted and doubled hits after an update: the
    reopen path must not use it, and a long-lived SearchIndex must see exactly the commit."""
    from whoosh.searching import Searcher

    def refuse(self):  # pragma: no cover - it must not be called
        raise AssertionError("Searcher.refresh() called")

    monkeypatch.setattr(Searcher, "refresh", refuse)
    corpus, index, _ = synth
    base = trials.B5.read_text(encoding="utf-8")
    with open_index(index=index) as idx:
        assert idx.search("supervision", limit=1000).total == 8 * idx.search(
            "supervision", cell="alcohol/A1", limit=1000).total
        per_cell = idx.search("supervision", cell="alcohol/A1", limit=1000).total
        for round_ in range(1, 4):
            (corpus / "alcohol" / "A1.txt").unlink(missing_ok=True)
            trials.write_cell(corpus, "alcohol/A2", round_, base)
            update_index(corpus=corpus, index=index)
            result = idx.search("supervision", limit=1000)
            ids = [h.id for h in result.hits]
            assert len(ids) == len(set(ids)), "a doubled document"
            assert not [i for i in ids if i.startswith("alcohol/A1/")], "a deleted document"
            assert result.total == 7 * per_cell
            [hit] = idx.search(trials.marker("alcohol/A2"), suggest=False).hits
            assert hit.text.endswith(f"v{round_}.")
            trials.write_cell(corpus, "alcohol/A1", round_, base)
            update_index(corpus=corpus, index=index)
            assert idx.search("supervision", limit=1000).total == 8 * per_cell
            docs = idx.documents()
            assert len(docs) == len({d.id for d in docs}) == 8 * 38


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_long_running_reader_sees_every_commit_without_leaking_files(tmp_path, trials) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    trials.make_corpus(corpus, 2)
    update_index(corpus=corpus, index=index, rebuild=True)
    base = trials.B5.read_text(encoding="utf-8")
    baseline = _open_fds()
    fds_by_segments: dict[int, set[int]] = {}
    with open_index(index=index) as idx:
        searches = 0
        for commit in range(1, 51):
            trials.write_cell(corpus, "alcohol/A2", commit, base)
            assert update_index(corpus=corpus, index=index).updated == 1
            for _ in range(20):
                [hit] = idx.search(trials.marker("alcohol/A2"), suggest=False, snippets=False).hits
                assert hit.text.endswith(f"version v{commit}.")
                searches += 1
            # a reader holds files per segment (opened as used), and Whoosh merges segments now
            # and then: the same number of segments must always mean the same number of files
            segments = len(idx._current().reader().leaf_readers())
            fds_by_segments.setdefault(segments, set()).add(_open_fds() - baseline)
        assert searches == 1000
        held = _open_fds()
    with open_index(index=index) as fresh:
        fresh.search(trials.marker("alcohol/A2"), suggest=False, snippets=False)
        assert held == _open_fds()  # the long-lived reader holds what a fresh one holds
    assert _open_fds() == baseline
    assert len(fds_by_segments) > 1  # merges happened
    assert all(len(counts) == 1 for counts in fds_by_segments.values()), fds_by_segments  # no leak


@pytest.mark.slow
def test_readers_during_rebuilds_never_fail_or_see_an_empty_index(synth, trials) -> None:
    corpus, index, _ = synth
    with open_index(index=index) as idx:
        expected = idx.search("supervision", limit=1000).total
    assert expected > 0
    stop, errors, counts = threading.Event(), [], []
    shared = open_index(index=index)

    def reader(own: bool) -> None:
        n = 0
        try:
            while not stop.is_set():
                if own:
                    with open_index(index=index) as mine:
                        total = mine.search("supervision", limit=1000).total
                else:
                    total = shared.search("supervision", limit=1000).total
                if total != expected:
                    errors.append(f"saw {total} hits, not {expected}")
                n += 1
        except Exception as exc:  # the point: no reader may ever fail
            errors.append(repr(exc))
        counts.append(n)

    stop_file = index.parent / "stop-readers"
    code = (
        "import sys, pathlib; from evsearch import open_index\n"
        "index, stop, expected = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), int(sys.argv[3])\n"
        "n = 0\n"
        "with open_index(index=index) as idx:\n"
        "    while not stop.exists():\n"
        "        assert idx.search('supervision', limit=1000).total == expected\n"
        "        with open_index(index=index) as fresh:\n"
        "            assert fresh.search('supervision', limit=1000).total == expected\n"
        "        n += 1\n"
        "print(n)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(index), str(stop_file), str(expected)],
                              env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    threads = [threading.Thread(target=reader, args=(own,)) for own in (True, False, False)]
    for t in threads:
        t.start()
    try:
        for i in range(4):
            report = update_index(corpus=corpus, index=index, rebuild=(i % 2 == 0))
            assert report.rebuilt == (i % 2 == 0)
            (corpus / "alcohol" / "A1.txt").touch()  # an incremental run with nothing to change
    finally:
        stop.set()
        stop_file.touch()
        for t in threads:
            t.join()
        shared.close()
        outs = [(p.wait(120), *p.communicate()) for p in procs]
    assert not errors, errors[:3]
    assert all(n > 0 for n in counts)
    for code_, out, err in outs:
        assert code_ == 0, err[-500:]
        assert int(out) >= 0


def test_an_update_adds_only_new_words_to_the_saved_stems(corpus_copy: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    update_index(corpus=corpus_copy, index=index)
    stems = index / (index / "CURRENT").read_text(encoding="utf-8").strip() / "stems.json"
    before = json.loads(stems.read_text(encoding="utf-8"))
    assert {"probation", "offenders", "supervision"} <= before.keys()
    written = stems.stat().st_mtime_ns
    b5 = corpus_copy / "alcohol" / "B5.txt"
    text = b5.read_text(encoding="utf-8")
    b5.write_text(text + "\nProbation supervision of offenders.\n", encoding="utf-8")
    assert update_index(corpus=corpus_copy, index=index).updated == 1
    assert stems.stat().st_mtime_ns == written  # no new word: the table is not rewritten
    b5.write_text(b5.read_text(encoding="utf-8") + "\nThe zorbification of counsellors.\n", encoding="utf-8")
    assert update_index(corpus=corpus_copy, index=index).updated == 1
    after = json.loads(stems.read_text(encoding="utf-8"))
    assert after["zorbification"] == "zorbif"
    assert before.items() <= after.items()
    # so a new process searching for it stems it from the table, without importing NLTK
    code = (
        "import sys; from evsearch import open_index; "
        f"hits = open_index(index={str(index)!r}).search('zorbification').hits; "
        "print(len(hits), 'nltk' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "False"]
