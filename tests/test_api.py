"""The public API as a user writes it: Cown, @when, groups, results, nesting."""

from __future__ import annotations

import os
import threading

import pytest

import boc


def test_schedulers_lists_compiled_in_strategies_with_descriptions() -> None:
    """boc.schedulers() names every strategy with a one-line description."""
    found = boc.schedulers()
    assert isinstance(found, dict)
    assert "central" in found
    for name, description in found.items():
        assert isinstance(name, str) and name
        assert isinstance(description, str) and description.strip()
        assert "\n" not in description.strip()


def _default_scheduler() -> str:
    return "workstealing" if "workstealing" in boc.schedulers() else "central"


def test_start_without_arguments_uses_the_default_scheduler_and_one_worker_per_cpu() -> None:
    """start() picks workstealing if compiled in, else central, with one worker per CPU."""
    boc.start()
    report = boc.wait()
    assert report.scheduler == _default_scheduler()
    assert report.workers == (os.cpu_count() or 1)


def test_when_passes_cowns_in_the_order_given(scheduler: str) -> None:
    """The body gets the cowns in @when's order, not in acquisition (id) order."""
    boc.start(scheduler, workers=2)
    first, second, third = boc.Cown("a"), boc.Cown("b"), boc.Cown("c")

    @boc.when(third, first, second)
    def body(x: boc.Cown, y: boc.Cown, z: boc.Cown) -> tuple[bool, ...]:
        return (x is third, y is first, z is second, x.value + y.value + z.value == "cab")

    boc.wait()
    assert body.value == (True, True, True, True)


def test_when_returns_a_cown_holding_the_return_value(scheduler: str) -> None:
    """@when returns a Cown whose value is what the body returned; exception is None."""
    boc.start(scheduler, workers=2)
    account = boc.Cown(100)

    @boc.when(account)
    def deposit(account: boc.Cown) -> int:
        account.value += 10
        return account.value

    assert isinstance(deposit, boc.Cown)
    boc.wait()
    assert deposit.value == 110
    assert deposit.exception is None
    assert account.value == 110


def test_result_cown_feeds_a_later_when(scheduler: str) -> None:
    """A result cown can be passed to a later @when, which sees the finished value."""
    boc.start(scheduler, workers=2)
    a = boc.Cown(2)

    @boc.when(a)
    def doubled(a: boc.Cown) -> int:
        return a.value * 2

    @boc.when(doubled, a)
    def plus_one(d: boc.Cown, a: boc.Cown) -> int:
        return d.value + a.value + 1

    @boc.when(plus_one)
    def squared(p: boc.Cown) -> int:
        return p.value**2

    boc.wait()
    assert (doubled.value, plus_one.value, squared.value) == (4, 7, 49)


def test_groups_are_passed_as_lists(scheduler: str) -> None:
    """A list or tuple argument of @when arrives as one list of those cowns."""
    boc.start(scheduler, workers=2)
    a, b, c, d, e = (boc.Cown(i) for i in range(5))

    @boc.when([a, b], (c, d), e)
    def body(g1: list, g2: list, single: boc.Cown) -> tuple:
        assert type(g1) is list and type(g2) is list
        assert g1[0] is a and g1[1] is b and g2[0] is c and g2[1] is d and single is e
        total = sum(x.value for x in g1 + g2) + single.value
        for x in g1 + g2 + [single]:
            x.value += 10
        return len(g1), len(g2), total

    boc.wait()
    assert body.exception is None
    assert body.value == (2, 2, 10)
    assert [x.value for x in (a, b, c, d, e)] == [10, 11, 12, 13, 14]


def test_empty_group_is_passed_as_empty_list(scheduler: str) -> None:
    """when([]) schedules a behaviour whose argument is an empty list."""
    boc.start(scheduler, workers=2)
    result = boc.when([])(lambda group: group)
    boc.wait()
    assert result.value == []



def test_a_body_changing_its_group_list_does_not_change_the_decorator(scheduler: str) -> None:
    """Each behaviour gets its own group list: a body that empties it or adds
    a non-cown leaves the decorator's cowns as given for its next use."""
    boc.start(scheduler, workers=2)
    a, b = boc.Cown(1), boc.Cown(2)
    schedule = boc.when([a, b])

    def vandal(group: list) -> int:
        total = sum(c.value for c in group)
        group.clear()
        group.append("not a cown")
        return total

    first = schedule(vandal)
    boc.wait()
    boc.start(scheduler, workers=2)
    second = schedule(vandal)
    boc.wait()
    assert (first.exception, second.exception) == (None, None)
    assert (first.value, second.value) == (3, 3)

def test_duplicate_cown_is_acquired_once_and_passed_twice(scheduler: str) -> None:
    """Naming one cown twice (also inside a group) neither deadlocks nor copies it."""
    boc.start(scheduler, workers=2)
    a, b = boc.Cown(0), boc.Cown(0)

    @boc.when(a, a)
    def twice(x: boc.Cown, y: boc.Cown) -> bool:
        x.value += 1
        y.value += 1
        return x is y is a

    @boc.when([a, b], a, [b, b])
    def grouped(g: list, x: boc.Cown, h: list) -> bool:
        x.value += 1
        return g[0] is x and g[1] is h[0] is h[1] is b

    boc.wait()
    assert twice.value is True
    assert grouped.value is True
    assert a.value == 3


def test_default_parameters_capture_values_at_scheduling_time(scheduler: str) -> None:
    """Extra parameters with defaults are allowed and keep the value they had when scheduled."""
    boc.start(scheduler, workers=2)
    log = boc.Cown([])
    for i in range(20):

        @boc.when(log)
        def append(log: boc.Cown, i: int = i, tag: str = "x") -> None:
            log.value.append((i, tag))

    boc.wait()
    assert log.value == [(i, "x") for i in range(20)]


def test_varargs_body_accepts_any_number_of_cowns(scheduler: str) -> None:
    """A body with *args takes every argument of @when, groups included."""
    boc.start(scheduler, workers=2)
    a, b, c = boc.Cown(1), boc.Cown(2), boc.Cown(3)

    @boc.when(a, b, [c])
    def star(*args: object) -> list:
        return [type(x).__name__ for x in args]

    @boc.when(a)
    def head_and_rest(first: boc.Cown, *rest: boc.Cown) -> tuple:
        return first.value, rest

    @boc.when()
    def nothing(*rest: boc.Cown) -> int:
        return len(rest)

    boc.wait()
    assert star.value == ["Cown", "Cown", "list"]
    assert head_and_rest.value == (1, ())
    assert nothing.value == 0


def test_when_with_no_cowns_runs_the_body(scheduler: str) -> None:
    """@when() with no cowns still runs the body once and stores its result."""
    boc.start(scheduler, workers=2)
    results = [boc.when()(lambda i=i: i * i) for i in range(10)]
    report = boc.wait()
    assert [r.value for r in results] == [i * i for i in range(10)]
    assert report.total("behaviors_run") == 10


def test_methods_and_callable_objects_can_be_bodies(scheduler: str) -> None:
    """Bound methods and objects with __call__ are checked and called like functions."""
    boc.start(scheduler, workers=2)
    a = boc.Cown(5)

    class Adder:
        def __init__(self, k: int) -> None:
            self.k = k

        def add(self, c: boc.Cown) -> int:
            c.value += self.k
            return c.value

        def __call__(self, c: boc.Cown) -> int:
            return c.value * 10

    first = boc.when(a)(Adder(3).add)
    second = boc.when(a)(Adder(0))
    boc.wait()
    assert (first.value, second.value) == (8, 80)


def test_when_from_a_non_main_thread(scheduler: str) -> None:
    """A thread other than the main one can schedule behaviours."""
    boc.start(scheduler, workers=2)
    a = boc.Cown(0)
    results: list[boc.Cown] = []

    def schedule() -> None:
        for _ in range(50):

            @boc.when(a)
            def inc(a: boc.Cown) -> int:
                a.value += 1
                return threading.get_ident()

            results.append(inc)

    t = threading.Thread(target=schedule)
    t.start()
    t.join()
    boc.wait()
    assert a.value == 50
    assert len(results) == 50
    assert all(r.exception is None for r in results)
    assert threading.get_ident() not in {r.value for r in results}  # bodies ran on workers


def test_nested_when_uses_free_variables_of_the_enclosing_body(scheduler: str) -> None:
    """A behaviour can schedule behaviours whose bodies close over its locals."""
    boc.start(scheduler, workers=2)
    a, b = boc.Cown(3), boc.Cown(4)

    @boc.when(a)
    def outer(a: boc.Cown) -> boc.Cown:
        base = a.value * 100
        label = "nested"

        @boc.when(b)
        def inner(b: boc.Cown) -> tuple:
            b.value += base
            return label, b.value

        return inner

    boc.wait()
    assert outer.exception is None
    inner = outer.value
    assert isinstance(inner, boc.Cown)
    assert inner.value == ("nested", 304)
    assert b.value == 304


def test_nested_behaviour_on_a_held_cown_runs_after_its_parent(scheduler: str) -> None:
    """A behaviour scheduled on a cown its parent holds waits for the parent to finish."""
    boc.start(scheduler, workers=2)
    a = boc.Cown("start")

    @boc.when(a)
    def outer(a: boc.Cown) -> None:
        @boc.when(a)
        def inner(a: boc.Cown) -> None:
            a.value = ("inner saw", a.value)

        a.value = "parent finished"  # after scheduling inner, still before it may run

    boc.wait()
    assert outer.exception is None
    assert a.value == ("inner saw", "parent finished")


def test_deeply_nested_behaviours_all_run(scheduler: str) -> None:
    """Behaviours scheduled from behaviours, several levels deep, all run."""
    boc.start(scheduler, workers=2)
    counter = boc.Cown(0)

    def spawn(depth: int) -> None:
        @boc.when(counter)
        def node(c: boc.Cown) -> None:
            c.value += 1
            if depth > 0:
                spawn(depth - 1)
                spawn(depth - 1)

    spawn(7)
    report = boc.wait()
    assert counter.value == 2**8 - 1
    assert report.total("behaviors_run") == 2**8 - 1


def test_value_usable_outside_behaviours_when_nothing_is_in_flight(scheduler: str) -> None:
    """value can be read and assigned before start, after quiesce and after wait."""
    c = boc.Cown(1)
    c.value = 2  # before start
    boc.start(scheduler, workers=2)

    @boc.when(c)
    def inc(c: boc.Cown) -> None:
        c.value += 1

    boc.quiesce()
    assert c.value == 3
    c.value = 10  # after quiesce, workers still running

    @boc.when(c)
    def inc_again(c: boc.Cown) -> None:
        c.value += 1

    boc.wait()
    assert c.value == 11
    c.value = 0  # after wait
    assert c.value == 0
    assert c.exception is None  # a cown no body raised into


def test_when_before_start_starts_the_runtime_with_defaults() -> None:
    """The first @when starts the runtime with the default scheduler and one worker per CPU."""
    default = _default_scheduler()
    a = boc.Cown(1)
    result = boc.when(a)(lambda a: a.value + 1)
    boc.start(default)  # same configuration as the implicit start: a no-op
    report = boc.wait()
    assert result.value == 2
    assert report.scheduler == default
    assert report.workers == (os.cpu_count() or 1)


def test_body_exception_is_stored_in_the_result_cown(scheduler: str) -> None:
    """A body that raises gives a result cown whose value and exception are the exception."""
    boc.start(scheduler, workers=2)
    a = boc.Cown(0)

    @boc.when(a)
    def fails(a: boc.Cown) -> None:
        a.value = 1
        raise KeyError("boom")

    @boc.when(fails)
    def inspect_it(f: boc.Cown) -> tuple:
        return type(f.value).__name__, f.exception is f.value

    with pytest.raises(ExceptionGroup):
        boc.wait()
    assert isinstance(fails.exception, KeyError)
    assert fails.value is fails.exception
    assert inspect_it.value == ("KeyError", True)
    assert inspect_it.exception is None
    assert a.value == 1  # the body's effects before the raise are kept


def test_cown_repr_and_id_identify_the_cown() -> None:
    """repr() of a Cown works (tracebacks, debugging) and ids tell cowns apart."""
    a, b = boc.Cown(1), boc.Cown(1)
    assert isinstance(a.id, int) and a.id != b.id
    assert str(a.id) in repr(a)
    assert repr(a) != repr(b)


def test_none_is_a_valid_cown_value(scheduler: str) -> None:
    """A cown can be created with, assigned and return None, inside and outside behaviours."""
    c = boc.Cown(None)
    assert c.value is None
    c.value = 1
    c.value = None
    assert c.value is None
    boc.start(scheduler, workers=2)

    @boc.when(c)
    def clear(c: boc.Cown) -> None:
        c.value = "set"
        c.value = None

    boc.wait()
    assert c.value is None
    assert clear.value is None and clear.exception is None


def test_import_boc_does_not_load_pandas() -> None:
    """pandas is only needed by RunReport.to_frame() and the experiments."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "import sys, boc; print('pandas' in sys.modules)"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_cown_is_a_generic_alias_for_type_hints() -> None:
    """boc.Cown[int] works in annotations, as written for the reference runtime."""
    import typing

    def transfer(c: boc.Cown[int], group: list[boc.Cown[str]]) -> boc.Cown[int]:
        return c

    alias = boc.Cown[int]
    assert typing.get_origin(alias) is boc.Cown
    assert typing.get_args(alias) == (int,)
    assert typing.get_type_hints(transfer)["c"] == boc.Cown[int]
    assert isinstance(boc.Cown(1), typing.get_origin(alias))


def test_version_comes_from_the_installed_metadata() -> None:
    """boc.__version__ is the installed distribution's version and is exported."""
    from importlib import metadata

    assert boc.__version__ == metadata.version("boc")
    assert "__version__" in boc.__all__
