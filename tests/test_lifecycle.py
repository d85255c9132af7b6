"""start / quiesce / wait: configurations, timeouts, restarts and the exit hook."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import time

import pytest

import boc
import boc.native
from support import endless_chain


def test_start_again_with_the_same_configuration_is_a_no_op(scheduler: str) -> None:
    """A second start() with the same settings keeps the running runtime and its work."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)
    boc.when(c)(lambda c: setattr(c, "value", c.value + 1))
    defaults = {name: spec["default"] for name, spec in boc.options(scheduler).items()}
    boc.start(scheduler, workers=2)
    boc.start(scheduler, 2, **defaults)  # defaults spelled out are the same configuration
    boc.when(c)(lambda c: setattr(c, "value", c.value + 1))
    report = boc.wait()
    assert c.value == 2
    assert report.total("behaviors_run") == 2  # one run, not two


def test_start_with_another_configuration_while_running_is_a_runtime_error(scheduler: str) -> None:
    """start() with other workers/scheduler/options while running raises and changes nothing."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)
    boc.when(c)(lambda c: None)
    with pytest.raises(RuntimeError, match="already running"):
        boc.start(scheduler, workers=3)
    for other in boc.schedulers():
        if other != scheduler:
            with pytest.raises(RuntimeError):
                boc.start(other, workers=2)
    for name, spec in boc.options(scheduler).items():
        different = spec["min"] if spec["default"] != spec["min"] else spec["max"]
        if different != spec["default"]:
            with pytest.raises(RuntimeError):
                boc.start(scheduler, workers=2, **{name: different})
    boc.when(c)(lambda c: None)
    report = boc.wait()
    assert (report.scheduler, report.workers) == (scheduler, 2)
    assert report.total("behaviors_run") == 2


def test_quiesce_waits_for_all_work_and_keeps_the_workers(scheduler: str) -> None:
    """After quiesce() every behaviour has run, and the same run goes on accepting work."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)
    for _ in range(100):
        boc.when(c)(lambda c: setattr(c, "value", c.value + 1))
    boc.quiesce()
    assert c.value == 100
    assert len(boc.stats()) == 2
    for _ in range(100):
        boc.when(c)(lambda c: setattr(c, "value", c.value + 1))
    boc.quiesce()
    assert c.value == 200
    report = boc.wait()
    assert report.total("behaviors_run") == 200


def test_quiesce_and_wait_when_nothing_runs_return_at_once() -> None:
    """quiesce() and wait() without a running runtime do not block or fail."""
    boc.quiesce()
    boc.quiesce(timeout=0)
    report = boc.wait()
    assert isinstance(report, boc.RunReport)
    assert boc.wait() == report  # the last run's report, again


def test_quiesce_timeout_raises_and_leaves_the_work_running(scheduler: str, gate) -> None:
    """quiesce(timeout) raises TimeoutError while a behaviour runs, and the behaviour finishes later."""
    boc.start(scheduler, workers=2)
    c = boc.Cown("before")
    gate.hold(c)

    @boc.when(c)
    def after(c: boc.Cown) -> None:
        c.value = "after"

    with pytest.raises(TimeoutError):
        boc.quiesce(timeout=0.05)
    with pytest.raises(TimeoutError):
        boc.quiesce(timeout=0)
    gate.open()
    boc.quiesce()
    assert c.value == "after"


def test_wait_timeout_keeps_the_runtime_running_and_wait_can_be_called_again(scheduler: str, gate) -> None:
    """wait(timeout) raises TimeoutError, the run continues, and a later wait() ends it."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)
    gate.hold(c)
    with pytest.raises(TimeoutError):
        boc.wait(timeout=0.05)
    assert len(boc.stats()) == 2  # still the live runtime
    boc.start(scheduler, workers=2)  # still running with this configuration: a no-op
    boc.when(c)(lambda c: setattr(c, "value", 1))
    gate.open()
    report = boc.wait()
    assert c.value == 1
    assert report.total("behaviors_run") == 2  # the held behaviour and the later one, one run


def test_wait_returns_a_report_of_the_run(scheduler: str) -> None:
    """wait() returns the scheduler, workers, resolved options, stats and elapsed time."""
    boc.start(scheduler, workers=2)
    boc.native.spin(boc.Cown(0), ns=20_000_000)
    report = boc.wait()
    assert report.scheduler == scheduler
    assert report.workers == 2
    assert report.options == {name: spec["default"] for name, spec in boc.options(scheduler).items()}
    assert len(report.stats) == 2
    assert report.errors == []
    assert report.elapsed_s >= 0.02


def test_many_start_wait_cycles(scheduler: str) -> None:
    """Fifty start/wait cycles with varying worker counts each run their work exactly once."""
    c = boc.Cown(0)
    for cycle in range(50):
        workers = 1 + cycle % 3
        boc.start(scheduler, workers=workers)
        for _ in range(5):
            boc.when(c)(lambda c: setattr(c, "value", c.value + 1))
        boc.native.spin(c)
        report = boc.wait()
        assert report.workers == workers
        assert len(report.stats) == workers
        assert report.total("behaviors_run") == 6
        assert c.value == 5 * (cycle + 1)


def test_cycles_across_every_scheduler(scheduler: str) -> None:
    """Switching strategy between runs works: each run reports the strategy it used."""
    c = boc.Cown(0)
    order = [scheduler] + [s for s in sorted(boc.schedulers()) if s != scheduler]
    for cycle in range(10):
        name = order[cycle % len(order)]
        boc.start(name, workers=2)
        boc.when(c)(lambda c: setattr(c, "value", c.value + 1))
        assert boc.wait().scheduler == name
    assert c.value == 10


def _run_script(scheduler: str, body: str) -> subprocess.CompletedProcess:
    script = f"import boc\nboc.start({scheduler!r}, workers=2)\n" + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=os.getcwd()
    )


def test_pending_work_finishes_at_interpreter_exit(scheduler: str) -> None:
    """A program that never calls wait() still runs all its behaviours before exiting."""
    proc = _run_script(
        scheduler,
        """
        import sys
        c = boc.Cown(0)
        for _ in range(100):
            @boc.when(c)
            def inc(c):
                c.value += 1
        @boc.when(c)
        def report(c):
            print("total", c.value, flush=True)
        """,
    )
    assert proc.returncode == 0, proc.stderr
    assert "total 100" in proc.stdout


def test_uncollected_exceptions_are_reported_at_exit(scheduler: str) -> None:
    """Behaviour exceptions nobody collected with wait() are printed at exit, not lost."""
    proc = _run_script(
        scheduler,
        """
        c = boc.Cown(0)
        @boc.when(c)
        def fails(c):
            raise ValueError("never collected")
        """,
    )
    assert proc.returncode == 0, proc.stderr
    assert "never collected" in proc.stderr
    assert "ValueError" in proc.stderr


def test_main_thread_is_not_starved_by_python_behaviours(scheduler: str) -> None:
    """While workers run Python bodies back to back without end, the main
    thread still gets the interpreter lock within a few switch intervals."""
    boc.start(scheduler, workers=2)
    with endless_chain():
        worst = 0.0
        for _ in range(20):
            t0 = time.perf_counter()
            time.sleep(0.001)  # gives the lock away; returning needs it back
            worst = max(worst, time.perf_counter() - t0)
        assert worst < 1.0, f"the main thread waited {worst:.2f} s for the interpreter lock"
    boc.wait(timeout=30)


@pytest.mark.parametrize("timeout", [math.inf, 1e10, 2**70], ids=["inf", "1e10", "2**70"])
def test_infinite_and_huge_timeouts_wait_for_ever(scheduler: str, timeout: float) -> None:
    """quiesce() and wait() with inf or a timeout too large for the clock wait for
    the work instead of timing out at once."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)

    @boc.when(c)
    def slow(c: boc.Cown) -> None:
        time.sleep(0.2)
        c.value = 1

    boc.quiesce(timeout)
    assert c.value == 1
    boc.when(c)(lambda c: time.sleep(0.2))
    report = boc.wait(timeout)
    assert report.total("behaviors_run") == 2


def test_nan_timeout_is_a_value_error_idle_or_busy(scheduler: str, gate) -> None:
    """NaN is no number of seconds: refused whether or not work is in flight."""
    boc.start(scheduler, workers=2)
    for busy in (False, True):
        if busy:
            gate.hold(boc.Cown(0))
        with pytest.raises(ValueError, match="nan"):
            boc.quiesce(math.nan)
        with pytest.raises(ValueError, match="nan"):
            boc.wait(math.nan)
    gate.open()
    assert boc.wait().total("behaviors_run") == 1


def test_timeout_error_says_how_much_is_in_flight(scheduler: str, gate) -> None:
    """The TimeoutError of quiesce() and wait() names the timeout and the work left."""
    boc.start(scheduler, workers=2)
    gate.hold(boc.Cown(0))
    with pytest.raises(TimeoutError, match=r"after 0.01 s \(about 1\)"):
        boc.quiesce(0.01)
    with pytest.raises(TimeoutError, match=r"after 0.01 s"):
        boc.wait(0.01)


def _can_pin() -> bool:
    """Whether this process may set a thread's CPU affinity (Linux only)."""
    if not hasattr(os, "sched_setaffinity"):
        return False
    allowed = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, allowed)
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _can_pin(), reason="this platform or process cannot pin threads to CPUs")
def test_pinned_workers_each_run_on_one_cpu(scheduler: str) -> None:
    """start(pin=True): every worker may run on one CPU only; without it, on all the process may use."""
    for pin, expected in ((True, 1), (False, len(os.sched_getaffinity(0)))):
        boc.start(scheduler, workers=2, pin=pin)
        seen = boc.when()(lambda: len(os.sched_getaffinity(0)))
        boc.wait()
        assert seen.value == expected, f"pin={pin}"


def test_pin_is_part_of_the_configuration(scheduler: str) -> None:
    """pin takes only a bool, and a running runtime is not restarted pinned."""
    with pytest.raises(TypeError, match="pin must be True or False"):
        boc.start(scheduler, workers=2, pin=1)  # type: ignore[arg-type]
    boc.start(scheduler, workers=2)
    with pytest.raises(RuntimeError, match="pin=False"):
        boc.start(scheduler, workers=2, pin=True)
    boc.start(scheduler, workers=2, pin=False)  # the same configuration
    boc.wait()
