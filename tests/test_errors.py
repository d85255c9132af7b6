"""Bad input gets a clear error, schedules nothing and leaves the runtime usable;
behaviour exceptions never stop the runtime and are never lost."""

from __future__ import annotations

import asyncio
import functools
import math
import os
import re
import threading
from typing import Any, Callable

import pytest

import boc
import boc.native


def _still_works_and_nothing_was_scheduled(
    scheduler: str, cown: boc.Cown, expected_value: Any, earlier: int = 0
) -> None:
    """After a rejected call: one good behaviour runs, and with the ``earlier``
    good ones it is all that ran in this run."""

    @boc.when(cown)
    def good(c: boc.Cown) -> str:
        return "ran"

    report = boc.wait()
    assert good.value == "ran"
    assert report.scheduler == scheduler
    assert report.total("behaviors_run") == earlier + 1
    assert report.errors == []
    assert cown.value == expected_value


# ---------------------------------------------------------------- when(...)

_BAD_WHEN_ARGS: dict[str, Callable[[boc.Cown], tuple]] = {
    "int": lambda c: (1,),
    "str": lambda c: ("cown",),
    "none": lambda c: (None,),
    "int after a cown": lambda c: (c, 3),
    "list holding an int": lambda c: ([c, 1],),
    "tuple holding a str": lambda c: ((c, "x"),),
    "nested group": lambda c: ([[c]],),
    "dict": lambda c: ({"a": c},),
    "set of cowns": lambda c: ({c},),
}


@pytest.mark.parametrize("make_args", _BAD_WHEN_ARGS.values(), ids=_BAD_WHEN_ARGS.keys())
def test_when_rejects_non_cown_arguments_before_a_function_is_given(
    scheduler: str, make_args: Callable[[boc.Cown], tuple]
) -> None:
    """when(...) raises TypeError itself for a non-cown argument; nothing is scheduled."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)
    with pytest.raises(TypeError, match="Cown"):
        boc.when(*make_args(c))
    _still_works_and_nothing_was_scheduled(scheduler, c, 0)


def test_when_used_without_parentheses_explains_the_fix(scheduler: str) -> None:
    """Writing @boc.when without (...) raises a TypeError that says how to write it."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)
    with pytest.raises(TypeError, match=r"@when\(\.\.\.\)"):

        @boc.when
        def body(c: boc.Cown) -> None:
            pass

    _still_works_and_nothing_was_scheduled(scheduler, c, 0)


def test_bad_when_before_start_does_not_start_the_runtime(scheduler: str) -> None:
    """A rejected @when does not start the runtime with defaults as a side effect."""
    c = boc.Cown(0)
    with pytest.raises(TypeError):
        boc.when(c, "not a cown")
    with pytest.raises(TypeError):
        boc.when(c)(lambda: None)
    # Had either call started the runtime with defaults, this other
    # configuration would raise RuntimeError.
    boc.start(scheduler, workers=(os.cpu_count() or 1) + 1)
    _still_works_and_nothing_was_scheduled(scheduler, c, 0)


def _none() -> None:
    pass


def _two(a: Any, b: Any) -> None:
    pass


def _one_and_optional(a: Any, b: Any = 1) -> None:
    pass


def _two_required_and_optional(a: Any, b: Any, c: Any = 1) -> None:
    pass


def _keyword_only(a: Any, *, flag: Any) -> None:
    pass


def _varargs_needing_two(a: Any, b: Any, *rest: Any) -> None:
    pass


async def _async_body(a: Any) -> None:
    pass


class _NeedsTwo:
    def __call__(self, a: Any, b: Any) -> None:
        pass


_MISMATCHES: dict[str, tuple[int, Any]] = {
    # name: (number of cowns given to when, the function)
    "no params for one cown": (1, _none),
    "two params for one cown": (1, _two),
    "one param for two cowns": (2, lambda a: None),
    "two params for no cowns": (0, _two),
    "optional param is not enough": (3, _one_and_optional),
    "defaults do not cover a missing cown": (1, _two_required_and_optional),
    "keyword-only without default": (1, _keyword_only),
    "varargs still needs its required params": (1, _varargs_needing_two),
    "async function": (1, _async_body),
    "callable object with wrong arity": (1, _NeedsTwo()),
    "bound method with wrong arity": (3, _NeedsTwo().__call__),
    "not callable": (1, 42),
}


@pytest.mark.parametrize("count, fn", _MISMATCHES.values(), ids=_MISMATCHES.keys())
def test_arity_mismatch_is_a_type_error_and_schedules_nothing(scheduler: str, count: int, fn: Any) -> None:
    """A body that cannot take one positional argument per @when argument is refused."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)
    with pytest.raises(TypeError):
        boc.when(*[c] * count)(fn)
    _still_works_and_nothing_was_scheduled(scheduler, c, 0)


def test_a_group_counts_as_one_argument_for_arity(scheduler: str) -> None:
    """when([a, b]) passes one list, so a two-parameter body is refused."""
    boc.start(scheduler, workers=2)
    a, b = boc.Cown(0), boc.Cown(0)
    with pytest.raises(TypeError, match="1"):
        boc.when([a, b])(_two)
    _still_works_and_nothing_was_scheduled(scheduler, a, 0)


def test_arity_error_message_names_the_counts(scheduler: str) -> None:
    """The arity TypeError names the function and how many arguments @when passes."""
    boc.start(scheduler, workers=2)
    a = boc.Cown(0)
    with pytest.raises(TypeError) as info:
        boc.when(a, a, a)(_two)
    assert "_two" in str(info.value) and "3" in str(info.value)


def test_async_function_is_refused(scheduler: str) -> None:
    """An async def body is refused instead of producing a never-awaited coroutine."""
    boc.start(scheduler, workers=2)
    a = boc.Cown(0)
    with pytest.raises(TypeError, match="async"):
        boc.when(a)(_async_body)
    assert asyncio.iscoroutinefunction(_async_body)
    _still_works_and_nothing_was_scheduled(scheduler, a, 0)


def _generator_body(a: Any) -> Any:
    yield a


async def _async_generator_body(a: Any) -> Any:
    yield a


class _AsyncCallable:
    async def __call__(self, a: Any) -> None:
        pass


class _AsyncMethods:
    async def method(self, a: Any) -> None:
        pass


_NOT_PLAIN: dict[str, Any] = {
    "generator function": _generator_body,
    "async generator function": _async_generator_body,
    "coroutine function through partial": functools.partial(_async_body),
    "coroutine function through nested partials": functools.partial(functools.partial(_async_body)),
    "generator function through partial": functools.partial(_generator_body),
    "object with an async __call__": _AsyncCallable(),
    "bound async method": _AsyncMethods().method,
}


@pytest.mark.parametrize("fn", _NOT_PLAIN.values(), ids=_NOT_PLAIN.keys())
def test_bodies_that_would_never_run_are_refused(scheduler: str, fn: Any) -> None:
    """A body whose call only makes a coroutine or generator is a TypeError at when() time."""
    boc.start(scheduler, workers=2)
    a = boc.Cown(0)
    with pytest.raises(TypeError, match="plain function"):
        boc.when(a)(fn)
    _still_works_and_nothing_was_scheduled(scheduler, a, 0)


def test_a_plain_function_through_partial_is_accepted(scheduler: str) -> None:
    """functools.partial of a plain function is a fine body."""
    boc.start(scheduler, workers=2)
    a = boc.Cown(0)
    result = boc.when(a)(functools.partial(lambda extra, c: extra + c.value, 5))
    boc.wait()
    assert result.value == 5


def test_none_as_the_body_is_a_type_error(scheduler: str) -> None:
    """when(c)(None) says a function is expected."""
    boc.start(scheduler, workers=2)
    a = boc.Cown(0)
    with pytest.raises(TypeError, match="decorates a function; got NoneType"):
        boc.when(a)(None)  # type: ignore[arg-type]
    _still_works_and_nothing_was_scheduled(scheduler, a, 0)


# ---------------------------------------------------------------- uninitialised cowns


class _SkipsInit(boc.Cown):
    def __init__(self, value: Any) -> None:  # forgets super().__init__(value)
        self.extra = value


def _uninitialised() -> dict[str, boc.Cown]:
    return {
        "subclass without super().__init__": _SkipsInit(1),
        "Cown.__new__ alone": boc.Cown.__new__(boc.Cown),
    }


@pytest.mark.parametrize("kind", list(_uninitialised()))
def test_uninitialised_cowns_are_type_errors_everywhere(scheduler: str, kind: str) -> None:
    """A cown whose __init__ never ran is refused by when() (alone or in a group)
    and by the native bodies, and its value and id say why; repr names it."""
    boc.start(scheduler, workers=2)
    bad, good = _uninitialised()[kind], boc.Cown(0)
    hint = "never initialised"
    for args in [(bad,), (good, bad), ([good, bad],), ((bad,),)]:
        with pytest.raises(TypeError, match=hint):
            boc.when(*args)
    with pytest.raises(TypeError, match=hint):
        boc.native.spin(good, bad)
    with pytest.raises(TypeError, match=hint):
        boc.native.fanout(bad, steps=1, children=1)
    with pytest.raises(TypeError, match=hint):
        bad.value
    with pytest.raises(TypeError, match=hint):
        bad.value = 1
    with pytest.raises(TypeError, match=hint):
        bad.id
    assert hint in repr(bad)
    if isinstance(bad, _SkipsInit):
        assert "super().__init__" in str(pytest.raises(TypeError, lambda: bad.value).value)
    _still_works_and_nothing_was_scheduled(scheduler, good, 0)


def test_a_subclass_that_initialises_the_cown_works(scheduler: str) -> None:
    """A Cown subclass that calls super().__init__ is a cown like any other."""

    class Account(boc.Cown):
        def __init__(self, balance: int) -> None:
            super().__init__(balance)
            self.currency = "EUR"

    boc.start(scheduler, workers=2)
    a = Account(10)
    boc.when(a)(lambda a: setattr(a, "value", a.value + a.currency.count("E")))
    boc.wait()
    assert a.value == 11
    assert repr(a).startswith("<") and "id=" in repr(a)


def test_cown_init_twice_is_a_type_error() -> None:
    """A cown is initialised once; calling __init__ again says so and changes nothing."""
    c = boc.Cown(1)
    identity = c.id
    with pytest.raises(TypeError, match="already initialised"):
        boc.Cown.__init__(c, 2)
    with pytest.raises(TypeError, match="needs a boc.Cown"):
        boc.Cown.__init__(object(), 2)  # type: ignore[arg-type]
    assert (c.value, c.id) == (1, identity)


# ---------------------------------------------------------------- integers out of range


@pytest.mark.parametrize("value", [2**64, 2**70, -(2**64)], ids=["2**64", "2**70", "-2**64"])
def test_option_values_beyond_64_bits_name_the_option(scheduler: str, value: int) -> None:
    """An option value too large for any integer type is a ValueError naming the option and its range."""
    for name, spec in boc.options(scheduler).items():
        with pytest.raises(ValueError, match=rf"option '{name}'.*\[{spec['min']}, {spec['max']}\].*{value}"):
            boc.start(scheduler, workers=2, **{name: value})
    with pytest.raises(ValueError, match="no_such_option"):
        boc.start(scheduler, workers=2, no_such_option=value)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda c: boc.native.spin(c, ns=2**64), "ns"),
        (lambda c: boc.native.spin(c, ns=-1), "ns"),
        (lambda c: boc.native.loop(c, times=2**64), "times"),
        (lambda c: boc.native.fanout(c, steps=1, children=2**64), "children"),
        (lambda c: boc.native.fanout(c, steps=1, children=1, child_ns=-(2**64)), "child_ns"),
    ],
    ids=["spin ns 2**64", "spin ns -1", "loop times 2**64", "fanout children 2**64", "fanout child_ns -2**64"],
)
def test_native_counts_out_of_range_name_the_argument(scheduler: str, call: Any, name: str) -> None:
    """Native bodies' counts outside 64 unsigned bits are ValueErrors saying what is accepted."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)
    with pytest.raises(ValueError, match=rf"{name} must be between \d+ and 18446744073709551615"):
        call(c)
    _still_works_and_nothing_was_scheduled(scheduler, c, 0)


# ---------------------------------------------------------------- start(...)


def test_unknown_scheduler_is_a_value_error_naming_the_available_ones(scheduler: str) -> None:
    """start('nope') raises ValueError listing every compiled-in scheduler; start still works."""
    with pytest.raises(ValueError) as info:
        boc.start("no-such-scheduler", workers=2)
    for name in boc.schedulers():
        assert name in str(info.value)
    boc.start(scheduler, workers=2)
    _still_works_and_nothing_was_scheduled(scheduler, boc.Cown(1), 1)


def test_unknown_scheduler_while_running_leaves_the_runtime_running(scheduler: str) -> None:
    """A bad start() while running raises and the running runtime is unchanged."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)
    with pytest.raises(ValueError):
        boc.start("no-such-scheduler", workers=2)
    with pytest.raises(ValueError):
        boc.start(scheduler, workers=2, no_such_option=1)
    _still_works_and_nothing_was_scheduled(scheduler, c, 0)


def test_scheduler_name_must_be_a_string() -> None:
    """A non-string scheduler is a TypeError."""
    with pytest.raises(TypeError):
        boc.start(3, workers=2)  # type: ignore[arg-type]


def test_unknown_option_is_a_value_error_naming_the_valid_ones(scheduler: str) -> None:
    """An option the strategy does not have is refused with the list of valid ones."""
    with pytest.raises(ValueError) as info:
        boc.start(scheduler, workers=2, no_such_option=1)
    message = str(info.value)
    assert "no_such_option" in message
    valid = boc.options(scheduler)
    for name in valid:
        assert name in message
    if not valid:
        assert "no options" in message
    boc.start(scheduler, workers=2)
    _still_works_and_nothing_was_scheduled(scheduler, boc.Cown(0), 0)


def test_option_values_are_range_and_type_checked(scheduler: str) -> None:
    """Each option accepts its min..max ints and refuses values outside or of other types."""
    opts = boc.options(scheduler)
    if not opts:
        pytest.skip(f"{scheduler} has no options")
    for name, spec in opts.items():
        assert spec["description"]
        assert spec["min"] <= spec["default"] <= spec["max"]
        with pytest.raises(TypeError):
            boc.start(scheduler, workers=2, **{name: str(spec["default"])})
        with pytest.raises(TypeError):
            boc.start(scheduler, workers=2, **{name: float(spec["default"])})
        with pytest.raises(ValueError):
            boc.start(scheduler, workers=2, **{name: spec["min"] - 1})
        if spec["max"] < 2**62:
            with pytest.raises(ValueError):
                boc.start(scheduler, workers=2, **{name: spec["max"] + 1})
        for value in {spec["min"], spec["max"], spec["default"]}:
            boc.start(scheduler, workers=2, **{name: value})
            c = boc.Cown(0)
            boc.when(c)(lambda c: None)
            report = boc.wait()
            assert report.options[name] == value
            assert report.total("behaviors_run") == 1


@pytest.mark.parametrize(
    "workers, error",
    [(0, ValueError), (-1, ValueError), (10**6, ValueError), (1.5, TypeError), ("2", TypeError), (True, TypeError)],
    ids=["zero", "negative", "huge", "float", "str", "bool"],
)
def test_workers_must_be_a_positive_int(scheduler: str, workers: Any, error: type) -> None:
    """start(workers=...) refuses anything but a positive int; start still works after."""
    with pytest.raises(error, match="workers"):
        boc.start(scheduler, workers=workers)
    boc.start(scheduler, workers=2)
    _still_works_and_nothing_was_scheduled(scheduler, boc.Cown(0), 0)


@pytest.mark.parametrize(
    "timeout, error",
    [(-1, ValueError), (-math.inf, ValueError), (math.nan, ValueError), ("1", TypeError), (True, TypeError)],
)
def test_bad_timeouts_are_refused(scheduler: str, timeout: Any, error: type) -> None:
    """quiesce() and wait() refuse negative or non-numeric timeouts and keep running."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)
    with pytest.raises(error):
        boc.quiesce(timeout)
    with pytest.raises(error):
        boc.wait(timeout)
    _still_works_and_nothing_was_scheduled(scheduler, c, 0)


# ---------------------------------------------------------------- cown access


def test_value_outside_a_behaviour_while_in_flight_is_a_runtime_error(scheduler: str, gate) -> None:
    """Reading or assigning a cown from outside while behaviours run raises RuntimeError."""
    boc.start(scheduler, workers=2)
    held, other = boc.Cown("held"), boc.Cown("other")
    result = gate.hold(held)
    assert gate.entered.wait(10)
    with pytest.raises(RuntimeError, match="in flight"):
        held.value
    with pytest.raises(RuntimeError):
        other.value  # any cown, not only one that is held
    with pytest.raises(RuntimeError):
        other.value = "changed"
    with pytest.raises(RuntimeError):
        result.exception
    from_thread: list[BaseException] = []

    def read() -> None:
        try:
            other.value
        except RuntimeError as e:
            from_thread.append(e)

    t = threading.Thread(target=read)
    t.start()
    t.join()
    assert len(from_thread) == 1
    gate.open()
    boc.quiesce()
    assert (held.value, other.value) == ("held", "other")  # the refused write did not land
    assert result.exception is None
    _still_works_and_nothing_was_scheduled(scheduler, held, "held", earlier=1)


def test_value_of_a_cown_the_behaviour_does_not_hold_is_a_runtime_error(scheduler: str) -> None:
    """Inside a behaviour, only the cowns of its own @when can be used."""
    boc.start(scheduler, workers=2)
    mine, theirs = boc.Cown(1), boc.Cown(2)

    @boc.when(mine)
    def read_other(mine: boc.Cown) -> Any:
        return theirs.value

    @boc.when(mine)
    def write_other(mine: boc.Cown) -> None:
        theirs.value = 99

    @boc.when(mine)
    def parent(mine: boc.Cown) -> None:
        @boc.when(theirs)
        def child(theirs: boc.Cown) -> Any:
            return mine.value  # held by the parent, not by the child

    with pytest.raises(ExceptionGroup) as info:
        boc.wait()
    assert len(info.value.exceptions) == 3
    assert all(isinstance(e, RuntimeError) for e in info.value.exceptions)
    assert isinstance(read_other.exception, RuntimeError)
    assert isinstance(write_other.exception, RuntimeError)
    assert parent.exception is None
    assert theirs.value == 2


@pytest.mark.parametrize("call", ["start", "quiesce", "wait"])
def test_blocking_calls_from_inside_a_behaviour_are_runtime_errors(scheduler: str, call: str) -> None:
    """start/quiesce/wait inside a behaviour raise RuntimeError instead of deadlocking."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)
    other_workers = 3 if call == "start" else None

    @boc.when(c)
    def body(c: boc.Cown) -> None:
        if call == "start":
            boc.start(scheduler, workers=other_workers)
        else:
            getattr(boc, call)()

    with pytest.raises(ExceptionGroup) as info:
        boc.wait()
    assert [type(e) for e in info.value.exceptions] == [RuntimeError]
    assert body.exception is info.value.exceptions[0]
    boc.start(scheduler, workers=2)
    _still_works_and_nothing_was_scheduled(scheduler, c, 0)


# ---------------------------------------------------------------- behaviour exceptions


def test_a_raising_behaviour_does_not_stop_the_runtime(scheduler: str) -> None:
    """Behaviours after a raising one still run, and new ones can be scheduled."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)

    @boc.when(c)
    def fails(c: boc.Cown) -> None:
        raise ValueError("first")

    for _ in range(10):

        @boc.when(c)
        def inc(c: boc.Cown) -> None:
            c.value += 1

    boc.quiesce()
    assert c.value == 10

    @boc.when(c)
    def later(c: boc.Cown) -> int:
        return c.value

    with pytest.raises(ExceptionGroup) as info:
        boc.wait()
    assert later.value == 10
    assert info.value.exceptions == (fails.exception,)
    assert info.value.report.total("behaviors_run") == 12


@pytest.mark.executor("threads")  # bodies append to a list of this interpreter
def test_wait_collects_every_behaviour_exception_in_an_exception_group(scheduler: str) -> None:
    """Exceptions from many behaviours (threads, nested, groups) all reach wait()'s group."""
    boc.start(scheduler, workers=2)
    cowns = [boc.Cown(i) for i in range(8)]
    results: list[boc.Cown] = []
    lock = threading.Lock()

    def schedule(tag: str, c: boc.Cown, i: int) -> None:
        @boc.when(c)
        def fails(c: boc.Cown) -> None:
            raise ValueError(f"{tag}-{i}")

        with lock:
            results.append(fails)

    for i, c in enumerate(cowns):
        schedule("main", c, i)

    threads = [threading.Thread(target=lambda k=k: [schedule(f"thread{k}", c, i) for i, c in enumerate(cowns)])
               for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    @boc.when(cowns)
    def parent(group: list) -> None:
        for i, c in enumerate(group):
            schedule("nested", c, i)
        raise LookupError("parent")

    with pytest.raises(ExceptionGroup) as info:
        boc.wait()
    group = info.value
    assert len(group.exceptions) == 8 * 5 + 1
    messages = sorted(str(e) for e in group.exceptions)
    expected = sorted([f"{tag}-{i}" for tag in ("main", "thread0", "thread1", "thread2", "nested") for i in range(8)]
                      + ["parent"])
    assert messages == expected
    by_id = {id(e) for e in group.exceptions}
    assert {id(r.exception) for r in results} | {id(parent.exception)} == by_id
    assert group.report.errors == list(group.exceptions)
    assert group.report.total("behaviors_run") == 8 * 5 + 1


def test_exceptions_survive_quiesce_and_a_timed_out_wait(scheduler: str, gate) -> None:
    """An exception raised before quiesce() or a timed-out wait() is still in the final group."""
    boc.start(scheduler, workers=2)
    c, d = boc.Cown(0), boc.Cown(0)

    @boc.when(c)
    def early(c: boc.Cown) -> None:
        raise ValueError("early")

    boc.quiesce()
    gate.hold(d)
    with pytest.raises(TimeoutError):
        boc.wait(timeout=0.05)

    @boc.when(c)
    def late(c: boc.Cown) -> None:
        raise ValueError("late")

    gate.open()
    with pytest.raises(ExceptionGroup) as info:
        boc.wait()
    assert sorted(str(e) for e in info.value.exceptions) == ["early", "late"]


def test_exception_keeps_its_traceback(scheduler: str, executor: str) -> None:
    """A collected exception's traceback points into the body that raised it:
    the traceback itself under executor="threads", its text in a note from a
    sub-interpreter (frames do not cross interpreters)."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)

    @boc.when(c)
    def raises_here(c: boc.Cown) -> None:
        raise ValueError("traced")

    with pytest.raises(ExceptionGroup) as info:
        boc.wait()
    (error,) = info.value.exceptions
    assert type(error) is ValueError and str(error) == "traced"
    if executor == "threads":
        tb = error.__traceback__
        assert tb is not None
        while tb.tb_next is not None:
            tb = tb.tb_next
        assert tb.tb_frame.f_code.co_name == "raises_here"
    else:
        (note,) = error.__notes__
        assert re.match(r"Raised in the sub-interpreter of worker \d+:\nTraceback \(most recent call last\):", note)
        assert f'File "{__file__}", line ' in note and ", in raises_here" in note
        assert note.endswith("ValueError: traced")


def test_base_exceptions_from_bodies_are_collected_too(scheduler: str) -> None:
    """A body raising SystemExit/KeyboardInterrupt neither kills the runtime nor gets lost."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)

    @boc.when(c)
    def exits(c: boc.Cown) -> None:
        raise SystemExit(3)

    @boc.when(c)
    def fails(c: boc.Cown) -> None:
        raise ValueError("ordinary")

    @boc.when(c)
    def after(c: boc.Cown) -> str:
        return "still running"

    with pytest.raises(BaseExceptionGroup) as info:
        boc.wait()
    assert after.value == "still running"
    assert {type(e) for e in info.value.exceptions} == {SystemExit, ValueError}
    assert isinstance(exits.exception, SystemExit)
    boc.start(scheduler, workers=2)
    _still_works_and_nothing_was_scheduled(scheduler, c, 0)


def test_the_decorator_takes_exactly_one_function(scheduler: str) -> None:
    """when(c)() or when(c)(f, g) or a keyword say what the decorator takes; nothing runs."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)
    decorate = boc.when(c)
    for call in (lambda: decorate(), lambda: decorate(_none, _none), lambda: decorate(fn=_none)):
        with pytest.raises(TypeError, match="takes one argument, the function"):
            call()
    with pytest.raises(TypeError, match="never initialised"):
        type(decorate).__new__(type(decorate))(_none)
    _still_works_and_nothing_was_scheduled(scheduler, c, 0)
