"""executor="subinterpreters": what a user may write, how values move, what is refused.

Each worker runs its bodies in a sub-interpreter of its own (CPython 3.12+).
Bodies, their captures and cown values cross between interpreters; these
tests check that they arrive as the user wrote them, that the moves are
counted, and that what cannot cross is refused with a clear error.
"""

from __future__ import annotations

import functools
import re
import sys
import time

import pytest

import boc
from support import assert_clean_end, run_script

pytestmark = pytest.mark.executor("subinterpreters")

# Module-level state a body in a worker changes: the worker imports this
# module (by name) once and keeps it, so the count goes on across behaviours.
calls = 0


def count_calls(c: boc.Cown) -> int:
    global calls
    calls += 1
    return calls


def module_level(c: boc.Cown, amount: int = 1) -> str:
    c.value += amount
    return __name__


class Doubler:
    """A picklable callable object and a source of bound methods."""

    def __init__(self, factor: int) -> None:
        self.factor = factor

    def __call__(self, c: boc.Cown) -> int:
        c.value *= self.factor
        return c.value

    def scale(self, c: boc.Cown) -> int:
        c.value *= self.factor
        return c.value


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


# ---------------------------------------------------------------- what travels


def test_every_kind_of_body_runs_in_a_worker(scheduler: str) -> None:
    """Module-level functions, lambdas, closures, default captures, partials,
    bound methods and callable objects all run, with what they captured when
    they were scheduled."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(1)
    step = 10

    def closure(c: boc.Cown) -> int:
        c.value += step  # a free variable of the enclosing test
        return c.value

    results = [
        boc.when(c)(module_level),
        boc.when(c)(lambda c: module_level(c, 100)),
        boc.when(c)(closure),
        boc.when(c)(lambda c, amount=step * 2: module_level(c, amount)),
        boc.when(c)(functools.partial(module_level, amount=1000)),
        boc.when(c)(Doubler(2).scale),
        boc.when(c)(Doubler(3)),
    ]
    step = -1  # captures were taken at scheduling time
    boc.wait()
    assert [r.exception for r in results] == [None] * len(results)
    assert results[0].value == __name__  # the module's own globals, by import
    assert c.value == ((1 + 1 + 100 + 10 + 20 + 1000) * 2) * 3


def test_each_behaviour_of_a_body_sees_its_own_captures(scheduler: str) -> None:
    """A worker reuses the function object of a body whose last behaviour left
    it unshared; each behaviour still sees what it captured, and a closure a
    body hands out keeps the values it closed over."""
    boc.start(scheduler, workers=1)
    c = boc.Cown(0)

    def schedule(k: int) -> tuple[boc.Cown, boc.Cown]:
        @boc.when(c)
        def doubled(c: boc.Cown) -> int:
            return k * 2

        @boc.when(c)
        def keeps(c: boc.Cown, scale: int = k) -> object:
            return lambda: (k, scale)  # shares the cell of k with the body

        return doubled, keeps

    results = [schedule(k) for k in range(20)]
    boc.wait()
    assert [d.value for d, _ in results] == [k * 2 for k in range(20)]
    assert [keep.value() for _, keep in results] == [(k, k) for k in range(20)]


def test_a_function_travels_once_per_worker_and_keeps_its_globals(scheduler: str) -> None:
    """A worker imports the body's module once: module state lives on there."""
    boc.start(scheduler, workers=1)
    c = boc.Cown(None)
    results = [boc.when(c)(count_calls) for _ in range(5)]
    boc.wait()
    values = [r.value for r in results]
    assert values == list(range(values[0], values[0] + 5))
    assert calls == 0  # the main interpreter's module was never touched


def test_nested_behaviours_with_closures_inside_workers(scheduler: str) -> None:
    """A body schedules children that close over its locals and its cowns; the
    children run (in any worker) and see what was captured."""
    boc.start(scheduler, workers=2)
    total = boc.Cown(0)
    seeds = [boc.Cown(i) for i in range(8)]

    @boc.when(seeds)
    def parent(seeds: list[boc.Cown]) -> list[boc.Cown]:
        children = []
        for s in seeds:
            bonus = s.value * 100

            @boc.when(s, total)
            def child(s: boc.Cown, total: boc.Cown, bonus: int = bonus) -> int:
                total.value += s.value + bonus
                return bonus

            children.append(child)
        return children

    boc.wait()
    children = parent.value
    assert all(isinstance(ch, boc.Cown) for ch in children)  # cowns made in a worker come back as cowns
    assert [ch.value for ch in children] == [i * 100 for i in range(8)]
    assert total.value == sum(i + i * 100 for i in range(8))


def test_values_of_any_picklable_type_move_and_come_back(scheduler: str) -> None:
    """Lists, dicts, sets, instances of user classes and nested cowns: a body
    changes them in place, and the main thread reads the result after wait()."""
    boc.start(scheduler, workers=2)
    inner = boc.Cown("inner")
    c = boc.Cown({"list": [1, 2], "set": {3}, "point": Point(1, 2), "cown": inner, "big": 2**80})

    @boc.when(c)
    def change(c: boc.Cown) -> None:
        c.value["list"].append(3)
        c.value["set"].add(4)
        c.value["point"].x = 10
        c.value["big"] += 1

    @boc.when(c)
    def schedule_on_inner(c: boc.Cown) -> None:
        @boc.when(c.value["cown"])
        def shout(inner: boc.Cown) -> None:
            inner.value = inner.value.upper()

    boc.wait()
    assert c.value["list"] == [1, 2, 3] and c.value["set"] == {3, 4}
    assert c.value["point"] == Point(10, 2) and c.value["big"] == 2**80 + 1
    assert c.value["cown"] is inner and inner.value == "INNER"


def test_a_cown_subclass_arrives_as_its_class_with_its_attributes(scheduler: str) -> None:
    """An instance of a Cown subclass reaches the body as an instance of that
    class, with the attributes it had when the behaviour was scheduled."""

    class Account(boc.Cown):
        def __init__(self, balance: int, currency: str) -> None:
            super().__init__(balance)
            self.currency = currency

        def describe(self) -> str:
            return f"{self.value} {self.currency}"

    boc.start(scheduler, workers=2)
    a, b = Account(10, "EUR"), Account(5, "GBP")

    @boc.when(a, [b])
    def body(a: Account, group: list[Account]) -> tuple[str, ...]:
        a.value += 1
        return type(a).__name__, a.describe(), group[0].describe()

    a.currency = "USD"  # after scheduling: the body saw EUR
    boc.wait()
    assert body.value == ("Account", "11 EUR", "5 GBP")
    assert a.currency == "USD" and a.value == 11


def test_a_script_run_as_main_sends_its_functions_and_classes_by_value() -> None:
    """Bodies and value classes defined in __main__ (which a worker cannot
    import) reach the workers, with the globals they use; a value that comes
    back is an instance of the program's own class, whose methods still see
    the program's globals."""
    status, out, err = run_script(
        """
        import boc
        boc.start(workers=2, executor="subinterpreters")
        RATE = 3

        class Wallet:
            def __init__(self, coins):
                self.coins = coins
            def grow(self):
                self.coins = helper(self.coins)

        def helper(n):
            return n * RATE

        c = boc.Cown(Wallet(2))

        @boc.when(c)
        def grow(c):
            c.value.grow()
            return type(c.value).__name__

        boc.wait()
        wallet = c.value
        print("coins", wallet.coins, grow.value, type(wallet) is Wallet)
        RATE = 10
        wallet.grow()
        print("after RATE = 10:", wallet.coins)
        """
    )
    assert_clean_end(status, err)
    assert "coins 6 Wallet True" in out
    assert "after RATE = 10: 60" in out


# ---------------------------------------------------------------- exceptions


class Unpicklable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.handle = lambda: None  # a lambda attribute: pickle refuses it

    def __reduce__(self):  # type: ignore[no-untyped-def]
        raise TypeError("this exception does not pickle")


def test_exceptions_arrive_with_their_type_message_and_traceback_text(scheduler: str) -> None:
    """The result cown and wait()'s group hold the same exception, of the type
    raised, with the worker's traceback as a note; one that does not pickle
    arrives as a RuntimeError carrying its type, message and traceback."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)

    @boc.when(c)
    def raises_key_error(c: boc.Cown) -> None:
        {}["missing"]

    @boc.when(c)
    def raises_unpicklable(c: boc.Cown) -> None:
        raise Unpicklable("no way back")

    with pytest.raises(ExceptionGroup) as info:
        boc.wait()
    key_error, stand_in = info.value.exceptions
    assert raises_key_error.exception is key_error
    assert type(key_error) is KeyError and key_error.args == ("missing",)
    assert "in raises_key_error" in key_error.__notes__[0]
    assert type(stand_in) is RuntimeError
    assert "Unpicklable: no way back" in str(stand_in)
    assert any("in raises_unpicklable" in note for note in stand_in.__notes__)


# ---------------------------------------------------------------- value moves


def test_value_moves_are_counted_per_worker(scheduler: str) -> None:
    """A value moves into a worker once; later behaviours there find it local;
    reading it from the main thread and using it again moves it again."""
    boc.start(scheduler, workers=1)
    c = boc.Cown(list(range(100)))
    for _ in range(5):
        boc.when(c)(lambda c: c.value.append(len(c.value)))
    boc.quiesce()
    (stats,) = boc.stats()
    assert stats["values_moved_in"] == 1
    assert stats["values_found_local"] == 4
    assert stats["bytes_moved_in"] > 100  # the pickled list
    assert len(c.value) == 105  # moves it into the main interpreter, not counted
    boc.when(c)(lambda c: c.value.pop())
    report = boc.wait()
    assert report.executor == "subinterpreters"
    assert report.total("values_moved_in") == 2
    assert c.value == list(range(104))


def test_small_immutable_values_are_copied_without_pickling(scheduler: str) -> None:
    """Numbers, strings, bytes and tuples of them cross as copies of their bytes."""
    boc.start(scheduler, workers=1)
    c = boc.Cown((1, 2.5, "é", b"\x00", None, True, -(2**63)))
    boc.when(c)(lambda c: c.value)
    report = boc.wait()
    assert report.total("values_moved_in") == 1
    assert report.total("bytes_moved_in") == 8 + 8 + 1 + 1 + 8  # the str in its 1-byte form
    assert c.value == (1, 2.5, "é", b"\x00", None, True, -(2**63))


# ---------------------------------------------------------------- refused


def test_a_body_capturing_what_cannot_travel_is_refused_at_when(scheduler: str) -> None:
    """TypeError naming the body and the type, nothing scheduled, the runtime
    still usable."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)
    lock = __import__("threading").Lock()
    with pytest.raises(TypeError, match=r"<lambda>' captures 'lock', a lock, which cannot be sent.*executor=\"threads\" accepts it"):
        boc.when(c)(lambda c: lock.locked())
    boc.when(c)(lambda c: setattr(c, "value", c.value + 1))
    report = boc.wait()
    assert c.value == 1 and report.total("behaviors_run") == 1


def test_a_value_that_cannot_move_fails_the_behaviour_that_needs_it(scheduler: str) -> None:
    """A value that does not pickle stays where it is; the behaviour that would
    move it gets a TypeError naming its type, and the rest goes on."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(__import__("threading").Lock())
    ok = boc.Cown(0)
    failed = boc.when(c)(lambda c: c.value.locked())
    boc.when(ok)(lambda ok: setattr(ok, "value", 1))
    with pytest.raises(ExceptionGroup) as info:
        boc.wait()
    (error,) = info.value.exceptions
    assert error is failed.exception and type(error) is TypeError
    assert "lock" in str(error) and 'executor="threads" accepts it' in str(error)
    assert ok.value == 1
    assert c.value.locked() is False  # still the lock, in the main interpreter


def test_an_extension_that_refuses_subinterpreters_names_itself() -> None:
    """numpy does not load in a sub-interpreter: the behaviour's exception says
    which module refused and to use executor="threads"; the run goes on."""
    pytest.importorskip("numpy")
    status, out, err = run_script(
        """
        import boc
        boc.start(workers=2, executor="subinterpreters")
        c = boc.Cown(1)

        @boc.when(c)
        def uses_numpy(c):
            import numpy
            return numpy.zeros(3)

        @boc.when(c)
        def after(c):
            return c.value + 1

        try:
            boc.wait()
        except ExceptionGroup as group:
            (e,) = group.exceptions
            print("refused:", type(e).__name__, e.__notes__[-1])
        print("after:", after.value)
        """
    )
    assert_clean_end(status, err)
    assert "refused: ImportError boc: the extension module numpy." in out
    assert 'executor="threads"' in out
    assert "after: 2" in out


# ---------------------------------------------------------------- lifetime


def test_200_start_stop_cycles_do_not_grow_memory_without_bound() -> None:
    """Interpreters are made once and reused by later runs: 200 runs of 2
    workers grow the process by little more than the first 20 did."""
    status, out, err = run_script(
        """
        import boc, resource

        def rss_mb():
            with open("/proc/self/status") as f:
                return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024

        def cycle():
            boc.start("central", workers=2, executor="subinterpreters")
            c = boc.Cown([1, 2, 3])
            for _ in range(10):
                boc.when(c)(lambda c: c.value.append(c.value.pop(0)))
            boc.wait()

        for _ in range(20):
            cycle()
        after_20 = rss_mb()
        for _ in range(180):
            cycle()
        print("growth MB", round(rss_mb() - after_20, 1))
        """,
        timeout=300,
    )
    assert_clean_end(status, err)
    growth = float(out.split("growth MB")[1])
    assert growth < 20, out  # a new interpreter per run would take about 2 MB each


def test_fork_after_wait_keeps_values_and_the_child_runs_its_own() -> None:
    """A fork() outside a run: the parent's interpreters are set aside first
    (their values brought home), and the child starts runs of its own."""
    status, out, err = run_script(
        """
        import os, warnings, boc
        warnings.simplefilter("ignore", DeprecationWarning)
        boc.start(workers=2, executor="subinterpreters")
        c = boc.Cown([1])
        boc.when(c)(lambda c: c.value.append(2))
        boc.wait()
        pid = os.fork()
        if pid == 0:
            boc.start(workers=2, executor="subinterpreters")
            boc.when(c)(lambda c: c.value.append("child"))
            boc.wait()
            os.write(1, f"child {c.value}\\n".encode())
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        boc.when(c)(lambda c: c.value.append("parent"))
        boc.wait()
        print("parent", c.value, "child status", os.waitstatus_to_exitcode(status))
        """
    )
    assert_clean_end(status, err)
    assert "child [1, 2, 'child']" in out
    assert "parent [1, 2, 'parent'] child status 0" in out


def test_fork_during_a_run_says_why_the_child_will_not_survive() -> None:
    """CPython cannot yet fork a process with sub-interpreters: the parent is
    told why, and it goes on with its run."""
    status, out, err = run_script(
        """
        import os, signal, time, warnings, boc
        warnings.simplefilter("ignore", DeprecationWarning)
        boc.start(workers=2, executor="subinterpreters")
        c = boc.Cown(0)
        boc.when(c)(lambda c: __import__("time").sleep(0.5))
        time.sleep(0.1)
        pid = os.fork()
        if pid == 0:
            os._exit(0)  # if it gets that far: CPython crashes or hangs the child first
        time.sleep(0.5)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        boc.when(c)(lambda c: setattr(c, "value", 1))
        boc.wait()
        print("parent went on", c.value)
        """
    )
    assert status == 0, err
    assert "parent went on 1" in out
    assert "CPython cannot yet fork a process that has sub-interpreters" in err


@pytest.mark.executor("threads")  # the only one there
@pytest.mark.skipif("subinterpreters" in boc.executors(), reason="sub-interpreters with their own lock exist here")
def test_subinterpreters_where_there_are_none_is_a_value_error() -> None:
    """CPython 3.11, or a free-threaded CPython: the ValueError says why, and
    names the executors this interpreter has."""
    why = boc.unavailable_executors()["subinterpreters"]
    expected = "needs CPython 3.12" if sys.version_info < (3, 12) else "free-threaded"
    assert expected in why
    with pytest.raises(ValueError, match=re.escape(why) + "; available in this interpreter: threads$"):
        boc.start(executor="subinterpreters")
