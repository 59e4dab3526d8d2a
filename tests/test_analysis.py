"""The one-pass analyzers yield exactly what the Whoosh filter pipelines they replace yield."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from evsearch.analysis import (
    TextTokenizer,
    WordTokenizer,
    _composed_analyzer,
    _composed_word_analyzer,
    analyze,
    text_analyzer,
    word_analyzer,
)

TRICKY = [
    "The behaviour of U.S. counselling; the programme's 'MI' isn't \u2014 a test of the the",
    "Counselling, counseling and COUNSELLING: organisations' randomised trials (2014).",
    "the and of",  # nothing but stopwords
    "",
    "   \u00a0 ",
    "caf\u00e9 na\u00efve \u00fcber 3.5 mg/kg 1,000 x_y",
    "Programme programmes PROGRAMMED",
]
OPTIONS: list[dict[str, Any]] = [
    {},
    {"positions": True, "chars": True},
    {"positions": True, "chars": True, "removestops": False, "mode": "index"},
    {"positions": True, "start_pos": 5, "chars": True, "start_char": 10},
    {"mode": "query"},
]


def _tokens(analyzer: Any, text: str, **options: Any) -> list[tuple[Any, ...]]:
    def fields(t: Any) -> tuple[Any, ...]:
        where = (getattr(t, "pos", None), getattr(t, "startchar", None), getattr(t, "endchar", None))
        return (t.text, *where, t.stopped)

    return [fields(t) for t in analyzer(text, **options)]


@pytest.mark.parametrize("options", OPTIONS)
def test_text_tokenizer_equals_the_filter_pipeline(b5_text: str, options: dict[str, Any]) -> None:
    for text in [*TRICKY, *b5_text.split("\n\n")]:
        assert _tokens(text_analyzer(), text, **options) == _tokens(_composed_analyzer(), text, **options)


@pytest.mark.parametrize("options", OPTIONS)
def test_word_tokenizer_equals_the_filter_pipeline(b5_text: str, options: dict[str, Any]) -> None:
    for text in [*TRICKY, *b5_text.split("\n\n")]:
        expected = _tokens(_composed_word_analyzer(), text, **options)
        assert _tokens(word_analyzer(), text, **options) == expected


def test_stopwords_are_marked_not_dropped_when_asked() -> None:
    tokens = _tokens(text_analyzer(), "the counselling of offenders", positions=True, removestops=False)
    assert tokens == [
        ("the", 0, None, None, True),
        ("counsel", 1, None, None, False),
        ("of", 2, None, None, True),
        ("offend", 2, None, None, False),  # kept words are numbered on, as Whoosh's StopFilter does
    ]


def test_british_and_american_spellings_analyze_alike() -> None:
    assert analyze("Counselling behaviour programme") == analyze("counseling behavior program")


def test_the_tokenizers_pickle_without_their_caches() -> None:
    for tokenizer in (TextTokenizer(), WordTokenizer()):
        list(tokenizer("counselling offenders"))
        assert tokenizer._terms
        copy = pickle.loads(pickle.dumps(tokenizer))
        assert type(copy) is type(tokenizer) and copy == tokenizer and not copy._terms
        assert _tokens(copy, "counselling offenders") == _tokens(tokenizer, "counselling offenders")


def test_the_english_word_list_knows_british_medical_and_plain_words() -> None:
    from evsearch.search.corrections import is_english_word

    for word in ["relapse", "women", "youth", "placebo", "counselling", "behaviour", "paediatric",
                 "oesophagus", "naltrexone", "methadone", "comorbidity", "Programme", "a", "zyzzyva"]:
        assert is_english_word(word), word
    for word in ["supervison", "motivatonal", "recieve", "teh", "", "relapse\nrelapse", "zzzzzz"]:
        assert not is_english_word(word), word


def _vocabulary() -> set[str]:
    """The words of the bundled corpus and of the shared evaluation collections (when present:
    ``../shared/eval`` beside the checkout, as CI lays it out), British ones also American-spelt."""
    import json
    import re

    from evsearch.analysis import TOKEN_PATTERN, british_to_american

    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(TOKEN_PATTERN)
    vocab: set[str] = set()
    for path in (root / "corpus").rglob("*"):
        if path.is_file():
            vocab.update(pattern.findall(path.read_text(encoding="utf-8", errors="replace").lower()))
    for shared in (root.parent / "shared" / "eval", Path("/work/shared/eval")):
        for collection in sorted(shared.glob("*/corpus.jsonl")):
            for name in ("corpus.jsonl", "queries.jsonl"):
                with open(collection.parent / name, encoding="utf-8") as fh:
                    for line in fh:
                        d = json.loads(line)
                        text = f"{d.get('title') or ''} {d.get('text') or ''}".lower()
                        vocab.update(pattern.findall(text))
        if vocab and any(shared.glob("*/corpus.jsonl")):
            break
    spelling = british_to_american()
    return vocab | {spelling.get(w, w) for w in vocab}


def test_the_stemmer_gives_nltks_stems_on_the_whole_vocabulary() -> None:
    nltk_snowball = pytest.importorskip("nltk.stem.snowball")
    from evsearch._snowball import EnglishStemmer

    vocab = _vocabulary()
    assert len(vocab) > 3000
    ours, reference = EnglishStemmer().stem, nltk_snowball.SnowballStemmer("english").stem
    assert [w for w in sorted(vocab) if ours(w) != reference(w)] == []


def test_a_word_the_index_has_never_seen_does_not_import_nltk(built_index: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from evsearch import open_index; "
        f"r = open_index(index={str(built_index)!r}).search('unheardofword realizations'); "
        "print('nltk' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]
