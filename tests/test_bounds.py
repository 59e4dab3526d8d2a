"""The ratio check that replaces wall-clock limits tells linear work from quadratic work."""

from __future__ import annotations

import pytest

from tests._bounds import assert_scales_linearly


def linear(n: int):
    return lambda: sum(range(n))


def quadratic(n: int):
    return lambda: sum(i * j for i in range(n) for j in range(n))


def test_linear_work_passes_and_its_value_is_returned() -> None:
    assert assert_scales_linearly(linear, 4_000_000, floor=0.001) == sum(range(4_000_000))


def test_quadratic_work_fails() -> None:
    with pytest.raises(AssertionError, match=r"10x the input cost \d+x the time"):
        assert_scales_linearly(quadratic, 2_000, floor=0.001)
