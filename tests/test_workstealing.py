"""The work-stealing strategy: stealing, fairness, parking, and its counters' identities."""

from __future__ import annotations

import threading
import time

import pytest

import boc
import boc.native
from support import PipeEvent, endless_chain

pytestmark = pytest.mark.skipif("workstealing" not in boc.schedulers(), reason="workstealing is not compiled in")

DISPATCHES = ("dispatch_next_slot", "dispatch_local", "dispatch_remote")


def _check_identities(report: boc.RunReport, scheduled: int) -> None:
    for w in report.stats:
        assert w["behaviors_run"] == w["pop_next_slot"] + w["pop_queue"] + w["steals"], w
        assert w["steal_attempts"] == w["steals"] + w["steal_failures"], w
    assert sum(report.total(name) for name in DISPATCHES) == scheduled
    assert report.total("behaviors_run") == scheduled


def test_idle_workers_steal_from_a_single_producer() -> None:
    """One producer behaviour fans out; the worker that did not produce steals."""
    boc.start("workstealing", workers=2)
    boc.native.fanout(boc.Cown(), steps=40, children=64, child_ns=20_000)
    report = boc.wait()
    producer = max(report.stats, key=lambda w: w["dispatch_local"])
    others = [w for w in report.stats if w is not producer]
    assert all(w["steals"] > 0 for w in others), report.stats
    _check_identities(report, 40 * (64 + 1))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_self_rescheduling_chain_does_not_starve_others(workers: int) -> None:
    """A behaviour that reschedules itself for ever does not keep others from
    running; it stops when a flag cown tells it to."""
    boc.start("workstealing", workers=workers)
    with endless_chain() as counter:
        others = [boc.Cown(0) for _ in range(50)]
        for c in others:

            @boc.when(c)
            def run(c: boc.Cown) -> None:
                c.value = 1

        done = PipeEvent()
        boc.when(others)(lambda cs: done.set())
        assert done.wait(30), "behaviours on other cowns never ran while the chain spun"

    boc.wait(timeout=30)
    assert all(c.value == 1 for c in others)
    assert counter.value > 0


def test_counters_reconcile_after_a_mixed_run() -> None:
    """Every behaviour is dispatched once and found once, wherever it went."""
    boc.start("workstealing", workers=2)
    cowns = [boc.Cown(0) for _ in range(8)]

    def outside(seed: int) -> None:
        for i in range(200):
            a, b = cowns[(seed + i) % 8], cowns[(seed * 3 + i) % 8]
            boc.when(a, b)(lambda a, b: None)

    threads = [threading.Thread(target=outside, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    boc.native.loop(cowns[0], times=500)
    boc.native.fanout(boc.Cown(), steps=10, children=32)
    report = boc.wait()
    _check_identities(report, 3 * 200 + 500 + 10 * 33)


def test_idle_workers_park_and_are_woken() -> None:
    """With nothing to do both workers sleep; work from outside wakes them."""
    boc.start("workstealing", workers=2)
    boc.quiesce()
    deadline = time.monotonic() + 10
    while not all(w["parks"] > 0 for w in boc.stats()):
        assert time.monotonic() < deadline, boc.stats()
        time.sleep(0.005)
    for _ in range(4):
        boc.native.spin(boc.Cown(), ns=30_000_000)
    report = boc.wait()
    assert all(w["behaviors_run"] >= 1 for w in report.stats), report.stats
    assert report.total("wakeups") > 0
    _check_identities(report, 4)
