"""Per-worker statistics: boc.stats(), boc.counters(), RunReport and its DataFrame."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

import boc
import boc.native
from support import assert_clean_end, run_script

CORE_COUNTERS = {"worker", "behaviors_run", "parks"}


def _busy_run(scheduler: str) -> boc.RunReport:
    """A run that gives every part of a scheduler something to do on 2 workers:
    native fan-out from workers, Python behaviours from outside threads,
    multi-cown contention, idle periods and wake-ups."""
    boc.start(scheduler, workers=2)
    state = boc.Cown(0)
    boc.native.fanout(state, steps=20, children=16, child_ns=20_000)
    boc.quiesce()  # workers go idle and park
    cowns = [boc.Cown(0) for _ in range(6)]

    def schedule(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(300):
            picks = rng.sample(cowns, rng.randint(1, 3))
            boc.when(*picks)(lambda *held: [c.value for c in held])
            if rng.random() < 0.2:
                boc.native.loop(*picks, times=3, ns=1000)

    threads = [threading.Thread(target=schedule, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    boc.quiesce()
    boc.native.fanout(state, steps=10, children=32, child_ns=0)
    return boc.wait()


def test_stats_while_running_has_one_dict_per_worker(scheduler: str) -> None:
    """boc.stats() during a run gives one dict per worker with the core counters."""
    boc.start(scheduler, workers=3)
    c = boc.Cown(0)
    for _ in range(50):
        boc.when(c)(lambda c: None)
    boc.quiesce()
    live = boc.stats()
    assert [s["worker"] for s in live] == [0, 1, 2]
    for s in live:
        assert CORE_COUNTERS <= set(s)
        assert all(isinstance(v, int) and v >= 0 for v in s.values())
    assert sum(s["behaviors_run"] for s in live) == 50


def test_stats_after_wait_equal_the_report_stats(scheduler: str) -> None:
    """After wait(), boc.stats() returns the finished run's statistics, as in the report."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)
    for _ in range(20):
        boc.when(c)(lambda c: None)
    report = boc.wait()
    assert boc.stats() == report.stats
    assert report.total("behaviors_run") == 20


def test_each_run_counts_from_zero(scheduler: str) -> None:
    """A new run's statistics do not include the previous run's behaviours."""
    c = boc.Cown(0)
    for count in (30, 7):
        boc.start(scheduler, workers=2)
        for _ in range(count):
            boc.when(c)(lambda c: None)
        assert boc.wait().total("behaviors_run") == count


def test_counters_describe_every_reported_key(scheduler: str) -> None:
    """boc.counters(name) describes exactly the keys every stats dict carries."""
    described = boc.counters(scheduler)
    assert CORE_COUNTERS <= set(described)
    for name, text in described.items():
        assert isinstance(text, str) and text.strip() and "\n" not in text.strip()
    report = _busy_run(scheduler)
    for s in report.stats:
        assert set(s) <= set(described)
        assert set(s) == set(described), "a described counter is never reported"


def test_counters_of_an_unknown_scheduler_is_a_value_error() -> None:
    """boc.counters('nope') raises ValueError naming the available schedulers."""
    with pytest.raises(ValueError) as info:
        boc.counters("no-such-scheduler")
    assert all(name in str(info.value) for name in boc.schedulers())


def test_every_counter_is_updated_by_a_busy_run(scheduler: str, executor: str) -> None:
    """No strategy reports a counter that a busy two-worker run leaves at zero
    (nor the executor, whose value moves happen only between interpreters)."""
    report = _busy_run(scheduler)
    assert report.errors == []
    moves = set(boc.runtime._MOVE_COUNTERS) if executor == "threads" else set()
    counters = [k for k in boc.counters(scheduler) if k != "worker" and not k.endswith("_ns") and k not in moves]
    assert all(report.total(k) == 0 for k in moves), "values moved under executor='threads'"
    totals = {k: report.total(k) for k in counters}
    seen = {k for k, v in totals.items() if v > 0}
    for _ in range(2):  # a rare event may need another run; two more chances
        if seen == set(counters):
            break
        again = _busy_run(scheduler)
        seen |= {k for k in counters if again.total(k) > 0}
    assert seen == set(counters), f"never updated: {sorted(set(counters) - seen)}"


def test_behaviour_counts_are_exact_and_both_workers_work(scheduler: str) -> None:
    """behaviors_run sums to every behaviour of the run, spread over both workers."""
    report = _busy_run(scheduler)
    fanout = 20 * (1 + 16) + 10 * (1 + 32)
    assert report.total("behaviors_run") >= fanout + 900
    assert all(s["behaviors_run"] > 0 for s in report.stats)


def test_busy_time_covers_a_long_body(scheduler: str) -> None:
    """A 50 ms native body shows up as at least 50 ms of busy_ns on some worker."""
    counters = boc.counters(scheduler)
    if "busy_ns" not in counters:
        pytest.skip("no busy_ns counter")
    boc.start(scheduler, workers=2)
    boc.native.spin(boc.Cown(0), ns=50_000_000)
    report = boc.wait()
    assert max(s["busy_ns"] for s in report.stats) >= 50_000_000
    assert report.total("busy_ns") <= 2 * report.elapsed_s * 1e9 * 1.05


def test_idle_workers_park(scheduler: str) -> None:
    """A worker with nothing to do parks, and the live statistics count it."""
    boc.start(scheduler, workers=2)
    boc.when(boc.Cown(0))(lambda c: None)
    boc.quiesce()
    # Nothing signals a park, so poll the live counters (a strategy may spin
    # for a while before it parks).
    deadline = time.monotonic() + 10
    while sum(s["parks"] for s in boc.stats()) == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert sum(s["parks"] for s in boc.stats()) >= 1
    assert boc.wait().total("parks") >= 1


def test_report_to_frame_has_one_row_per_worker(scheduler: str, executor: str) -> None:
    """RunReport.to_frame() is a DataFrame: scheduler, executor, workers, then every counter, a row per worker."""
    pandas = pytest.importorskip("pandas")
    boc.start(scheduler, workers=2)
    for _ in range(10):
        boc.when(boc.Cown(0))(lambda c: None)
    report = boc.wait()
    frame = report.to_frame()
    assert isinstance(frame, pandas.DataFrame)
    assert len(frame) == 2
    assert list(frame.columns) == ["scheduler", "executor", "workers", *report.stats[0].keys()]
    assert set(frame["scheduler"]) == {scheduler}
    assert set(frame["executor"]) == {executor}
    assert set(frame["workers"]) == {2}
    assert list(frame["worker"]) == [0, 1]
    assert frame["behaviors_run"].sum() == 10
    assert frame.drop(columns=["scheduler", "executor", "workers"]).to_dict("records") == report.stats


def test_report_total_sums_a_counter(scheduler: str) -> None:
    """RunReport.total(name) is the sum over workers; an unknown name is a KeyError
    that suggests the nearest counter and lists the valid ones."""
    boc.start(scheduler, workers=2)
    boc.native.loop(boc.Cown(0), times=40)
    report = boc.wait()
    assert report.total("behaviors_run") == sum(s["behaviors_run"] for s in report.stats) == 40
    with pytest.raises(KeyError, match=r"did you mean 'behaviors_run'.*idle_ns"):
        report.total("behaviours_run")
    with pytest.raises(KeyError, match="no_such_counter"):
        report.total("no_such_counter")


def test_total_of_a_report_with_no_workers_is_zero_for_real_counters() -> None:
    """The report of no run sums to 0 for every real counter and still refuses unknown names."""
    empty = boc.RunReport(scheduler=None, workers=0)  # what wait() returns before any run
    assert empty.total("behaviors_run") == 0
    with pytest.raises(KeyError, match="behaviors_run"):
        empty.total("behaviours_run")


def test_source_counters_add_up_to_behaviors_run(scheduler: str) -> None:
    """Every scheduler says where each behaviour came from: per worker, its
    source counters (boc.sources) sum to behaviors_run, which the plots rely on."""
    sources = boc.sources(scheduler)
    assert sources, f"{scheduler} declares no source counters"
    assert set(sources) <= set(boc.counters(scheduler))
    report = _busy_run(scheduler)
    for worker in report.stats:
        assert sum(worker[name] for name in sources) == worker["behaviors_run"], worker


def test_to_frame_without_pandas_says_how_to_add_it() -> None:
    """The hint names the extra in the form that fits this install: an
    editable install from a checkout gets that checkout's folder."""
    done = run_script(
        """
        import sys
        sys.modules["pandas"] = None  # as if it were not installed
        import boc
        boc.start(workers=1)
        report = boc.wait()
        try:
            report.to_frame()
        except ImportError as e:
            print(e)
        """
    )
    status, stdout, stderr = done
    assert_clean_end(status, stderr)
    message = stdout.strip()
    assert message.startswith("RunReport.to_frame() needs pandas; install it with python -m pip install ")
    assert "[experiments]" in message
    checkout = Path(__file__).resolve().parents[1]
    if Path(boc.__file__).resolve().is_relative_to(checkout):  # an editable install of this checkout
        assert message.endswith(f'-e "{checkout}[experiments]"')
