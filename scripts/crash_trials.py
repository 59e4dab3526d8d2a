#!/usr/bin/env python3
"""Kill -9 `evsearch index` at random points and check the index survives every time.

Each trial changes a synthetic corpus (cells edited, added, removed; sometimes a full
``--rebuild``), starts ``python -m evsearch index`` and kills it with SIGKILL a random time
after it takes the write lock. Then the index must open and hold exactly the last committed
state (the corpus before or after the run, never a mix, no document lost or doubled), and
the next ``evsearch index`` must complete and bring it up to date.

    python scripts/crash_trials.py --trials 100
    python scripts/crash_trials.py --timing     # one changed cell: incremental vs --rebuild
    python scripts/crash_trials.py --multiprocess 20   # kill a 20,000-passage parallel build
    python scripts/crash_trials.py --disk-full 10      # fill a small tmpfs (root only)

``--multiprocess``: each trial kills ``evsearch index --rebuild`` of a 20,000-passage corpus
(built by Whoosh's multiprocess writer, which forks sub-writers) at a random point; then no
process may still hold ``write.lock``, the forked workers must be gone, the next
``evsearch index --wait 0`` must take the lock at once, and the index must hold the committed
corpus. ``--disk-full``: the index lives on a tmpfs too small for a second generation or a big
update; every run must end in "no space left on device at DIR" (one line), leave no partial
output behind, and the last commit must stay searchable.

tests/test_lifecycle.py runs the same trials (fewer of them).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from click.testing import CliRunner  # noqa: E402

from evsearch import open_index, update_index  # noqa: E402
from evsearch.cli import cli  # noqa: E402
from evsearch.index.lock import read_holder  # noqa: E402

B5 = ROOT / "corpus" / "alcohol" / "B5.txt"
CODES = [f"{row}{col}" for row in "ABCDE" for col in "12345"]
ALL_CELLS = [f"{m}/{c}" for m in ("alcohol", "drug") for c in CODES]
_DIGITS = dict(zip("12345", ("one", "two", "three", "four", "five"), strict=True))


def marker(cell: str) -> str:
    """A word found only in ``cell``'s marker paragraph: ``alcohol/B5`` -> ``zqalcoholbfive``."""
    matrix, code = cell.split("/")
    return f"zq{matrix}{code[0].lower()}{_DIGITS[code[1]]}"


def cell_text(cell: str, version: int, base: str) -> str:
    """B5's page made into another cell, with a paragraph naming the cell and its version."""
    matrix, code = cell.split("/")
    title = f"{matrix.capitalize()} Treatment Matrix cell {code}"
    text = base.replace("Alcohol Treatment Matrix cell B5", title, 1)
    return text.rstrip("\n") + f"\n\nMarker paragraph {marker(cell)} at version v{version}.\n"


def write_cell(corpus: Path, cell: str, version: int, base: str) -> None:
    path = corpus / f"{cell}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(cell_text(cell, version, base), encoding="utf-8")


def make_corpus(corpus: Path, n_cells: int) -> dict[str, int]:
    """A synthetic corpus of ``n_cells`` distinct cells at version 0; returns the state."""
    base = B5.read_text(encoding="utf-8")
    state = {cell: 0 for cell in ALL_CELLS[:n_cells]}
    for cell, version in state.items():
        write_cell(corpus, cell, version, base)
    return state


def index_state(index_dir: Path) -> tuple[dict[str, int], list[str]]:
    """The {cell: version} the index holds, and what is wrong with it (lost/doubled docs...)."""
    problems: list[str] = []
    with open_index(index=index_dir) as idx:
        docs = idx.documents()
        stats = idx.stats()
        ids = Counter(d.id for d in docs)
        problems += [f"doubled {i}" for i, n in ids.items() if n > 1]
        state: dict[str, int] = {}
        per_cell = Counter(d.cell for d in docs)
        for d in docs:
            if d.kind == "passage" and "Marker paragraph zq" in d.text:
                state[d.cell] = int(d.text.rsplit(" v", 1)[1].rstrip("."))
        if len(set(per_cell.values())) > 1:
            problems.append(f"cells with different document counts: {dict(per_cell)}")
        if stats.studies + stats.passages != len(docs) or stats.files != len(state):
            problems.append(f"metadata disagrees with the documents: {stats}")
        for cell in list(state)[:3]:  # the query path too, not only stored documents
            hits = idx.search(marker(cell), limit=5, suggest=False).hits
            if [h.cell for h in hits] != [cell]:
                problems.append(f"search {marker(cell)!r} gave {[h.id for h in hits]}")
    return state, problems


def mutate(corpus: Path, state: dict[str, int], rng: random.Random, base: str) -> dict[str, int]:
    """Edit, add and remove some cells; returns the new state."""
    new = dict(state)
    for cell in rng.sample(sorted(new), k=min(len(new), rng.randint(1, max(1, len(new) // 2)))):
        new[cell] += 1
        write_cell(corpus, cell, new[cell], base)
    if rng.random() < 0.5 and len(new) > 2:
        gone = rng.choice(sorted(new))
        (corpus / f"{gone}.txt").unlink()
        del new[gone]
    spare = [c for c in ALL_CELLS if c not in new]
    if spare and rng.random() < 0.5:
        cell = rng.choice(spare)
        new[cell] = 100
        write_cell(corpus, cell, 100, base)
    return new


@dataclass
class Outcome:
    trial: int
    mode: str  # "incremental" or "rebuild"
    delay: float
    result: str  # "old state", "new state", "finished before the kill", or "FAILED: ..."
    stale_lock_cleared: bool


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_trial(
    n: int, corpus: Path, index: Path, state: dict[str, int], rng: random.Random, work: float
) -> tuple[Outcome, dict[str, int]]:
    """One kill -9 trial; returns its outcome and the corpus state afterwards."""
    base = B5.read_text(encoding="utf-8")
    rebuild = rng.random() < 0.3
    new = mutate(corpus, state, rng, base)
    cmd = [sys.executable, "-m", "evsearch", "index", "--corpus", str(corpus), "--index", str(index)]
    proc = subprocess.Popen(cmd + (["--rebuild"] if rebuild else []), env=cli_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Start the clock when the run holds the write lock (its imports are done by then).
    while proc.poll() is None and (read_holder(index) or {}).get("pid") != proc.pid:
        time.sleep(0.002)
    delay = rng.uniform(0, work * (2.0 if rebuild else 1.3))
    time.sleep(delay)  # the kill delay, the point of the trial
    finished = proc.poll() is not None
    if not finished:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    mode = "rebuild" if rebuild else "incremental"
    try:
        if finished and proc.returncode != 0:
            raise AssertionError(f"the run failed by itself: {stderr.strip()[-300:]}")
        seen, problems = index_state(index)
        if problems:
            raise AssertionError("; ".join(problems)[:300])
        if seen == new:
            result = "finished before the kill" if finished else "new state"
        elif seen == state and not finished:
            result = "old state"
        else:
            raise AssertionError(f"a state that was never committed: {sorted(seen.items())[:5]}...")
        stale = (read_holder(index) or {}).get("pid") == proc.pid and not finished
        out = CliRunner().invoke(cli, ["index", "--corpus", str(corpus), "--index", str(index),
                                       "--wait", "10", "--json"])
        if out.exit_code != 0:
            raise AssertionError(f"the next `evsearch index` failed: {out.output.strip()}")
        seen, problems = index_state(index)
        if problems or seen != new:
            raise AssertionError(f"after the next run: {problems or 'not the corpus state'}")
    except AssertionError as exc:
        return Outcome(n, mode, delay, f"FAILED: {exc}", False), new
    return Outcome(n, mode, delay, result, stale), new


def calibrate(corpus: Path, index: Path, state: dict[str, int]) -> tuple[float, dict[str, int]]:
    """Seconds an in-process incremental update of half the corpus takes (the kill window)."""
    base = B5.read_text(encoding="utf-8")
    new = dict(state)
    for cell in sorted(new)[: max(1, len(new) // 2)]:
        new[cell] += 1
        write_cell(corpus, cell, new[cell], base)
    started = time.perf_counter()
    update_index(corpus=corpus, index=index)
    return time.perf_counter() - started, new


def trials(
    count: int, n_cells: int = 30, seed: int | None = None, workdir: Path | None = None
) -> list[Outcome]:
    """Run ``count`` trials on a fresh synthetic corpus and index."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        corpus, index = Path(tmp) / "corpus", Path(tmp) / "index"
        state = make_corpus(corpus, n_cells)
        update_index(corpus=corpus, index=index, rebuild=True)
        work, state = calibrate(corpus, index, state)
        outcomes = []
        for n in range(1, count + 1):
            outcome, state = run_trial(n, corpus, index, state, rng, work)
            outcomes.append(outcome)
        return outcomes


def timing(repeat: int = 5) -> None:
    """Print the time of an incremental update of one changed cell against a full rebuild,
    on the bundled corpus and on a synthetic 50-cell corpus."""
    with tempfile.TemporaryDirectory() as tmp:
        bundled = Path(tmp) / "bundled"
        shutil.copytree(ROOT / "corpus", bundled)
        synthetic = Path(tmp) / "synthetic"
        make_corpus(synthetic, 50)
        for name, corpus, cell in (("bundled corpus", bundled, bundled / "alcohol" / "B5.txt"),
                                   ("synthetic corpus", synthetic, synthetic / "drug" / "C3.txt")):
            index = Path(tmp) / f"index-{corpus.name}"
            update_index(corpus=corpus, index=index, rebuild=True)
            incremental, rebuild = [], []
            for i in range(repeat):
                cell.write_text(cell.read_text(encoding="utf-8") + f"\nEdited {i}.\n", encoding="utf-8")
                started = time.perf_counter()
                report = update_index(corpus=corpus, index=index)
                incremental.append(time.perf_counter() - started)
                assert report.updated == 1, report
                started = time.perf_counter()
                update_index(corpus=corpus, index=index, rebuild=True)
                rebuild.append(time.perf_counter() - started)
            files = len(list(corpus.rglob("*.txt")))
            print(f"{name}: {files} cell file(s); median of {repeat}: one changed cell, incremental "
                  f"{sorted(incremental)[repeat // 2] * 1000:.0f} ms; full rebuild "
                  f"{sorted(rebuild)[repeat // 2] * 1000:.0f} ms")


def _holders(path: Path) -> set[int]:
    """Processes that hold ``path`` open (Linux /proc)."""
    found = set()
    target = str(path.resolve())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) == target:
                    found.add(int(proc.name))
        except OSError:
            continue
    return found


def multiprocess_trials(count: int, passages: int = 20_000, seed: int | None = None) -> int:
    """Kill a multiprocess ``--rebuild`` ``count`` times; print each outcome; 1 if one failed."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from make_corpus import write_corpus

    rng = random.Random(seed)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        corpus, index = Path(tmp) / "corpus", Path(tmp) / "index"
        write_corpus(passages, corpus, seed=0)
        started = time.perf_counter()
        report = update_index(corpus=corpus, index=index, rebuild=True)
        build = time.perf_counter() - started
        print(f"{passages} passages ({report.documents} documents): one build takes {build:.1f}s")
        documents = report.documents
        cmd = [sys.executable, "-m", "evsearch", "index", "--rebuild", "--corpus", str(corpus),
               "--index", str(index)]
        for n in range(1, count + 1):
            proc = subprocess.Popen(cmd, env=cli_env(), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            while proc.poll() is None and (read_holder(index) or {}).get("pid") != proc.pid:
                time.sleep(0.005)
            delay = rng.uniform(0.3, build * 1.1)
            time.sleep(delay)  # the kill delay, the point of the trial
            finished = proc.poll() is not None
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            deadline = time.monotonic() + 10
            while (left := _holders(index / "write.lock")) and time.monotonic() < deadline:
                time.sleep(0.05)  # the kernel kills the orphaned workers: polled with a deadline
            out = CliRunner().invoke(cli, ["index", "--wait", "0", "--corpus", str(corpus),
                                           "--index", str(index), "--json"])
            problems = []
            if left:
                problems.append(f"processes {sorted(left)} still hold write.lock")
            if out.exit_code != 0:
                problems.append(f"the next `evsearch index --wait 0` failed: {out.output.strip()[:200]}")
            with open_index(index=index) as idx:
                stats = idx.stats()
                if stats.studies + stats.passages != documents:
                    problems.append(f"the index holds {stats.studies + stats.passages} documents")
            if list(index.glob("gen-*.building")):
                problems.append("an unfinished generation was left behind")
            result = "FAILED: " + "; ".join(problems) if problems else (
                "finished before the kill" if finished else "killed; lock free, workers gone")
            failed += bool(problems)
            print(f"trial {n:3d}  kill after {delay:5.1f}s  {result}", flush=True)
    print(f"{count} multiprocess-build trials: {count - failed} passed, {failed} failed")
    return 1 if failed else 0


def disk_full_trials(count: int, size_kb: int = 900, seed: int | None = None) -> int:
    """Fill a small tmpfs with the index ``count`` times (root only; else skipped)."""
    if os.geteuid() != 0:
        print("disk-full trials skipped: mounting a tmpfs needs root")
        return 0
    rng = random.Random(seed)
    failed = 0
    base = B5.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        mount = Path(tmp) / "fs"
        mount.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(mount)],
                          capture_output=True).returncode != 0:
            print("disk-full trials skipped: cannot mount a tmpfs here")
            return 0
        try:
            for n in range(1, count + 1):
                corpus, index = Path(tmp) / f"corpus{n}", mount / "index"
                shutil.rmtree(index, ignore_errors=True)
                state = make_corpus(corpus, 1)
                update_index(corpus=corpus, index=index, rebuild=True)
                before = sorted(p.name for p in index.rglob("*"))
                for cell in rng.sample(ALL_CELLS[1:], k=rng.randint(3, 12)):
                    state[cell] = 0
                    write_cell(corpus, cell, 0, base)
                args = ["index", "--corpus", str(corpus), "--index", str(index)]
                rebuild = rng.random() < 0.5
                out = CliRunner().invoke(cli, args + (["--rebuild"] if rebuild else []))
                problems = []
                errors = [line for line in out.stderr.splitlines() if line.startswith("Error:")]
                if out.exit_code == 0:
                    result = "fitted on the disk"
                else:
                    result = "no space, reported"
                    if len(errors) != 1 or f"no space left on device at {index}" not in errors[0]:
                        problems.append(f"reported as {out.stderr.strip()[:200]!r}")
                    if sorted(p.name for p in index.rglob("*")) != before:
                        problems.append("the failed run left files behind")
                search = CliRunner().invoke(cli, ["search", marker(ALL_CELLS[0]), "--json"] + args[1:])
                if search.exit_code != 0 or '"total": 0' in search.stdout:
                    problems.append(f"search failed after it: {search.output.strip()[:200]}")
                failed += bool(problems)
                mode = "rebuild" if rebuild else "incremental"
                print(f"trial {n:3d}  {mode:11s}  "
                      + ("FAILED: " + "; ".join(problems) if problems else result), flush=True)
                shutil.rmtree(corpus)
        finally:
            subprocess.run(["umount", "-l", str(mount)], check=False)
    print(f"{count} disk-full trials: {count - failed} passed, {failed} failed")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--cells", type=int, default=30, help="cells in the synthetic corpus")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--timing", action="store_true", help="time incremental vs rebuild instead")
    parser.add_argument("--multiprocess", type=int, metavar="N", default=0,
                        help="instead: N kills of a multiprocess build of --passages passages")
    parser.add_argument("--passages", type=int, default=20_000)
    parser.add_argument("--disk-full", type=int, metavar="N", default=0,
                        help="instead: N runs on a small tmpfs (root only)")
    args = parser.parse_args()
    if args.timing:
        timing()
        return 0
    if args.multiprocess:
        return multiprocess_trials(args.multiprocess, args.passages, args.seed)
    if args.disk_full:
        return disk_full_trials(args.disk_full, seed=args.seed)
    started = time.perf_counter()
    outcomes = trials(args.trials, args.cells, args.seed)
    for o in outcomes:
        print(f"trial {o.trial:3d}  {o.mode:11s}  kill after {o.delay * 1000:6.1f} ms  {o.result}"
              + ("  (stale lock cleared)" if o.stale_lock_cleared else ""))
    tally = Counter(o.result if not o.result.startswith("FAILED") else "FAILED" for o in outcomes)
    print(f"{len(outcomes)} trials in {time.perf_counter() - started:.0f}s: "
          + ", ".join(f"{n} {k}" for k, n in sorted(tally.items())))
    return 1 if tally.get("FAILED") else 0


if __name__ == "__main__":
    sys.exit(main())
