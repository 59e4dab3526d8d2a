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
"""

from __future__ import annotations

import argparse
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


def write_corpus(
    n: int, out_dir: Path | str, seed: int = 0, training: list[Path] | None = None
) -> list[Path]:
    """Write about ``n`` passages over the 50 cells under ``out_dir``; return the files."""
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
    args = parser.parse_args(argv)
    files = write_corpus(args.n, args.out_dir, args.seed)
    print(f"wrote {len(files)} cell files with about {args.n} passages to {args.out_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
