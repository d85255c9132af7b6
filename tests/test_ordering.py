"""Ordering and exclusion: FIFO per cown, and no two behaviours on one cown at once."""

from __future__ import annotations

import random
import sys
import threading
from typing import Iterator

import pytest

import boc
from support import PipeEvent


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Make the interpreter hand its lock between threads far more often than usual,
    so that Python bodies on different workers interleave mid-body."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def test_behaviours_on_one_cown_run_in_scheduling_order(scheduler: str) -> None:
    """Behaviours scheduled from one thread on one cown run first-in first-out."""
    boc.start(scheduler, workers=2)
    log = boc.Cown([])
    for i in range(500):

        @boc.when(log)
        def append(log: boc.Cown, i: int = i) -> None:
            log.value.append(i)

    boc.wait()
    assert log.value == list(range(500))


def test_fifo_holds_per_cown_for_overlapping_cown_sets(scheduler: str) -> None:
    """With random multi-cown behaviours, each cown sees its behaviours in scheduling order."""
    boc.start(scheduler, workers=2)
    rng = random.Random(1234)
    logs = [boc.Cown([]) for _ in range(6)]
    expected: list[list[int]] = [[] for _ in logs]
    for i in range(600):
        chosen = rng.sample(range(len(logs)), rng.randint(1, 3))
        for k in chosen:
            expected[k].append(i)

        @boc.when(*(logs[k] for k in chosen))
        def append(*held: boc.Cown, i: int = i) -> None:
            for c in held:
                c.value.append(i)

    boc.wait()
    assert [c.value for c in logs] == expected


def test_fifo_holds_per_scheduling_thread(scheduler: str) -> None:
    """When several threads schedule on one cown, each thread's behaviours keep its order."""
    boc.start(scheduler, workers=2)
    log = boc.Cown([])
    per_thread = 300

    def schedule(tag: int) -> None:
        for i in range(per_thread):

            @boc.when(log)
            def append(log: boc.Cown, item: tuple = (tag, i)) -> None:
                log.value.append(item)

    threads = [threading.Thread(target=schedule, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    boc.wait()
    assert len(log.value) == 4 * per_thread
    for tag in range(4):
        assert [i for t, i in log.value if t == tag] == list(range(per_thread))


def test_nested_behaviour_queues_behind_those_already_scheduled(scheduler: str, gate) -> None:
    """A behaviour scheduled from inside a body goes after everything already queued on that cown."""
    boc.start(scheduler, workers=2)
    log = boc.Cown([])
    gate.hold(log)

    @boc.when(log)
    def outer(log: boc.Cown) -> None:
        log.value.append("outer")

        @boc.when(log)
        def inner(log: boc.Cown) -> None:
            log.value.append("inner")

    @boc.when(log)
    def later(log: boc.Cown) -> None:
        log.value.append("later")

    gate.open()
    boc.wait()
    assert log.value == ["outer", "later", "inner"]


@pytest.mark.parallel
def test_multi_cown_behaviour_waits_for_every_cown(scheduler: str, gate) -> None:
    """A behaviour on (a, b) does not start while another behaviour holds only b."""
    boc.start(scheduler, workers=2)
    a, b = boc.Cown([]), boc.Cown([])
    gate.hold(b)

    @boc.when(a, b)
    def both(a: boc.Cown, b: boc.Cown) -> None:
        a.value.append("both")

    @boc.when(a)
    def only_a(a: boc.Cown) -> None:
        a.value.append("only_a")

    assert gate.entered.wait(10)
    # Behaviours on other cowns keep running meanwhile.
    free_ran = PipeEvent()
    boc.when(boc.Cown(0))(lambda c: free_ran.set())
    assert free_ran.wait(10)
    with pytest.raises(TimeoutError):
        boc.quiesce(timeout=0.1)
    gate.open()
    boc.wait()
    # only_a was scheduled after both on a, so it must wait for both as well.
    assert a.value == ["both", "only_a"]


def test_behaviours_sharing_a_cown_never_overlap(scheduler: str, fast_switching: None) -> None:
    """Two bodies on one cown never run at the same time, even as Python threads interleave."""
    boc.start(scheduler, workers=2)
    cowns = [boc.Cown(None) for _ in range(3)]
    violations = boc.Cown(0)
    rng = random.Random(7)
    for i in range(300):
        chosen = rng.sample(cowns, rng.randint(1, 2))

        @boc.when(*chosen)
        def claim(*held: boc.Cown, token: int = i) -> int:
            bad = 0
            for c in held:
                if c.value is not None:
                    bad += 1
                c.value = token
            for _ in range(50):  # give the other worker every chance to interleave
                pass
            for c in held:
                if c.value != token:
                    bad += 1
                c.value = None
            return bad

        @boc.when(claim, violations)
        def tally(r: boc.Cown, v: boc.Cown) -> None:
            v.value += r.value

    boc.wait()
    assert violations.value == 0
