"""Write a synthetic corpus of N passages as real cell files (text form), for benchmarks.

    python scripts/make_corpus.py 100000 /tmp/corpus-100k --seed 1

The words come from a word-bigram (Markov) model trained on real text: the bundled B5 cell
plus the Medline and Cranfield collections in ``../shared/eval/*/corpus.jsonl`` when they are
there (else B5 alone), so the vocabulary and word frequencies are those of real abstracts and
commentary, not lorem ipsum. The output is deterministic for a seed.

Layout: a cell's identity is its matrix and code (``alcohol/B5``), so there are only 50 cells
(2 matrices x A1-E5). Rather than change the ingester, the N passages are spread over those
50 files (``alcohol/A1.txt`` ... ``drug/E5.txt``): each file is a larger-than-life cell with
N/50 passages and studies in B5's proportion (9 studies per 28 passages). So "one changed cell"
in the benchmark is one file of N/50 passages. Each cell file has B5's shape: title line,
label, description, legend, study list (``K Title (Org, 2008). Summary.``), ``MORE`` line,
then commentary paragraphs under short headings.

``--layout library`` writes what a real library looks like instead: the 50 cells at a real
cell's size (15-45 passages) and the rest as HTML pages of 10-60 passages (one in 12 a long
analysis of 120-400), which evsearch indexes as ``page/...`` documents; "one changed cell"
is then the cost of a user's edit. The default layout stays the giant-cell worst case.
"""

from __future__ import annotations

import argparse
import html
import json
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TRAINING = [
    ROOT / "corpus" / "alcohol" / "B5.txt",
    *sorted(ROOT.parent.glob("shared/eval/*/corpus.jsonl")),
]
MATRICES = ("alcohol", "drug")
CODES = tuple(f"{row}{col}" for row in "ABCDE" for col in "12345")
STUDIES_PER_PASSAGE = 9 / 28
LEGEND = (
    "S Seminal studies K Key studies R Reviews G Guidance MORE Search for more studies "
    "Links to other documents. Hover over for notes. <u>Click to</u> highlight passage referred to. "
    "Unfold extra text"
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*[A-Za-z]|[A-Za-z]|\d+")
_SENTENCE = re.compile(r"(?<=[.?!])\s+|\s+\.\s+")
_START, _END = "<s>", "</s>"


class Markov:
    """A word-bigram model: ``next[w]`` lists every word seen after ``w`` (with repeats)."""

    def __init__(self) -> None:
        self.next: dict[str, list[str]] = defaultdict(list)

    def train(self, sentence: str) -> None:
        words = [w.lower() for w in _WORD.findall(sentence)]
        if len(words) < 4:
            return
        prev = _START
        for w in words:
            self.next[prev].append(w)
            prev = w
        self.next[prev].append(_END)

    def sentence(self, rng: random.Random, lo: int = 6, hi: int = 28) -> str:
        """One sentence of ``lo``..``hi`` words, capitalised and full-stopped."""
        out: list[str] = []
        w = rng.choice(self.next[_START])
        while True:
            out.append(w)
            if len(out) >= hi:
                break
            nxt = rng.choice(self.next[w]) if w in self.next else _END
            if nxt == _END:
                if len(out) >= lo:
                    break
                nxt = rng.choice(self.next[_START])
            w = nxt
        text = " ".join(out)
        return text[0].upper() + text[1:] + "."


def train(paths: list[Path]) -> Markov:
    """A model trained on cell text files and BEIR ``corpus.jsonl`` files."""
    model = Markov()
    for path in paths:
        if not path.is_file():
            continue
        if path.suffix == ".jsonl":
            texts = []
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    texts.append(row.get("title", ""))
                    texts.append(row.get("text", ""))
        else:
            texts = [re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8"))]
        for text in texts:
            for sentence in _SENTENCE.split(text):
                model.train(sentence)
    if _START not in model.next:
        raise SystemExit("no training text found")
    return model


def _phrase(model: Markov, rng: random.Random, lo: int, hi: int) -> str:
    """A short run of words with no full stop (titles, headings, labels)."""
    return model.sentence(rng, lo, hi).rstrip(".")


def cell_text(model: Markov, rng: random.Random, matrix: str, code: str, passages: int) -> str:
    """The text form of one cell with ``passages`` passages (the description counts as one)."""
    n_studies = max(1, round(passages * STUDIES_PER_PASSAGE))
    title = "Alcohol" if matrix == "alcohol" else "Drug"
    blocks = [
        f"{title} Treatment Matrix cell {code}",
        f"{_phrase(model, rng, 1, 3).capitalize()}; {_phrase(model, rng, 2, 4)}",
        " ".join(model.sentence(rng) for _ in range(2)),
        LEGEND,
    ]
    for _ in range(n_studies):
        types = rng.choice(("K", "K", "K", "R", "R", "G", "S"))
        org = f"{_phrase(model, rng, 1, 3).title()}, " if rng.random() < 0.3 else ""
        summary = " ".join(model.sentence(rng) for _ in range(rng.randint(2, 4)))
        xref = " For discussion click and scroll down to highlighted heading." if rng.random() < 0.5 else ""
        year = rng.randint(1990, 2022)
        blocks.append(f"{types} {_phrase(model, rng, 4, 12)} ({org}{year}). {summary}{xref}")
    blocks.append("MORE Retrieve all relevant Effectiveness Bank analyses.")
    blocks.append("Links to other documents. Hover over for notes. Click to highlight passage referred to.")
    for i in range(passages - 1):
        if i % 6 == 0:  # a heading: a short line without terminal punctuation
            blocks.append(_phrase(model, rng, 3, 6))
        blocks.append(" ".join(model.sentence(rng) for _ in range(rng.randint(2, 6))))
    return "\n\n".join(blocks) + "\n"


#: The "library" layout: cells of a real cell's size, and pages (Effectiveness Bank analyses,
#: hot topics) of tens of passages, one in ``LONG_PAGE_SHARE`` a long analysis.
CELL_PASSAGES = (15, 45)
PAGE_PASSAGES = (10, 60)
LONG_PAGE_PASSAGES = (120, 400)
LONG_PAGE_SHARE = 0.08
LAYOUTS = ("giant", "library")


_CELLISH = re.compile(r"^\S\s|^\S{1,2}\s|treatment matrix|matrix cell|\(.*\d{4}\)", re.IGNORECASE)


def _page_sentence(model: Markov, rng: random.Random, lo: int = 6, hi: int = 28) -> str:
    """A sentence that cannot read as a study line or a cell title (pages are not cells)."""
    while True:
        sentence = model.sentence(rng, lo, hi)
        if not _CELLISH.search(sentence):
            return sentence


def page_html(model: Markov, rng: random.Random, passages: int) -> str:
    """A published page that is not a cell: a title, then paragraphs under headings."""
    title = _page_sentence(model, rng, 3, 9).rstrip(".")
    parts = [
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">",
        f"<title>{html.escape(title)}</title></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for i in range(passages):
        if i % 5 == 0:
            parts.append(f"<h2>{html.escape(_page_sentence(model, rng, 3, 7).rstrip('.'))}</h2>")
        para = " ".join(_page_sentence(model, rng) for _ in range(rng.randint(2, 6)))
        parts.append(f"<p>{html.escape(para)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_library(
    n: int, out_dir: Path | str, seed: int = 0, training: list[Path] | None = None
) -> list[Path]:
    """About ``n`` passages as a real library holds them: the 50 cells at a real cell's size
    (15-45 passages), the rest in HTML pages of 10-60 passages, some long analyses of 120-400
    (``pages/NNN/page-NNNNNN.htm``, 500 to a directory)."""
    rng = random.Random(seed)
    model = train(training or DEFAULT_TRAINING)
    out = Path(out_dir)
    files = []
    written = 0
    for matrix, code in [(m, c) for m in MATRICES for c in CODES]:
        k = rng.randint(*CELL_PASSAGES)
        path = out / matrix / f"{code}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cell_text(model, rng, matrix, code, k), encoding="utf-8")
        files.append(path)
        written += k + max(1, round(k * STUDIES_PER_PASSAGE))
    i = 0
    while written < n:
        k = rng.randint(*(LONG_PAGE_PASSAGES if rng.random() < LONG_PAGE_SHARE else PAGE_PASSAGES))
        k = max(1, min(k, n - written))
        path = out / "pages" / f"{i // 500:03d}" / f"page-{i:06d}.htm"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page_html(model, rng, k), encoding="utf-8")
        files.append(path)
        written += k
        i += 1
    return files


def write_corpus(
    n: int, out_dir: Path | str, seed: int = 0, training: list[Path] | None = None,
    layout: str = "giant",
) -> list[Path]:
    """Write about ``n`` passages under ``out_dir``; return the files. ``layout`` "giant"
    (the default) spreads them over the 50 cells; "library" see :func:`write_library`."""
    if layout == "library":
        return write_library(n, out_dir, seed, training)
    rng = random.Random(seed)
    model = train(training or DEFAULT_TRAINING)
    out = Path(out_dir)
    cells = [(m, c) for m in MATRICES for c in CODES]
    per_cell, extra = divmod(max(n, len(cells)), len(cells))
    files = []
    for k, (matrix, code) in enumerate(cells):
        path = out / matrix / f"{code}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cell_text(model, rng, matrix, code, per_cell + (k < extra)), encoding="utf-8")
        files.append(path)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="how many passages")
    parser.add_argument("out_dir", type=Path, help="directory to write the cell files into")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--layout", choices=LAYOUTS, default="giant",
        help="giant: N/50 passages in each of the 50 cells (the worst case of one changed cell); "
             "library: cells of a real size plus HTML pages of tens of passages, some long",
    )
    args = parser.parse_args(argv)
    files = write_corpus(args.n, args.out_dir, args.seed, layout=args.layout)
    print(f"wrote {len(files)} cell files with about {args.n} passages to {args.out_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
