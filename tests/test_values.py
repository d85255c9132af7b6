"""Cown values used from several threads, and by the code that replacing or
moving a value runs (finalisers, __setstate__), across fork() and from one
executor's run to the next. Each program runs in a fresh interpreter
(support.Script), since what goes wrong here is memory, not an assertion.
"""

from __future__ import annotations

import pytest

import boc
from support import assert_clean_end, run_script

# Each program picks its executors itself: one run of each test.
pytestmark = pytest.mark.executor("threads")

needs_subinterpreters = pytest.mark.skipif(
    "subinterpreters" not in boc.executors(), reason=boc.unavailable_executors().get("subinterpreters", "")
)


def test_a_finaliser_that_reads_the_cown_sees_the_new_value() -> None:
    """Replacing a value lets go of the old one last: a finaliser it runs
    reads the new value, not the one being freed."""
    status, out, err = run_script(
        """
        import boc
        seen = []
        class Watcher:
            def __del__(self):
                seen.append(c.value)
        for new in (None, 0, "text"):
            c = boc.Cown([Watcher()])
            c.value = new
            assert seen[-1] == new, seen
        print("seen", seen)
        """
    )
    assert_clean_end(status, err)
    assert "seen [None, 0, 'text']" in out


@needs_subinterpreters
def test_threads_reading_values_that_live_in_sub_interpreters() -> None:
    """After wait(), four threads read values that must first move out of the
    workers' interpreters: each read gets the whole value."""
    status, out, err = run_script(
        """
        import threading, boc
        boc.start(executor="subinterpreters", workers=2)
        cowns = [boc.Cown(None) for _ in range(1000)]
        for c in cowns:
            @boc.when(c)
            def fill(c):
                c.value = {"k": list(range(50))}
        boc.wait()
        barrier = threading.Barrier(4)
        bad = []
        def read():
            barrier.wait()
            for c in cowns:
                if c.value != {"k": list(range(50))}:
                    bad.append(c)
        threads = [threading.Thread(target=read) for _ in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        print("bad", len(bad))
        """
    )
    assert_clean_end(status, err)
    assert "bad 0" in out


@needs_subinterpreters
def test_reading_values_while_another_thread_schedules_behaviours_on_them() -> None:
    """A value read outside behaviours is not changed by a behaviour halfway
    through its move: behaviours scheduled meanwhile wait for the read, and
    a read that finds behaviours in flight says so."""
    status, out, err = run_script(
        """
        import threading, boc
        boc.start(executor="subinterpreters", workers=2)
        cowns = [boc.Cown(None) for _ in range(300)]
        for c in cowns:
            @boc.when(c)
            def fill(c):
                c.value = [0] * 100
        boc.wait()
        problems, refused = [], [0]
        def read():
            for _ in range(3):
                for c in cowns:
                    try:
                        v = c.value
                    except RuntimeError as e:
                        assert "no behaviour is in flight" in str(e), e
                        refused[0] += 1
                        continue
                    if not (isinstance(v, list) and len(v) == 100 and len(set(v)) == 1):
                        problems.append(v)
        def schedule():
            for c in cowns:
                @boc.when(c)
                def bump(c):
                    c.value = [c.value[0] + 1] * 100
        reader = threading.Thread(target=read)
        reader.start()
        schedule()
        reader.join()
        boc.wait()
        print("problems", len(problems), "final", sorted({c.value[0] for c in cowns}))
        """
    )
    assert_clean_end(status, err)
    assert "problems 0 final [1]" in out


@needs_subinterpreters
def test_fork_while_another_thread_reads_values_from_sub_interpreters() -> None:
    """fork() destroys the pool's interpreters; a thread reading values that
    live there meanwhile gets them whole, before or after."""
    status, out, err = run_script(
        """
        import os, threading, time, warnings, boc
        warnings.simplefilter("ignore", DeprecationWarning)
        boc.start(executor="subinterpreters", workers=2)
        cowns = [boc.Cown(None) for _ in range(5000)]
        for c in cowns:
            @boc.when(c)
            def fill(c):
                c.value = [1, 2, 3]
        boc.wait()
        started = threading.Event()
        def read():
            started.set()
            for c in cowns:
                assert c.value == [1, 2, 3], c.value
        t = threading.Thread(target=read)
        t.start(); started.wait(); time.sleep(0.005)
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        t.join()
        print("read them all")
        """
    )
    assert_clean_end(status, err)
    assert "read them all" in out


@needs_subinterpreters
def test_fork_during_a_threads_run_after_a_subinterpreters_run() -> None:
    """A threads run enters no sub-interpreter: values that lived there left
    them when it started, and a fork() during it gives a healthy child."""
    status, out, err = run_script(
        """
        import os, warnings, boc
        warnings.simplefilter("ignore", DeprecationWarning)
        boc.start(executor="subinterpreters", workers=2)
        cowns = [boc.Cown(None) for _ in range(50)]
        for c in cowns:
            @boc.when(c)
            def fill(c):
                c.value = {"x": [1, 2]}
        boc.wait()
        boc.start(executor="threads", workers=2)
        pid = os.fork()
        if pid == 0:
            os.write(1, f"child sees {cowns[0].value}\\n".encode())
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        boc.wait()
        print("parent sees", cowns[-1].value, "child status", os.waitstatus_to_exitcode(status))
        """
    )
    assert_clean_end(status, err)
    assert "child sees {'x': [1, 2]}" in out
    assert "parent sees {'x': [1, 2]} child status 0" in out


@needs_subinterpreters
def test_values_holding_cowns_survive_forks_run_after_run() -> None:
    """Each fork() destroys the interpreters and the next run makes new ones
    (often at the same addresses): a value holding a cown leaves each
    generation intact."""
    status, out, err = run_script(
        """
        import os, warnings, boc
        warnings.simplefilter("ignore", DeprecationWarning)
        for generation in range(5):
            boc.start(executor="subinterpreters", workers=1)
            inner, outer = boc.Cown(generation), boc.Cown(None)
            @boc.when(outer, inner)
            def keep(outer, inner):
                outer.value = [inner, "a list, so it is pickled"]
            boc.wait()
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
            assert outer.value[0] is inner and inner.value == generation, outer.value
        print("five generations")
        """
    )
    assert_clean_end(status, err)
    assert "five generations" in out


@needs_subinterpreters
def test_code_that_a_move_runs_cannot_use_the_value_being_moved() -> None:
    """A __setstate__ that reads the very cown whose value it is unpickling
    gets a RuntimeError saying why, and the value is still there after."""
    status, out, err = run_script(
        """
        import boc
        boc.start(executor="subinterpreters", workers=1)
        c = boc.Cown(None)
        peeked = []
        class Nosy:
            def __setstate__(self, state):
                self.__dict__.update(state)
                if not peeked:
                    try:
                        peeked.append(c.value)
                    except RuntimeError as e:
                        peeked.append(str(e))
        @boc.when(c)
        def fill(c):
            n = Nosy(); n.a = 1
            c.value = [n, "x"]
        boc.wait()
        value = c.value
        print("peeked:", peeked[0])
        print("value:", type(value[0]).__name__, value[0].a, value[1])
        """
    )
    assert_clean_end(status, err)
    assert "peeked: this cown's value is being moved between interpreters" in out
    assert "value: Nosy 1 x" in out
