"""Signals and the end of the interpreter: Ctrl-C, signal handlers that call
wait(), bodies that never end, and boc used after its exit hook.

Each test runs a program in a fresh interpreter (support.Script) and checks
how it ended: its exit status, what it printed, and no mark of a crash.
"""

from __future__ import annotations

import signal
import textwrap
import time

from support import Script, assert_clean_end, run_script


def program(body: str) -> str:
    """``body`` after lines that start boc with the scheduler given as argv[1]."""
    return "import sys, time, boc\nboc.start(sys.argv[1], workers=2)\n" + textwrap.dedent(body)


KILLED_BY_SIGINT = -signal.SIGINT  # how Python ends after an unhandled Ctrl-C


def test_signal_handler_that_calls_wait_inside_wait(scheduler: str) -> None:
    """A handler's wait() inside the main thread's wait() ends the run; both get its report."""
    status, out, err = run_script(
        program(
            """
        import os, signal, threading
        inner = []
        signal.signal(signal.SIGUSR1, lambda *_: inner.append(boc.wait()))
        c = boc.Cown(0)
        for _ in range(3):
            @boc.when(c)
            def slow(c):
                time.sleep(0.2)
                c.value += 1
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGUSR1)).start()
        outer = boc.wait()
        assert inner and inner[0] == outer, (inner, outer)
        print("ran", outer.total("behaviors_run"), c.value)
        """),
        scheduler,
    )
    assert_clean_end(status, err)
    assert "ran 3 3" in out


def test_signal_handler_wait_while_the_workers_are_being_joined(scheduler: str) -> None:
    """Signals sent over and over while the main thread stops many runs never break a wait()."""
    status, out, err = run_script(
        program(
            """
        import os, signal, threading
        handled = []
        signal.signal(signal.SIGUSR1, lambda *_: handled.append(boc.wait()))
        done = threading.Event()
        def pester():
            while not done.is_set():
                os.kill(os.getpid(), signal.SIGUSR1)
                time.sleep(0.0005)
        t = threading.Thread(target=pester)
        t.start()
        total = 0
        for cycle in range(100):
            boc.start(sys.argv[1], workers=2)
            c = boc.Cown(0)
            for _ in range(20):
                boc.when(c)(lambda c: setattr(c, "value", c.value + 1))
            boc.wait()
            total += c.value
        done.set()
        t.join()
        print("total", total, "handled", len(handled) > 0)
        """),
        scheduler,
    )
    assert_clean_end(status, err)
    assert "total 2000 handled True" in out


def test_sigterm_handler_that_waits_and_exits(scheduler: str) -> None:
    """The usual clean shutdown: a SIGTERM handler calls wait() and sys.exit while
    the main thread waits; the work finishes and the exit status is the handler's."""
    with Script(
        program(
            """
        import signal
        def shut_down(*_):
            report = boc.wait()
            print("stopped after", report.total("behaviors_run"), flush=True)
            sys.exit(3)
        signal.signal(signal.SIGTERM, shut_down)
        c = boc.Cown(0)
        for _ in range(4):
            @boc.when(c)
            def slow(c):
                time.sleep(0.25)
        print("ready", flush=True)
        boc.wait()
        """),
        scheduler,
    ) as script:
        script.wait_for("ready")
        script.send(signal.SIGTERM)
        status = script.finish(30)
        assert_clean_end(status, script.stderr, expected=3)
        assert "stopped after 4" in script.stdout


def test_ctrl_c_at_exit_while_bodies_run_python(scheduler: str) -> None:
    """Ctrl-C while the exit hook waits for busy Python bodies: no abort, the
    uncollected exception and what was abandoned are reported, and the process
    ends as Python does after Ctrl-C."""
    with Script(
        program(
            """
        @boc.when(boc.Cown(0))
        def fails(c):
            raise ValueError("raised before the end")
        boc.quiesce()  # it has raised, whatever order the scheduler picks
        for _ in range(8):
            @boc.when(boc.Cown(0))
            def busy(c):
                end = time.monotonic() + 60
                while time.monotonic() < end:
                    sum(range(100))
        time.sleep(0.2)
        print("ending", flush=True)
        """),
        scheduler,
    ) as script:
        script.wait_for("ending")
        time.sleep(0.5)  # the exit hook is waiting now
        script.send(signal.SIGINT)
        status = script.finish(30)
        assert_clean_end(status, script.stderr, expected=KILLED_BY_SIGINT)
        assert "abandoned" in script.stderr
        assert "ValueError: raised before the end" in script.stderr


def test_exit_hook_says_what_it_waits_for_and_ctrl_c_ends_it(scheduler: str) -> None:
    """A body that never ends: the exit hook says how many behaviours it waits
    for after a few seconds, and Ctrl-C then ends the program."""
    with Script(
        program(
            """
        @boc.when(boc.Cown(0))
        def forever(c):
            time.sleep(1e9)
        try:
            boc.wait(timeout=0.5)
        except TimeoutError as e:
            print("timed out:", e, flush=True)
        """),
        scheduler,
    ) as script:
        script.wait_for("timed out")
        script.wait_for("waiting at interpreter exit for 1 behaviour(s)", timeout=30)
        script.send(signal.SIGINT)
        status = script.finish(30)
        assert_clean_end(status, script.stderr, expected=KILLED_BY_SIGINT)
        assert "1 behaviour(s) still in flight were abandoned" in script.stderr


def test_ctrl_c_during_wait_then_exit_does_not_wait_again(scheduler: str) -> None:
    """Ctrl-C in the program's own wait() ends the program at once, although the
    body it waited for never ends."""
    with Script(
        program(
            """
        @boc.when(boc.Cown(0))
        def forever(c):
            time.sleep(1e9)
        print("waiting", flush=True)
        boc.wait()
        """),
        scheduler,
    ) as script:
        script.wait_for("waiting")
        time.sleep(0.3)
        script.send(signal.SIGINT)
        status = script.finish(30)
        assert_clean_end(status, script.stderr, expected=KILLED_BY_SIGINT)
        assert "KeyboardInterrupt" in script.stderr
        assert "abandoned" in script.stderr


def test_when_after_the_exit_hook_is_a_clear_error(scheduler: str) -> None:
    """when() from an exit handler that runs after boc's, or from a __del__ at
    finalisation, raises RuntimeError instead of dropping the behaviour."""
    status, out, err = run_script(
        """
        import atexit, os, sys

        def late():
            import boc
            try:
                boc.when(boc.Cown(0))(lambda c: None)
                print("late when accepted", flush=True)
            except RuntimeError as e:
                print("late when refused:", e, flush=True)

        atexit.register(late)  # registered before boc's hook, so it runs after it

        import boc
        boc.start(sys.argv[1], workers=2)
        c = boc.Cown(0)
        for _ in range(5):
            boc.when(c)(lambda c: setattr(c, "value", c.value + 1))

        class SchedulesWhenCollected:
            # What __del__ uses is bound here: finalisation may clear the
            # module's globals first (free-threaded CPython does).
            def __del__(self, write=os.write, when=boc.when, Cown=boc.Cown):
                try:
                    when(Cown(0))(lambda c: None)
                    write(1, b"del when accepted\\n")
                except RuntimeError:
                    write(1, b"del when refused\\n")

        keep = SchedulesWhenCollected()  # collected when __main__ is torn down
        """,
        scheduler,
    )
    assert_clean_end(status, err)
    assert "late when refused: the interpreter is exiting" in out
    assert "accepted" not in out
    assert "del when refused" in out


def test_daemon_thread_scheduling_at_exit_leaves_no_alarming_message(scheduler: str) -> None:
    """A daemon thread that still calls when() as the program ends: its work is
    refused cleanly and nothing claims a reference-counting bug."""
    status, out, err = run_script(
        program(
            """
        import threading
        c = boc.Cown(0)
        def keep_scheduling():
            while True:
                try:
                    boc.when(c)(lambda c: setattr(c, "value", c.value + 1))
                except RuntimeError:
                    time.sleep(0.001)
        threading.Thread(target=keep_scheduling, daemon=True).start()
        time.sleep(0.3)
        print("ending", flush=True)
        """),
        scheduler,
    )
    assert_clean_end(status, err)
    assert "ending" in out


def test_nothing_of_boc_is_left_at_exit(scheduler: str) -> None:
    """With nanobind's leak report on (BOC_LEAK_WARNINGS=1), a program that used
    every part of boc, errors included, ends with nothing reported leaked."""
    status, out, err = run_script(
        program(
            """
        import boc.native
        cowns = [boc.Cown(i) for i in range(10)]
        for i in range(100):
            @boc.when(cowns[i % 10], [cowns[(i + 1) % 10]])
            def body(a, group):
                a.value += 1
                if a.value == 5:
                    raise KeyError("collected")
                @boc.when(a)
                def nested(a):
                    return a.value
        boc.native.fanout(boc.Cown(0), steps=3, children=5)
        try:
            boc.wait()
        except BaseExceptionGroup as group:
            print("errors", len(group.exceptions))
        boc.start(sys.argv[1], workers=1)
        boc.when(cowns[0])(lambda c: 1 / 0)   # left for the exit hook to report
        """),
        scheduler,
        env={"BOC_LEAK_WARNINGS": "1"},
    )
    assert_clean_end(status, err)
    assert "errors 5" in out  # cowns 0..4 each reach 5 once
    assert "ZeroDivisionError" in err  # reported by the exit hook
