"""Regression tests of the defects found by attacking evsearch (issue 16), through the CLI and
the public library API only, so that they hold whatever module the code lives in."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from evsearch import build_index, open_index, update_index
from evsearch.cli import cli
from tests.conftest import CORPUS

ROOT = Path(__file__).resolve().parents[1]
STUDY = "alcohol/B5/k2008-relationship-therapist-seems"

HOT_TOPIC = """<!DOCTYPE html><html><head><meta charset="utf-8">
<title>Hot topic: the influence of treatment staff</title></head>
<body><h1>The influence of treatment staff</h1>
<p>Who delivers treatment to offenders can matter as much as which treatment is delivered.</p>
<h2>Therapist effects</h2><p>Some counsellors of offenders get consistently better results.</p>
</body></html>"""


def invoke(*args: str, input: str | None = None) -> Result:
    """Run the CLI; an exception other than a clean exit is a bug (an internal error)."""
    result = CliRunner().invoke(cli, list(args), input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"internal error: {result.exception!r}\n{result.output}") from result.exception
    return result


def dirs(corpus: Path, index: Path) -> list[str]:
    return ["--corpus", str(corpus), "--index", str(index)]


def copy_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    return corpus


def one_error_line(result: Result) -> str:
    """The ``Error:`` line of a failed command; there is exactly one, and a ``Hint:``."""
    assert result.exit_code != 0, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    return errors[0]


# --- 1. segments without a year column -------------------------------------------------------

def _years(result: Result) -> list[int]:
    return [h["year"] for h in json.loads(result.stdout)["hits"] if h["year"] is not None]


@pytest.mark.parametrize("undated_first", [False, True])
def test_segment_without_year_column_keeps_facets_and_year_sort(tmp_path: Path, undated_first: bool) -> None:
    corpus = tmp_path / "corpus"
    hot = corpus / "hot" / "staff.htm"
    index = tmp_path / "index"
    if undated_first:
        hot.parent.mkdir(parents=True)
        hot.write_text(HOT_TOPIC, encoding="utf-8")
        assert invoke("index", *dirs(corpus, index)).exit_code == 0
        shutil.copytree(CORPUS / "alcohol", corpus / "alcohol")
    else:
        shutil.copytree(CORPUS, corpus)
        assert invoke("index", *dirs(corpus, index)).exit_code == 0
        hot.parent.mkdir(parents=True)
        hot.write_text(HOT_TOPIC, encoding="utf-8")
    added = invoke("index", *dirs(corpus, index))
    assert added.exit_code == 0 and "added 1" in added.stdout, added.output
    for sort in ("year", "-year"):
        result = invoke("search", "offenders", "--sort", sort, "--limit", "50", "--json",
                        *dirs(corpus, index))
        assert result.exit_code == 0, result.output
        years = _years(result)
        assert years == sorted(years, reverse=sort == "-year") and len(years) >= 4
        hits = json.loads(result.stdout)["hits"]
        assert [h["year"] for h in hits][-2:] == [None, None]  # the undated page's passages last
    result = invoke("search", "offenders", "--facets", "--json", *dirs(corpus, index))
    assert result.exit_code == 0, result.output
    assert {"2002", "2005", "2008", "2014"} <= set(json.loads(result.stdout)["facets"]["year"])
    studies = invoke("search", "offenders kind:study", "--sort", "year", "--json", *dirs(corpus, index))
    years = _years(studies)
    assert years == sorted(years) and len(years) >= 4


# --- 2. a killed build leaves the lock behind ------------------------------------------------

def _lock_then_fork_script(index: Path) -> str:
    # Takes the write lock the way a build does (through the public update_index with a
    # progress callback that never returns), after forking a worker as Whoosh's multiprocess
    # writer does: a worker that waits for work for ever.
    return textwrap.dedent(f"""
        import multiprocessing, os, sys, time
        from evsearch import update_index

        def worker(q):
            q.get()  # waits for work for ever, as Whoosh's sub-writers do

        def progress(p):
            ctx = multiprocessing.get_context("fork")
            q = ctx.Queue()
            ctx.Process(target=worker, args=(q,)).start()
            print("locked", flush=True)
            while True:
                time.sleep(1)

        update_index(corpus={str(CORPUS)!r}, index={str(index)!r}, rebuild=True, progress=progress)
    """)


def _pids_with_open(path: Path) -> set[int]:
    """Processes that hold ``path`` open (from /proc)."""
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) == str(path):
                    found.add(int(proc.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_killed_writer_leaves_no_lock_even_with_forked_workers(tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index(corpus=CORPUS, index=index)
    proc = subprocess.Popen([sys.executable, "-c", _lock_then_fork_script(index)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        lock = (index / "write.lock").resolve()
        # A worker drops its copy of the descriptor as soon as it runs after the fork (polled
        # with a deadline: it may not have been scheduled yet).
        deadline = time.monotonic() + 10
        while (holders := _pids_with_open(lock)) != {proc.pid} and time.monotonic() < deadline:
            time.sleep(0.05)
        assert holders == {proc.pid}, "a forked worker holds the lock's descriptor"
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    # The worker dies with its parent (polled with a deadline: it gets SIGKILL from the kernel).
    deadline = time.monotonic() + 10
    while _pids_with_open(lock) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _pids_with_open(lock)
    result = invoke("index", "--wait", "0", *dirs(CORPUS, index))
    assert result.exit_code == 0, result.output


# --- 3. the lock leaks after a disk-full error while taking it -------------------------------

def test_lock_is_released_when_recording_the_holder_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    build_index(corpus=CORPUS, index=index)
    def full(fd: int, data: bytes, offset: int) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "pwrite", full)
    monkeypatch.setattr(os, "write", lambda fd, data: full(fd, data, 0))
    with pytest.raises(Exception) as info:
        update_index(corpus=CORPUS, index=index, rebuild=True, wait=0)
    assert "no space left on device" in str(info.value).lower()
    monkeypatch.undo()
    report = update_index(corpus=CORPUS, index=index, wait=0)  # not "another indexing run holds the index"
    assert report.unchanged == 1


# --- 4. an unreadable subdirectory deletes its documents -------------------------------------

def test_unreadable_folder_is_skipped_and_reported_and_keeps_its_documents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = copy_corpus(tmp_path)
    index = tmp_path / "index"
    assert invoke("index", *dirs(corpus, index)).exit_code == 0
    real_scandir = os.scandir
    blocked = str(corpus / "alcohol")

    def scandir(path: object = ".") -> object:  # what chmod 000 does for anyone but root
        if os.fspath(path).rstrip("/") == blocked:  # type: ignore[call-overload]
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))  # type: ignore[call-overload]
        return real_scandir(path)  # type: ignore[call-overload]

    monkeypatch.setattr(os, "scandir", scandir)
    result = invoke("index", *dirs(corpus, index))
    assert result.exit_code == 0, result.output
    assert "removed 0" in result.stdout and "skipped alcohol" in result.stderr, result.output
    assert "Permission denied" in result.stderr
    with open_index(index=index) as idx:
        assert idx.search("supervision").total > 0
    # the same through a search that updates the index first
    (corpus / "alcohol" / "B5.txt").touch()
    result = invoke("search", "supervision", "--json", *dirs(corpus, index))
    assert result.exit_code == 0 and json.loads(result.stdout)["total"] > 0


# --- 6. one bad path aborts everything -------------------------------------------------------

def test_symlink_loop_is_skipped(tmp_path: Path) -> None:
    corpus = copy_corpus(tmp_path)
    index = tmp_path / "index"
    (corpus / "alcohol" / "self.txt").symlink_to("self.txt")
    (corpus / "alcohol" / "a.txt").symlink_to("b.txt")
    (corpus / "alcohol" / "b.txt").symlink_to("a.txt")
    for command in (["index"], ["search", "supervision"], ["show", STUDY]):
        result = invoke(*command, *dirs(corpus, index))
        assert result.exit_code == 0, result.output
    result = invoke("index", "--rebuild", *dirs(corpus, index))
    assert result.exit_code == 0 and "skipped alcohol/self.txt" in result.stderr, result.output


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS refuses non-UTF-8 file names")
def test_non_utf8_and_control_character_file_names(tmp_path: Path) -> None:
    corpus = copy_corpus(tmp_path)
    index = tmp_path / "index"
    text = (CORPUS / "alcohol" / "B5.txt").read_bytes().replace(b"cell B5", b"cell B4", 1)
    bad = os.fsencode(str(corpus / "drug")) + b"/bad\xff\xfe.txt"
    os.makedirs(corpus / "drug")
    with open(bad, "wb") as fh:
        fh.write(text)
    (corpus / "drug" / "new\nline\x1b[31m.txt").write_text("", encoding="utf-8")  # not a cell
    result = invoke("index", *dirs(corpus, index))
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped")]
    assert any("new\\nline" in line for line in skipped), result.stderr
    assert any("bad\\xff\\xfe.txt" in line for line in skipped), result.stderr
    with open_index(index=index) as idx:
        assert idx.search("supervision").total > 0
    assert invoke("search", "supervision", *dirs(corpus, index)).exit_code == 0


# --- 7. write.lock (or the manifest) opened through a symlink --------------------------------

@pytest.mark.parametrize("name", ["write.lock", "CURRENT", "EVSEARCH_INDEX"])
def test_symlinked_index_files_are_refused_and_their_targets_untouched(tmp_path: Path, name: str) -> None:
    index = tmp_path / "index"
    build_index(corpus=CORPUS, index=index)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    if name == "CURRENT":
        victim.write_text((index / "CURRENT").read_text(encoding="utf-8"), encoding="utf-8")
    before = victim.read_bytes()
    (index / name).unlink()
    (index / name).symlink_to(victim)
    for command in (["index"], ["index", "--rebuild"], ["search", "supervision"]):
        (CORPUS / "alcohol" / "B5.txt").stat()
        result = invoke(*command, *dirs(CORPUS, index))
        assert victim.read_bytes() == before
        assert (index / name).is_symlink()
        line = one_error_line(result)
        assert name in line and "symlink" in line, line


def test_symlinked_meta_is_refused(tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index(corpus=CORPUS, index=index)
    gen = index / (index / "CURRENT").read_text(encoding="utf-8").strip()
    meta = next(gen.glob("meta-*.json"))
    victim = tmp_path / "victim.json"
    victim.write_bytes(meta.read_bytes())
    meta.unlink()
    meta.symlink_to(victim)
    line = one_error_line(invoke("search", "supervision", *dirs(CORPUS, index)))
    assert meta.name in line and "symlink" in line


# --- 10. an empty corpus ---------------------------------------------------------------------

def test_empty_corpus_says_so_and_leaves_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.md").write_text("not a cell", encoding="utf-8")
    index = tmp_path / "idx"
    for command in (["index"], ["index", "--rebuild"], ["search", "supervision"]):
        line = one_error_line(invoke(*command, *dirs(empty, index)))
        assert "no cell files" in line and str(empty) in line, line
        assert not index.exists()


def test_missing_current_is_rebuilt_by_search(tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index(corpus=CORPUS, index=index)
    (index / "CURRENT").unlink()
    result = invoke("search", "supervision", "--json", *dirs(CORPUS, index))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total"] > 0


# --- also: leftovers of killed rebuilds, year:-5 ---------------------------------------------

def test_unfinished_generations_are_cleared_on_the_next_run(tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index(corpus=CORPUS, index=index)
    left = index / "gen-000009.building"
    left.mkdir()
    (left / "_MAIN_1.toc").write_bytes(b"partial")
    assert invoke("index", *dirs(CORPUS, index)).exit_code == 0
    assert not left.exists()


def test_negative_year_is_reported_as_written(tmp_path: Path, built_index: Path) -> None:
    result = invoke("search", "supervision year:-5", "--index", str(built_index), "--corpus", str(CORPUS))
    assert "year 5" not in result.output
    if result.exit_code:
        assert "-5" in one_error_line(result)


# --- 5. disk full ----------------------------------------------------------------------------

@pytest.fixture()
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 700 kB tmpfs: room for one index of the bundled corpus, not for a second generation."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "fs"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=700k", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _files(index: Path) -> list[str]:
    return sorted(p.relative_to(index).as_posix() for p in index.rglob("*"))


def test_disk_full_is_reported_cleaned_up_and_the_last_commit_searched(
    tmp_path: Path, small_disk: Path
) -> None:
    index = small_disk / "index"
    corpus = copy_corpus(tmp_path)
    assert invoke("index", *dirs(corpus, index)).exit_code == 0
    before = _files(index)
    result = invoke("index", "--rebuild", *dirs(corpus, index))
    assert f"no space left on device at {index}" in one_error_line(result)
    assert _files(index) == before
    # an incremental update too big for the disk
    text = (CORPUS / "alcohol" / "B5.txt").read_text(encoding="utf-8")
    for code in ("A1", "A2", "A3", "B1", "B2", "B3", "C1", "C2"):
        (corpus / "alcohol" / f"{code}.txt").write_text(
            text.replace("cell B5", f"cell {code}", 1) + f"\n\nExtra {code} " * 2000, encoding="utf-8")
    result = invoke("index", *dirs(corpus, index))
    assert f"no space left on device at {index}" in one_error_line(result)
    assert _files(index) == before
    # a search whose update fails searches the last commit
    result = invoke("search", "supervision", "--json", *dirs(corpus, index))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total"] > 0
    assert "note: searching the last update of the index" in result.stderr
    assert "no space left on device" in result.stderr
    assert _files(index) == before


def test_watch_carries_on_after_a_disk_full_error(tmp_path: Path, small_disk: Path) -> None:
    import threading

    from evsearch.index import watch_corpus

    index = small_disk / "index"
    corpus = copy_corpus(tmp_path)
    build_index(corpus=corpus, index=index)
    text = (CORPUS / "alcohol" / "B5.txt").read_text(encoding="utf-8")
    for code in ("A1", "A2", "A3", "B1", "B2", "B3", "C1", "C2"):
        (corpus / "alcohol" / f"{code}.txt").write_text(
            text.replace("cell B5", f"cell {code}", 1) + f"\n\nExtra {code} " * 2000, encoding="utf-8")
    stop = threading.Event()
    errors: list[str] = []

    def on_error(exc: Exception) -> None:
        errors.append(str(exc))
        stop.set()

    watch_corpus(corpus=corpus, index=index, on_report=lambda r: stop.set(), on_error=on_error,
                 stop_event=stop, debounce_ms=50, force_polling=True)
    assert errors and "no space left on device" in errors[0]


# --- 8. stems.json: a cache verified before it is trusted -------------------------------------

def _gen(index: Path) -> Path:
    return index / (index / "CURRENT").read_text(encoding="utf-8").strip()


def _ranking(corpus: Path, index: Path, query: str = "offenders supervision") -> list[tuple[str, float]]:
    result = invoke("search", query, "--json", "--limit", "50", *dirs(corpus, index))
    assert result.exit_code == 0, result.output
    return [(h["id"], h["score"]) for h in json.loads(result.stdout)["hits"]]


def test_damaged_stems_are_not_trusted_nor_spread_into_the_index(tmp_path: Path) -> None:
    corpus = copy_corpus(tmp_path)
    index = tmp_path / "index"
    build_index(corpus=corpus, index=index)
    baseline = _ranking(corpus, index)
    stems = _gen(index) / "stems.json"
    table = json.loads(stems.read_text(encoding="utf-8"))
    table.update(offenders="zzz", offender="zzz", supervising="zzz", mentoring="zzz")
    stems.write_text(json.dumps(table), encoding="utf-8")
    assert _ranking(corpus, index) == baseline
    check = invoke("check", *dirs(corpus, index))
    assert check.exit_code == 1 and "stems.json" in check.stdout, check.output
    # an update made meanwhile indexes the new cell under the right stems
    text = (CORPUS / "alcohol" / "B5.txt").read_text(encoding="utf-8").replace("cell B5", "cell B4", 1)
    (corpus / "alcohol" / "B4.txt").write_text(text + "\n\nMentoring offenders works.\n", encoding="utf-8")
    assert invoke("index", *dirs(corpus, index)).exit_code == 0
    assert invoke("check", *dirs(corpus, index)).exit_code == 0
    (_gen(index) / "stems.json").unlink()
    found = invoke("search", '"mentoring offenders"', "--json", *dirs(corpus, index))
    hits = json.loads(found.stdout)["hits"]
    assert any(h["cell"] == "alcohol/B4" for h in hits)


# --- 9. corruption: named, with the --rebuild hint; check finds it; --rebuild repairs ---------

def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "flipped":
        at = len(data) // 2
        path.write_bytes(data[:at] + bytes([data[at] ^ 0x5A]) + data[at + 1 :])
    elif how == "zeroed":
        path.write_bytes(b"\0" * len(data))


KINDS = ["_stored.col", "seq.col", "year.col", "_text_len.col", ".pst", ".trm", ".evpost_tf",
         ".evpost.json", "stems.json", ".toc", "meta"]


@pytest.mark.parametrize("how", ["truncated", "flipped", "zeroed"])
@pytest.mark.parametrize("kind", KINDS)
def test_damaged_index_file_is_named_checked_and_repaired(tmp_path: Path, kind: str, how: str) -> None:
    index = tmp_path / "index"
    build_index(corpus=CORPUS, index=index)
    baseline = _ranking(CORPUS, index)
    path = next(p for p in sorted(_gen(index).iterdir())
                if p.name.endswith(kind) or (kind == "meta" and p.name.startswith("meta-")))
    if path.stat().st_size == 0:
        pytest.skip(f"{path.name} is empty in this index")
    _damage(path, how)
    result = invoke("search", "offenders supervision", "--json", "--limit", "50", *dirs(CORPUS, index))
    if result.exit_code == 0:
        got = [(h["id"], h["score"]) for h in json.loads(result.stdout)["hits"]]
        assert got == baseline, "silently different results"
    else:
        line = one_error_line(result)
        assert path.name in line, line
        assert "evsearch index --rebuild" in result.stderr
    check = invoke("check", *dirs(CORPUS, index))
    assert check.exit_code == 1, check.output
    assert path.name in check.output
    assert invoke("index", "--rebuild", *dirs(CORPUS, index)).exit_code == 0
    assert _ranking(CORPUS, index) == baseline
    assert invoke("check", *dirs(CORPUS, index)).exit_code == 0


@pytest.mark.parametrize("content", [b"\xff\xfe\x00gen", b"gen-000009\n", b""])
def test_bad_current_is_named_and_rebuild_repairs_it(tmp_path: Path, content: bytes) -> None:
    index = tmp_path / "index"
    build_index(corpus=CORPUS, index=index)
    (index / "CURRENT").write_bytes(content)
    for command in (["search", "supervision"], ["stats"], ["check"]):
        line = one_error_line(invoke(*command, *dirs(CORPUS, index)))
        assert "CURRENT" in line, line
    assert invoke("index", "--rebuild", *dirs(CORPUS, index)).exit_code == 0
    assert invoke("search", "supervision", *dirs(CORPUS, index)).exit_code == 0


# --- what a new user hit ---------------------------------------------------------------------

def test_only_search_and_index_create_an_index_and_they_say_where(tmp_path: Path) -> None:
    typo = tmp_path / "indx"
    for command in (["stats"], ["show", STUDY], ["similar", STUDY]):
        result = invoke(*command, *dirs(CORPUS, typo))
        assert result.exit_code == 1 and not typo.exists(), (command, result.output)
    result = invoke("search", "supervision", *dirs(CORPUS, typo))
    assert result.exit_code == 0 and f"building a new index at {typo}" in result.stderr
    result = invoke("search", "supervision", *dirs(CORPUS, typo))
    assert "building a new index" not in result.stderr
    other = tmp_path / "other"
    result = invoke("index", *dirs(CORPUS, other))
    assert result.exit_code == 0 and f"building a new index at {other}" in result.stderr


def test_a_query_starting_with_a_minus(built_index: Path) -> None:
    result = invoke("search", "-probation supervision", "--json", *dirs(CORPUS, built_index))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["total"] > 0 and all("probation" not in h["text"].lower() for h in data["hits"])
    result = invoke("search", "-probation", *dirs(CORPUS, built_index))
    assert result.exit_code == 2
    assert "evsearch search -- -probation" in result.stderr


def test_brief_with_no_hits_says_so(built_index: Path) -> None:
    result = invoke("search", "zzqqxxyy", "--brief", *dirs(CORPUS, built_index))
    assert result.exit_code == 0 and result.stdout.strip() == "No matches."


def test_counts_of_one_are_singular(tmp_path: Path, built_index: Path) -> None:
    index = tmp_path / "index"
    invoke("index", *dirs(CORPUS, index))
    result = invoke("index", *dirs(CORPUS, index))
    assert "unchanged 1 file;" in result.stdout and "0 documents written" in result.stdout
    hits = json.loads(invoke("search", "supervision", "--json", *dirs(CORPUS, built_index)).stdout)["hits"]
    limit = next(n for n in range(1, len(hits) + 1) if [h["kind"] for h in hits[:n]].count("passage") == 1)
    ris = invoke("search", "supervision", "--format", "ris", "--limit", str(limit),
                 *dirs(CORPUS, built_index))
    assert "note: left out 1 passage: RIS holds studies only" in ris.stderr, ris.stderr
    one = invoke("search", '"Not my job"', *dirs(CORPUS, built_index))
    assert one.stdout.startswith("1 matching document;"), one.stdout


def test_csv_cells_are_plain_text(built_index: Path) -> None:
    result = invoke("search", "supervision", "--format", "csv", *dirs(CORPUS, built_index))
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows and all("<mark>" not in r["snippet"] and "&amp;" not in r["snippet"] for r in rows)
    assert any("supervis" in r["snippet"].lower() for r in rows)


@pytest.mark.parametrize("width", [40, 50, 60])
def test_titles_and_headings_wrap_at_narrow_widths(built_index: Path, width: int) -> None:
    for command in (["search", "supervision offenders"], ["show", STUDY]):
        result = CliRunner().invoke(cli, [*command, *dirs(CORPUS, built_index)],
                                    env={"COLUMNS": str(width)})
        assert result.exit_code == 0, result.output
        long = [line for line in result.stdout.splitlines() if len(line) > width and " " in line.strip()]
        assert not long, long


# --- also: Ctrl-C during a multiprocess build ------------------------------------------------

INTERRUPTED_BUILD = """
import os, signal, sys
import evsearch.index.writer as writer
from evsearch.cli import main

writer.PARALLEL_BUILD_DOCUMENTS = 1  # the bundled corpus, written by Whoosh's worker processes
real = writer.document_fields
seen = []

def fields(doc, source):
    seen.append(doc)
    if len(seen) == 300:
        os.killpg(os.getpgid(0), signal.SIGINT)  # what Ctrl-C in a terminal does
    return real(doc, source)

writer.document_fields = fields
sys.argv = ["evsearch", "index", "--rebuild", "--corpus", sys.argv[1], "--index", sys.argv[2]]
main()
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="a multiprocess build needs two CPUs")
def test_ctrl_c_during_a_multiprocess_build_is_one_line(tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    text = (CORPUS / "alcohol" / "B5.txt").read_text(encoding="utf-8")
    for code in ("A1", "A2", "A3", "A4", "A5", "B1", "B2", "B3", "B4", "B5"):  # 370 documents
        path = corpus / "alcohol" / f"{code}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("cell B5", f"cell {code}", 1), encoding="utf-8")
    build_index(corpus=corpus, index=index)
    proc = subprocess.run([sys.executable, "-c", INTERRUPTED_BUILD, str(corpus), str(index)],
                          capture_output=True, text=True, cwd=ROOT, start_new_session=True, timeout=120)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert invoke("index", "--wait", "0", *dirs(corpus, index)).exit_code == 0


def test_busy_message_says_when_the_recorded_holder_is_dead(tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index(corpus=CORPUS, index=index)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    record = {"pid": int(dead), "host": __import__("socket").gethostname(), "started": "then"}
    (index / "write.lock").write_text(json.dumps(record), encoding="utf-8")
    # a descendant of the dead run still holding the lock (as Whoosh's workers did)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()",
         str(index / "write.lock")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        line = one_error_line(invoke("index", "--wait", "0", *dirs(CORPUS, index)))
        assert f"pid {dead} is no longer running" in line, line
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait()
        holder.stdout.close()


def test_damage_beyond_the_open_time_check_is_named_when_whoosh_trips_on_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evsearch.index.store as store

    monkeypatch.setattr(store, "VERIFY_AT_OPEN_BYTES", 0)  # as for files past the budget
    pristine = tmp_path / "pristine"
    build_index(corpus=CORPUS, index=pristine)
    baseline = _ranking(CORPUS, pristine)
    named = 0
    for where in (0.1, 0.3, 0.5, 0.7, 0.9):
        index = tmp_path / f"case{where}"
        shutil.copytree(pristine, index)
        path = next(_gen(index).glob("*._stored.col"))
        _damage_at(path, where)
        result = invoke("search", "offenders supervision", "--json", "--limit", "50", *dirs(CORPUS, index))
        if result.exit_code == 0:
            assert [(h["id"], h["score"]) for h in json.loads(result.stdout)["hits"]] == baseline
        else:
            assert path.name in one_error_line(result)
            named += 1
    assert named


def _damage_at(path: Path, where: float) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * where)] ^= 0x5A
    path.write_bytes(bytes(data))
