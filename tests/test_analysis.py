"""The one-pass analyzers yield exactly what the Whoosh filter pipelines they replace yield."""

from __future__ import annotations

import pickle
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
