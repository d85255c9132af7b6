"""Stress: thousands of random behaviours from several threads, nested; exact results.

Each test is bounded (a few seconds at most on two cores) and checks exact
per-cown totals, so a lost, duplicated or overlapping behaviour shows up.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Callable

import boc
import boc.native

THREADS = 4
TIME_LIMIT_S = 10.0


def _run_threads(target: Callable[[int], None], count: int = THREADS) -> None:
    """Run target(index) on `count` threads at once and re-raise any thread's error."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        try:
            barrier.wait()
            target(index)
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIME_LIMIT_S * 3)
        assert not t.is_alive(), "a scheduling thread hung"
    if errors:
        raise errors[0]


def test_random_multi_cown_behaviours_from_threads_keep_exact_totals(scheduler: str) -> None:
    """Random behaviours on 1-4 cowns (groups, duplicates, nested children) from 4 threads
    leave every cown with exactly the expected total."""
    started = time.perf_counter()
    boc.start(scheduler, workers=2)
    cowns = [boc.Cown(0) for _ in range(32)]
    per_thread = 5000
    expected = [[0] * len(cowns) for _ in range(THREADS)]
    scheduled = [0] * THREADS

    def schedule(index: int) -> None:
        rng = random.Random(index)
        mine = expected[index]
        for _ in range(per_thread):
            picks = [rng.randrange(len(cowns)) for _ in range(rng.randint(1, 4))]  # may repeat
            amount = rng.randint(1, 9)
            child_picks = rng.sample(range(len(cowns)), 2) if rng.random() < 0.25 else None
            for k in picks:
                mine[k] += amount
            scheduled[index] += 1
            if child_picks is not None:
                for k in child_picks:
                    mine[k] += 100
                scheduled[index] += 1
            args: list = [cowns[k] for k in picks]
            if len(args) > 2 and rng.random() < 0.5:
                args = [args[0], args[1:]]  # a group

            @boc.when(*args)
            def body(*held: object, amount: int = amount, child_picks: list | None = child_picks) -> None:
                for h in held:
                    for c in h if isinstance(h, list) else [h]:
                        c.value += amount
                if child_picks is not None:

                    @boc.when(*(cowns[k] for k in child_picks))
                    def child(*held: boc.Cown) -> None:
                        for c in held:
                            c.value += 100

    _run_threads(schedule)
    report = boc.wait()
    assert report.errors == []
    assert [c.value for c in cowns] == [sum(col) for col in zip(*expected)]
    assert report.total("behaviors_run") == sum(scheduled)
    assert time.perf_counter() - started < TIME_LIMIT_S


def test_transfers_conserve_the_total_and_audits_never_see_a_half_transfer(scheduler: str) -> None:
    """Concurrent two-account transfers plus all-account audits: every audit sees the exact total."""
    started = time.perf_counter()
    boc.start(scheduler, workers=2)
    accounts = [boc.Cown(1000) for _ in range(16)]
    total = 1000 * len(accounts)
    audits = boc.Cown([])
    per_thread = 3000

    def schedule(index: int) -> None:
        rng = random.Random(100 + index)
        for i in range(per_thread):
            src, dst = rng.sample(accounts, 2)
            amount = rng.randint(1, 300)

            @boc.when(src, dst)
            def transfer(src: boc.Cown, dst: boc.Cown, amount: int = amount) -> None:
                if src.value >= amount:
                    src.value -= amount
                    dst.value += amount

            if i % 100 == 0:

                @boc.when(accounts, audits)
                def audit(group: list, audits: boc.Cown) -> None:
                    audits.value.append((sum(a.value for a in group), min(a.value for a in group)))

    _run_threads(schedule)
    report = boc.wait()
    assert report.errors == []
    assert len(audits.value) == THREADS * per_thread // 100
    assert all(seen == total and low >= 0 for seen, low in audits.value)
    assert sum(a.value for a in accounts) == total
    assert report.total("behaviors_run") == THREADS * per_thread + len(audits.value)
    assert time.perf_counter() - started < TIME_LIMIT_S


def _tree_cown(tag: int, depth: int, index: int, n: int) -> int:
    return (tag * 131 + depth * 17 + index * 7) % n


def test_nested_trees_spawned_from_several_threads(scheduler: str) -> None:
    """Each thread starts behaviour trees that spawn children from inside bodies; every node runs once."""
    started = time.perf_counter()
    boc.start(scheduler, workers=2)
    cowns = [boc.Cown(0) for _ in range(11)]
    depth_limit = 9  # 511 nodes per tree
    trees_per_thread = 3

    def spawn(tag: int, depth: int, index: int) -> None:
        @boc.when(cowns[_tree_cown(tag, depth, index, len(cowns))])
        def node(c: boc.Cown) -> None:
            c.value += 1
            if depth + 1 < depth_limit:
                spawn(tag, depth + 1, 2 * index)
                spawn(tag, depth + 1, 2 * index + 1)

    def schedule(thread: int) -> None:
        for t in range(trees_per_thread):
            spawn(thread * trees_per_thread + t, 0, 0)

    _run_threads(schedule)
    report = boc.wait()
    expected = [0] * len(cowns)
    for tag in range(THREADS * trees_per_thread):
        for depth in range(depth_limit):
            for index in range(2**depth):
                expected[_tree_cown(tag, depth, index, len(cowns))] += 1
    assert report.errors == []
    assert [c.value for c in cowns] == expected
    assert report.total("behaviors_run") == THREADS * trees_per_thread * (2**depth_limit - 1)
    assert time.perf_counter() - started < TIME_LIMIT_S


def test_native_and_python_behaviours_mixed_from_threads(scheduler: str) -> None:
    """Native spin/loop behaviours interleaved with Python ones on shared cowns: counts stay exact."""
    started = time.perf_counter()
    boc.start(scheduler, workers=2)
    cowns = [boc.Cown(0) for _ in range(8)]
    per_thread = 2000
    counts = [0] * THREADS
    python_totals = [[0] * len(cowns) for _ in range(THREADS)]

    def schedule(index: int) -> None:
        rng = random.Random(200 + index)
        for _ in range(per_thread):
            picks = rng.sample(cowns, rng.randint(1, 3))
            kind = rng.randrange(3)
            if kind == 0:
                boc.native.spin(*picks, ns=rng.randrange(0, 5000))
                counts[index] += 1
            elif kind == 1:
                times = rng.randint(1, 5)
                boc.native.loop(*picks, times=times)
                counts[index] += times
            else:
                for c in picks:
                    python_totals[index][cowns.index(c)] += 1
                boc.when(*picks)(lambda *held: [setattr(c, "value", c.value + 1) for c in held])
                counts[index] += 1

    _run_threads(schedule)
    report = boc.wait()
    assert report.errors == []
    assert [c.value for c in cowns] == [sum(col) for col in zip(*python_totals)]
    assert report.total("behaviors_run") == sum(counts)
    assert time.perf_counter() - started < TIME_LIMIT_S


def test_restart_cycles_under_load(scheduler: str) -> None:
    """Ten runs in a row, each fed by several threads, each ends with exact totals."""
    started = time.perf_counter()
    c = boc.Cown(0)
    per_thread = 200
    for cycle in range(10):
        boc.start(scheduler, workers=1 + cycle % 2)

        def schedule(index: int) -> None:
            for _ in range(per_thread):

                @boc.when(c)
                def inc(c: boc.Cown) -> None:
                    c.value += 1

        _run_threads(schedule)
        report = boc.wait()
        assert report.total("behaviors_run") == THREADS * per_thread
        assert c.value == (cycle + 1) * THREADS * per_thread
    assert time.perf_counter() - started < TIME_LIMIT_S
