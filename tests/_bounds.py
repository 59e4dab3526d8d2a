"""Bounded work, checked without a wall-clock limit.

A test that asserts "under 5 seconds" fails on a loaded or slow machine and passes a quadratic
regression on a fast one. Instead, the same work is run on a tenth of the input and on all of
it, in the same test, and the larger run must cost at most ``slack`` times its share: 10x the
input under 45x the time. Linear work passes with room to spare; quadratic work costs 100x.
(The slack was 3, 30x: a deeply nested page that parses in 13x on its own once took 32x late in
a full CI run, in CPU time, so 4.5 leaves linear work its room and still fails quadratic work.)

Costs are CPU seconds of this process (``time.process_time``), so other processes competing
for the cores do not count; the baseline is the best of two runs after a warm-up (lazy imports,
caches), and never taken as less than ``FLOOR_S``, so that noise on a tiny baseline cannot fail
the test.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: The smallest baseline a ratio is taken against, in CPU seconds.
FLOOR_S = 0.05


def cpu_seconds(run: Callable[[], object]) -> float:
    started = time.process_time()
    run()
    return time.process_time() - started


def assert_scales_linearly(make: Callable[[int], Callable[[], T]], n: int, *, factor: int = 10,
                           slack: float = 4.5, floor: float = FLOOR_S) -> T:
    """``make(n)()`` costs under ``factor * slack`` times ``make(n // factor)()``; returns its value.

    ``make(size)`` builds the input and returns the work to time, so building is not timed.
    """
    small, big = make(n // factor), make(n)
    small()  # warm-up
    base = min(cpu_seconds(small) for _ in range(2))
    result: list[T] = []
    cost = cpu_seconds(lambda: result.append(big()))
    allowed = factor * slack * max(base, floor)
    assert cost < allowed, (
        f"{factor}x the input cost {cost / max(base, 1e-9):.0f}x the time "
        f"({cost:.3f} s against {base:.3f} s; allowed {allowed:.3f} s)"
    )
    return result[0]
