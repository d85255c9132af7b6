"""Many threads on the runtime's lifetime at once: start, when, quiesce, wait
and stats from any thread, two threads stopping one run, and every public
function at random while behaviours run.

The programs that could crash on a defect run in a fresh interpreter
(support.Script), so a crash fails the test instead of the test session.
"""

from __future__ import annotations

import threading
import time

import boc
from support import assert_clean_end, run_script


def test_quiesce_and_stats_from_threads_while_another_starts_and_stops_runs(scheduler: str) -> None:
    """One thread cycles start/when/wait while three others call quiesce() and
    stats() in a loop: every call works on a runtime that stays alive, and every
    run counts exactly its own behaviours."""
    status, out, err = run_script(
        """
        import sys, threading, time, boc
        scheduler = sys.argv[1]
        until = time.monotonic() + 3
        problems = []

        def observe():
            while time.monotonic() < until:
                try:
                    boc.quiesce(0.001)
                except TimeoutError:
                    pass
                stats = boc.stats()
                if stats and len(stats) != 2:
                    problems.append(stats)

        def cycle():
            runs = 0
            while time.monotonic() < until:
                boc.start(scheduler, workers=2)
                c = boc.Cown(0)
                for _ in range(20):
                    boc.when(c)(lambda c: setattr(c, "value", c.value + 1))
                report = boc.wait()
                if c.value != 20 or report.total("behaviors_run") != 20:
                    problems.append((c.value, report))
                runs += 1
            print("runs", runs, flush=True)

        threads = [threading.Thread(target=observe) for _ in range(3)] + [threading.Thread(target=cycle)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("problems", problems)
        """,
        scheduler,
    )
    assert_clean_end(status, err)
    assert "problems []" in out
    assert "runs " in out and "runs 0" not in out


def test_two_threads_waiting_on_a_failed_run_both_raise_its_errors(scheduler: str, gate) -> None:
    """Every wait() that ends a run whose bodies raised raises the same errors."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)
    gate.hold(c)
    for i in range(3):

        @boc.when(c)
        def fails(c: boc.Cown, i: int = i) -> None:
            raise ValueError(f"failure {i}")

    outcomes: list[BaseException | boc.RunReport] = []

    def waiter() -> None:
        try:
            outcomes.append(boc.wait())
        except BaseException as e:  # noqa: BLE001 - compared below
            outcomes.append(e)

    threads = [threading.Thread(target=waiter) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.1)  # all three are waiting on the held run
    gate.open()
    for t in threads:
        t.join(30)
    assert len(outcomes) == 3
    assert all(isinstance(o, ExceptionGroup) for o in outcomes), outcomes
    messages = [sorted(str(e) for e in o.exceptions) for o in outcomes]  # type: ignore[union-attr]
    assert messages == [["failure 0", "failure 1", "failure 2"]] * 3
    assert outcomes[0].exceptions[0] is outcomes[1].exceptions[0]  # type: ignore[union-attr]
    assert len({id(o.report) for o in outcomes}) == 3  # type: ignore[union-attr]
    assert outcomes[0].report == outcomes[1].report == outcomes[2].report  # type: ignore[union-attr]


def test_when_from_another_thread_while_a_run_stops_is_refused_or_runs(scheduler: str) -> None:
    """While one thread's wait() stops the run, other threads' when() either
    schedules a behaviour that runs, or raises RuntimeError: none is lost."""
    counted = boc.Cown(0)
    accepted = [0, 0]
    unexpected: list[BaseException] = []
    until = time.monotonic() + 1.5

    def schedule(index: int) -> None:
        while time.monotonic() < until:
            try:
                boc.when(counted)(lambda c: setattr(c, "value", c.value + 1))
                accepted[index] += 1
            except RuntimeError as e:
                if "being stopped" not in str(e):
                    unexpected.append(e)

    boc.start(scheduler, workers=2)
    threads = [threading.Thread(target=schedule, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    while time.monotonic() < until:
        try:
            boc.wait()
            boc.start(scheduler, workers=2)
        except RuntimeError:
            pass  # a when() on another thread started a run with the defaults first
    for t in threads:
        t.join(30)
    boc.wait()
    assert unexpected == []
    assert counted.value == sum(accepted) > 0


def test_every_public_function_from_threads_at_random(scheduler: str) -> None:
    """Four threads call the public API at random for a few seconds while
    behaviours run; only the documented errors occur, and every behaviour that
    was accepted ran exactly once."""
    status, out, err = run_script(
        """
        import random, sys, threading, time, boc, boc.native
        scheduler = sys.argv[1]
        cowns = [boc.Cown(0) for _ in range(8)]
        accepted = [0] * 4
        unexpected = []
        until = time.monotonic() + 4

        def bump(*held):
            for c in held:
                c.value += 1

        def call(rng, index):
            choice = rng.randrange(9)
            if choice <= 2:
                picks = rng.sample(cowns, rng.randint(1, 3))
                boc.when(*picks)(bump)
                accepted[index] += len(picks)
            elif choice == 3:
                boc.start(scheduler, workers=2)
            elif choice == 4:
                boc.quiesce(rng.choice([0, 0.001, 0.01]))
            elif choice == 5:
                boc.wait(rng.choice([0, 0.001, 0.05]))
            elif choice == 6:
                boc.stats()
                boc.counters(scheduler)
            elif choice == 7:
                boc.native.spin(rng.choice(cowns), ns=1000)
            else:
                cowns[rng.randrange(8)].value   # allowed only while nothing is in flight

        def hammer(index):
            rng = random.Random(index)
            while time.monotonic() < until:
                try:
                    call(rng, index)
                except (RuntimeError, TimeoutError):
                    pass   # by design: another thread stopped the run, a value was in use
                except BaseException as e:
                    unexpected.append(repr(e))

        threads = [threading.Thread(target=hammer, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        boc.wait()
        total = sum(c.value for c in cowns)
        print("unexpected", unexpected)
        print("exact", total == sum(accepted), total, sum(accepted))
        """,
        scheduler,
        timeout=120,
    )
    assert_clean_end(status, err)
    assert "unexpected []" in out
    assert "exact True" in out


def test_when_over_many_cowns_out_of_order_is_not_quadratic(scheduler: str) -> None:
    """Scheduling on N cowns in reverse id order and touching each in the body
    grows about as N log N: 8x the cowns costs far less than 64x the time."""
    boc.start(scheduler, workers=1)

    def timed(n: int) -> float:
        cowns = [boc.Cown(i) for i in range(n)][::-1]
        t0 = time.perf_counter()

        @boc.when(cowns)
        def touch_all(group: list) -> None:
            for c in group:
                c.value += 1

        boc.quiesce()
        elapsed = time.perf_counter() - t0
        assert all(c.value == i + 1 for i, c in enumerate(reversed(cowns)))
        return elapsed

    timed(1000)  # warm-up
    small = min(timed(10_000) for _ in range(3))
    large = min(timed(80_000) for _ in range(3))
    assert large < 25 * small, f"10k cowns: {small * 1e3:.1f} ms, 80k cowns: {large * 1e3:.1f} ms"
