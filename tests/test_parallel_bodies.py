"""Python bodies that run at once: under executor="subinterpreters", and
under "threads" on a free-threaded CPython (no interpreter lock).

What keeps user data race-free there is the runtime alone: a cown's value
is touched only by the behaviour that holds it, or outside behaviours while
none is in flight. These tests check that from several threads at once.
"""

from __future__ import annotations

import random
import sys
import sysconfig
import threading
import time

import pytest

import boc
from support import assert_clean_end, run_script

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
# The executors under which two Python bodies can run at the same moment.
PARALLEL = {"subinterpreters"} | ({"threads"} if FREE_THREADED else set())

free_threaded_only = pytest.mark.skipif(not FREE_THREADED, reason="needs a free-threaded CPython (3.13t)")


def _spin(seconds: float) -> tuple[float, float, float]:
    """(wall start, wall end, this thread's CPU time) of a pure-Python loop."""
    start, cpu0 = time.monotonic(), time.thread_time()
    x = 0
    while time.monotonic() - start < seconds:
        for i in range(1000):
            x += i
    return start, time.monotonic(), time.thread_time() - cpu0


@pytest.mark.parallel
def test_two_cpu_bound_bodies_on_different_cowns_run_at_once(scheduler: str, executor: str) -> None:
    """On 2 workers, two pure-Python bodies overlap in time and together use
    more CPU than one interpreter lock would let them (at most one core's
    worth); a shared machine that lends less than two cores for a moment
    gets a few more tries."""
    if executor not in PARALLEL:
        pytest.skip(f"executor={executor!r} runs one Python body at a time in this interpreter")
    best, tries = 0.0, []
    for _ in range(5):
        boc.start(scheduler, workers=2)
        a, b = boc.Cown(0), boc.Cown(0)
        boc.when(a)(lambda a: None)  # both workers awake and in their interpreters
        boc.when(b)(lambda b: None)
        boc.quiesce()
        first = boc.when(a)(lambda a: _spin(0.4))
        second = boc.when(b)(lambda b: _spin(0.4))
        boc.wait()
        (s1, e1, cpu1), (s2, e2, cpu2) = first.value, second.value
        tries.append((first.value, second.value))
        if min(e1, e2) - max(s1, s2) > 0.2:  # they overlapped for at least half their time
            best = max(best, (cpu1 + cpu2) / (max(e1, e2) - min(s1, s2)))
        if best > 1.3:
            break
    assert best > 0, f"in every try the bodies ran one after the other: {tries}"
    assert best > 1.3, f"two bodies used {best:.2f} cores together"


def _enter(value: dict) -> None:
    """What a body does first to a value it holds: a second holder at the
    same time would find the mark."""
    assert value["holder"] is None, f"two behaviours hold one cown: {value['holder']} and this one"
    value["holder"] = threading.get_ident()


def _leave(value: dict, amount: int) -> None:
    # Read, then write, with Python code between: without the runtime's
    # exclusion two bodies would lose updates here.
    n, times = value["n"], value["times"]
    value["n"] = n + amount
    value["times"] = times + 1
    value["holder"] = None


def test_outside_threads_scheduling_on_shared_cowns_for_seconds_keep_exact_totals(scheduler: str) -> None:
    """For two seconds, four outside threads schedule behaviours on 1
    to 3 of 12 shared cowns while earlier ones run; each body does an
    unprotected read-modify-write on every value it holds. No two bodies
    ever hold one cown at once, and every total is exact."""
    boc.start(scheduler, workers=2)
    cowns = [boc.Cown({"n": 0, "times": 0, "holder": None}) for _ in range(12)]
    expected, expected_times = [0] * len(cowns), [0] * len(cowns)
    expected_lock = threading.Lock()
    deadline = time.monotonic() + 2.0
    errors: list[BaseException] = []

    def schedule(index: int) -> None:
        rng = random.Random(index)
        mine, mine_times = [0] * len(cowns), [0] * len(cowns)
        try:
            while time.monotonic() < deadline:
                picked = rng.sample(range(len(cowns)), rng.randint(1, 3))
                amount = rng.randint(1, 9)
                for k in picked:
                    mine[k] += amount
                    mine_times[k] += 1

                def body(*held: boc.Cown, amount: int = amount) -> None:
                    for c in held:
                        _enter(c.value)
                    x = 0
                    for i in range(200):  # long enough for other bodies to overlap it
                        x += i
                    for c in held:
                        _leave(c.value, amount)

                boc.when(*(cowns[k] for k in picked))(body)
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            errors.append(e)
        with expected_lock:
            for k in range(len(cowns)):
                expected[k] += mine[k]
                expected_times[k] += mine_times[k]

    threads = [threading.Thread(target=schedule, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[0]
    boc.wait()  # an ExceptionGroup if any body failed
    assert [c.value["n"] for c in cowns] == expected
    assert [c.value["times"] for c in cowns] == expected_times
    assert all(c.value["holder"] is None for c in cowns)


def test_access_checks_hold_from_several_threads(scheduler: str, gate) -> None:
    """While behaviours are in flight, outside threads that read or assign a
    cown's value get RuntimeError, and so does a body that uses a cown it
    does not hold; once quiescent, outside threads read the final value."""
    boc.start(scheduler, workers=2)
    held, other = boc.Cown(0), boc.Cown("untouched")
    gate.hold(held)
    trespass = boc.when(held)(lambda held: other.value)  # not this behaviour's cown
    refused: list[str] = []
    refused_lock = threading.Lock()

    def outside() -> None:
        for _ in range(200):
            for use in (lambda: held.value, lambda: setattr(held, "value", -1), lambda: other.value):
                try:
                    use()
                except RuntimeError as e:
                    with refused_lock:
                        refused.append(str(e))
                else:
                    raise AssertionError("an outside thread used a value while a behaviour was in flight")

    threads = [threading.Thread(target=outside) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    gate.open()
    boc.quiesce()
    assert len(refused) == 4 * 200 * 3
    assert all("no behaviour is in flight" in message for message in refused)
    assert isinstance(trespass.exception, RuntimeError)
    assert "does not hold that cown" in str(trespass.exception)

    seen: list[object] = []
    readers = [threading.Thread(target=lambda: seen.extend([held.value, other.value])) for _ in range(4)]
    for t in readers:
        t.start()
    for t in readers:
        t.join(30)
    assert seen == [0, "untouched"] * 4


@free_threaded_only
def test_importing_boc_leaves_the_interpreter_lock_disabled() -> None:
    """The extension declares that it does not need the GIL, so importing it
    (and running behaviours) does not turn the GIL back on."""
    status, out, err = run_script(
        """
        import sys
        import boc
        boc.start(workers=2)
        boc.when(boc.Cown(1))(lambda c: None)
        boc.wait()
        print("gil enabled:", sys._is_gil_enabled())
        """
    )
    assert_clean_end(status, err)
    assert "gil enabled: False" in out
    assert "GIL" not in err  # CPython warns when a module re-enables it


@free_threaded_only
def test_threads_executor_says_it_runs_without_an_interpreter_lock() -> None:
    """On a free-threaded CPython, executors() describes "threads" as it is
    there, and "subinterpreters" is unavailable with the reason."""
    assert "no interpreter lock" in boc.executors()["threads"]
    assert "free-threaded" in boc.unavailable_executors()["subinterpreters"]
    assert sys._is_gil_enabled() is False  # type: ignore[attr-defined]
