"""Native (C++) behaviour bodies: counts, exclusion, parallelism and argument checks."""

from __future__ import annotations

import time
from typing import Any, Callable

import pytest

import boc
import boc.native


def test_spin_runs_one_behaviour_per_call(scheduler: str) -> None:
    """Each native.spin() call is one behaviour, whatever its cowns (none, many, repeated)."""
    boc.start(scheduler, workers=2)
    a, b, c = boc.Cown(0), boc.Cown(0), boc.Cown(0)
    for _ in range(100):
        boc.native.spin(a, b)
    boc.native.spin()
    boc.native.spin(c, c, c, ns=1000)
    report = boc.wait()
    assert report.total("behaviors_run") == 102
    assert report.errors == []


def test_loop_runs_times_behaviours(scheduler: str) -> None:
    """native.loop(times=N) runs N behaviours in a chain, on one or several cowns."""
    boc.start(scheduler, workers=2)
    a, b = boc.Cown(0), boc.Cown(0)
    boc.native.loop(a, times=250)
    boc.native.loop(a, b, times=100, ns=1000)
    boc.native.loop(b, b, times=10)
    report = boc.wait()
    assert report.total("behaviors_run") == 360


def test_fanout_runs_producers_and_children(scheduler: str) -> None:
    """native.fanout(steps=S, children=K) runs S producer steps and S*K children."""
    boc.start(scheduler, workers=2)
    boc.native.fanout(boc.Cown(0), steps=25, children=12)
    boc.native.fanout(boc.Cown(0), steps=3, children=0)
    report = boc.wait()
    assert report.total("behaviors_run") == 25 * 13 + 3


def test_fanout_uses_both_workers(scheduler: str) -> None:
    """Children of a fan-out spread over both workers: each runs some of them."""
    boc.start(scheduler, workers=2)
    boc.native.fanout(boc.Cown(0), steps=20, children=16, child_ns=100_000)
    report = boc.wait()
    assert report.total("behaviors_run") == 20 * 17
    assert all(s["behaviors_run"] > 0 for s in report.stats), report.stats


@pytest.mark.parallel
def test_independent_spins_run_in_parallel(scheduler: str) -> None:
    """Spins on distinct cowns overlap on two workers: well under their serial time."""
    boc.start(scheduler, workers=2)
    boc.quiesce()
    count, ns = 8, 50_000_000
    began = time.perf_counter()
    for _ in range(count):
        boc.native.spin(boc.Cown(0), ns=ns)
    boc.quiesce()
    elapsed = time.perf_counter() - began
    report = boc.wait()
    assert all(s["behaviors_run"] > 0 for s in report.stats)
    serial = count * ns / 1e9
    assert elapsed < 0.8 * serial, f"{elapsed:.3f} s for {serial:.3f} s of serial work"


def test_spins_on_one_cown_never_overlap(scheduler: str) -> None:
    """Native bodies sharing a cown run one after another even with an idle worker."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)
    boc.quiesce()
    began = time.perf_counter()
    for _ in range(4):
        boc.native.spin(c, ns=30_000_000)
    boc.quiesce()
    assert time.perf_counter() - began >= 4 * 0.03


def test_native_and_python_behaviours_keep_fifo_on_a_shared_cown(scheduler: str) -> None:
    """A Python behaviour scheduled after a native one on the same cown starts after it ends."""
    boc.start(scheduler, workers=2)
    c = boc.Cown([])
    boc.when(c)(lambda c: c.value.append(("py", time.perf_counter())))
    boc.native.spin(c, ns=40_000_000)
    boc.when(c)(lambda c: c.value.append(("py", time.perf_counter())))
    boc.native.loop(c, times=3, ns=10_000_000)
    boc.when(c)(lambda c: c.value.append(("py", time.perf_counter())))
    boc.wait()
    (_, t0), (_, t1), (_, t2) = c.value
    assert t1 - t0 >= 0.04
    # The loop schedules its next step when a step runs, behind the Python
    # behaviour already queued: only its first 10 ms step comes before it.
    assert t2 - t1 >= 0.01


_BAD_NATIVE: dict[str, tuple[Callable[[boc.Cown], Any], type]] = {
    "spin non-cown": (lambda c: boc.native.spin(c, 1), TypeError),
    "spin negative ns": (lambda c: boc.native.spin(c, ns=-1), ValueError),
    "spin float ns": (lambda c: boc.native.spin(c, ns=1.5), TypeError),
    "spin bool ns": (lambda c: boc.native.spin(c, ns=True), TypeError),
    "loop zero times": (lambda c: boc.native.loop(c, times=0), ValueError),
    "loop missing times": (lambda c: boc.native.loop(c), TypeError),
    "loop str times": (lambda c: boc.native.loop(c, times="3"), TypeError),
    "loop non-cown": (lambda c: boc.native.loop(c, [c], times=2), TypeError),
    "fanout zero steps": (lambda c: boc.native.fanout(c, steps=0, children=1), ValueError),
    "fanout negative children": (lambda c: boc.native.fanout(c, steps=1, children=-1), ValueError),
    "fanout negative child_ns": (lambda c: boc.native.fanout(c, steps=1, children=1, child_ns=-5), ValueError),
    "fanout non-cown state": (lambda c: boc.native.fanout(5, steps=1, children=1), TypeError),
}


@pytest.mark.parametrize("call, error", _BAD_NATIVE.values(), ids=_BAD_NATIVE.keys())
def test_bad_native_arguments_schedule_nothing(scheduler: str, call: Callable, error: type) -> None:
    """Invalid native arguments raise a clear error, schedule nothing, and leave the runtime usable."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)
    with pytest.raises(error):
        call(c)
    boc.native.spin(c)
    report = boc.wait()
    assert report.scheduler == scheduler
    assert report.total("behaviors_run") == 1
    assert report.errors == []
