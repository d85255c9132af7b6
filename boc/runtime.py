"""The public runtime API: start, when, quiesce, wait, stats."""

from __future__ import annotations

import atexit
import math
import os
import sys
import traceback
from typing import Any, Callable

from boc import _core
from boc._core import Cown
from boc.report import RunReport
from boc.trace import Trace


_MAX_WORKERS = 1024
_SCHEDULERS: dict[str, dict[str, Any]] = _core.schedulers()
DEFAULT_SCHEDULER = "workstealing" if "workstealing" in _SCHEDULERS else "central"
_EXECUTORS: dict[str, str] = _core.executors()
_UNAVAILABLE_EXECUTORS: dict[str, str] = _core.unavailable_executors()
# The executor of a start() that names none: BOC_EXECUTOR if set, else threads.
DEFAULT_EXECUTOR = os.environ.get("BOC_EXECUTOR") or "threads"

# Counted per worker by the executor; zero under "threads", where every value
# stays in one interpreter.
_MOVE_COUNTERS = {
    "values_moved_in": "cown values a behaviour used that had to come from another interpreter",
    "bytes_moved_in": "bytes those values took in transit (pickled, or copied field by field)",
    "values_found_local": "cown values a behaviour used that were in this worker's interpreter already",
}

# Records each worker's trace ring keeps unless start() says otherwise: at 32
# bytes each, 8 MiB per worker (about 85,000 behaviours' worth).
DEFAULT_TRACE_EVENTS = 1 << 18

# After this long at interpreter exit, the exit hook says what it waits for.
_EXIT_NOTICE_S = 3.0


def schedulers() -> dict[str, str]:
    """Every compiled-in strategy: name -> one-line description."""
    return {name: info["description"] for name, info in _SCHEDULERS.items()}


def executors() -> dict[str, str]:
    """How Python bodies can run in this interpreter: name -> one-line description.

    ``"threads"`` (the default) runs bodies on the worker threads in this
    interpreter (in parallel on a free-threaded CPython, one at a time
    otherwise); ``"subinterpreters"`` (CPython 3.12+ with an interpreter
    lock) gives each worker a sub-interpreter with its own lock, so bodies
    run in parallel.
    """
    return dict(_EXECUTORS)


def unavailable_executors() -> dict[str, str]:
    """Executors boc has that this interpreter cannot run: name -> why not.

    ``"subinterpreters"`` needs CPython 3.12 or later with an interpreter
    lock; on a free-threaded CPython, ``"threads"`` runs bodies in parallel.
    """
    return dict(_UNAVAILABLE_EXECUTORS)


def executor_error(name: str) -> str | None:
    """Why ``name`` is not an executor of this interpreter, or None if it is."""
    if name in _EXECUTORS:
        return None
    available = ", ".join(_EXECUTORS)
    why = _UNAVAILABLE_EXECUTORS.get(name)
    what = f"executor {name!r} is not available here: {why}" if why else f"unknown executor {name!r}"
    return f"{what}; available in this interpreter: {available}"


def workers_error(workers: int) -> str | None:
    """Why ``workers`` (an int) is not a worker count boc accepts, or None if it is."""
    if not 1 <= workers <= _MAX_WORKERS:
        return f"workers must be between 1 and {_MAX_WORKERS}, got {workers}"
    return None


def _check_executor(executor: str) -> str:
    if not isinstance(executor, str):
        raise TypeError(f"executor must be a str, got {type(executor).__name__}")
    error = executor_error(executor)
    if error:
        raise ValueError(error)
    return executor


def _info(scheduler: str) -> dict[str, Any]:
    if not isinstance(scheduler, str):
        raise TypeError(f"scheduler must be a str, got {type(scheduler).__name__}")
    try:
        return _SCHEDULERS[scheduler]
    except KeyError:
        raise ValueError(
            f"unknown scheduler {scheduler!r}; available: {', '.join(sorted(_SCHEDULERS))}"
        ) from None


def counters(scheduler: str | None = None) -> dict[str, str]:
    """Every counter a strategy reports per worker: name -> one-line description.

    Includes the counters the core keeps for every strategy (``behaviors_run``,
    ``parks``, ``busy_ns``, ``idle_ns``) and the executor's value moves
    (``values_moved_in``, ``bytes_moved_in``, ``values_found_local``).
    Defaults to the default strategy.
    """
    return {"worker": "index of the worker", **_info(scheduler or DEFAULT_SCHEDULER)["counters"], **_MOVE_COUNTERS}


def sequential(scheduler: str | None = None) -> bool:
    """True if the strategy runs one behaviour at a time, even on disjoint
    cowns (``systematic``): bodies never overlap under it. Defaults to the
    default strategy."""
    return bool(_info(scheduler or DEFAULT_SCHEDULER)["sequential"])


def sources(scheduler: str | None = None) -> dict[str, str]:
    """A strategy's source counters: counter name -> where its behaviours came from.

    Each source counter counts the behaviours a worker took from one place
    (``"shared queue"``, ``"next slot"``, ``"own queue"``, ``"stolen"``, ...);
    per worker, they add up to ``behaviors_run``.
    """
    return dict(_info(scheduler or DEFAULT_SCHEDULER)["sources"])


def options(scheduler: str | None = None) -> dict[str, dict[str, Any]]:
    """A strategy's options: name -> {description, default, min, max}."""
    return {name: dict(spec) for name, spec in _info(scheduler or DEFAULT_SCHEDULER)["options"].items()}


def _resolve(scheduler: str, workers: int | None, given: dict[str, Any]) -> tuple[str, int, dict[str, int]]:
    specs = _info(scheduler)["options"]
    if "seed" in specs and "seed" not in given and os.environ.get("BOC_SEED"):
        given = {**given, "seed": _env_seed(os.environ["BOC_SEED"])}
    if workers is None:
        workers = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise TypeError(f"workers must be a positive int, got {type(workers).__name__}")
    if error := workers_error(workers):
        raise ValueError(error)
    # Names and ranges are checked by the core (ValueError naming what is
    # accepted), which takes 64-bit values: a larger one is refused here.
    fitting = {}
    for name, value in given.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"option {name!r} must be an int, got {type(value).__name__}")
        if not -(2**63) <= value < 2**63:
            if name in specs:
                spec = specs[name]
                raise ValueError(
                    f"option {name!r} of scheduler {scheduler!r} must be in [{spec['min']}, {spec['max']}], got {value}"
                )
            value = 0  # an unknown name: the core says so
        fitting[name] = value
    return scheduler, workers, _core.resolve_options(scheduler, fitting)


def _env_seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"BOC_SEED must be an integer seed such as 42, got {text!r}") from None


def _flag_from_env(name: str) -> bool:
    text = os.environ.get(name, "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name} must be 1 or 0 (or true/false, yes/no, on/off), got {os.environ[name]!r}")


def _trace_events(trace: bool | None, trace_events: int | None) -> int:
    """Records per worker for the run's trace; 0 for none."""
    if trace is None:
        trace = _flag_from_env("BOC_TRACE")
    elif not isinstance(trace, bool):
        raise TypeError(f"trace must be True or False, got {type(trace).__name__}")
    if trace_events is None:
        text = os.environ.get("BOC_TRACE_EVENTS")
        if not text:
            trace_events = DEFAULT_TRACE_EVENTS
        else:
            try:
                trace_events = int(text)
            except ValueError:
                raise ValueError(f"BOC_TRACE_EVENTS must be a positive int such as 100000, got {text!r}") from None
    elif isinstance(trace_events, bool) or not isinstance(trace_events, int):
        raise TypeError(f"trace_events must be a positive int, got {type(trace_events).__name__}")
    if not 1 <= trace_events <= 2**32:
        raise ValueError(f"trace_events must be in [1, {2**32}] records per worker, got {trace_events}")
    return trace_events if trace else 0


def start(
    scheduler: str | None = None,
    workers: int | None = None,
    executor: str | None = None,
    *,
    pin: bool = False,
    trace: bool | None = None,
    trace_events: int | None = None,
    **options: int,
) -> None:
    """Start the worker threads.

    Args:
        scheduler: a name from :func:`schedulers`; None means the default
            (``workstealing`` when compiled in, else ``central``).
        workers: number of worker threads; defaults to the number of CPUs.
        executor: how Python bodies run, a name from :func:`executors`;
            None means ``"threads"``.
        pin: pin worker *i* to the *i*-th CPU this process may use (modulo
            their number), as Verona-RT does: each worker keeps its caches,
            but cannot move off a core another program keeps busy. Ignored
            where the platform cannot pin threads.
        trace: keep a timeline of the run (:class:`boc.Trace`, in the
            report's ``trace``): every behaviour's dispatch, start and end,
            every steal and park, per worker. None (the default) takes it
            from the environment's ``BOC_TRACE`` (``1`` or ``0``). Off, it
            costs nothing; on, about 2 to 15 ns more per behaviour natively.
        trace_events: records each worker keeps (default ``BOC_TRACE_EVENTS``,
            else 262,144, 32 bytes each); when a worker's are full, its
            oldest are overwritten and counted (``Trace.overwritten``).
        **options: the strategy's options (see :func:`options`). A strategy
            with a ``seed`` option (``systematic``) takes it from the
            environment's ``BOC_SEED`` when none is given, so a run can be
            replayed without changing the program.

    Starting again with the same configuration while running does nothing;
    with a different one it raises RuntimeError (call :func:`wait` first), as
    it does while another thread's :func:`wait` is stopping the run, and once
    the interpreter is exiting. Safe to call from any number of threads.
    """
    if not isinstance(pin, bool):
        raise TypeError(f"pin must be True or False, got {type(pin).__name__}")
    events = _trace_events(trace, trace_events)
    resolved = _resolve(DEFAULT_SCHEDULER if scheduler is None else scheduler, workers, options)
    _core.start(*resolved, _check_executor(DEFAULT_EXECUTOR if executor is None else executor), pin, events, False)


def _start_for_scheduling() -> None:
    """For a when() that found no run: start one with the defaults, unless
    another thread has started one meanwhile (whatever its configuration)."""
    resolved = _resolve(DEFAULT_SCHEDULER, None, {})
    _core.start(*resolved, _check_executor(DEFAULT_EXECUTOR), False, _trace_events(None, None), True)


# The result cown holds whatever the body returns (or raised).
_Decorator = Callable[[Callable[..., Any]], "Cown[Any]"]


def _when_made_by(make: Callable[..., _Decorator]) -> Callable[..., _Decorator]:
    # when() reaches the native class through this closure, not a module
    # global: at interpreter exit CPython may set boc's globals to None before
    # the finalisers that schedule run (the free-threaded build does), and
    # those must still get the runtime's RuntimeError.
    def when(*args: Cown[Any] | list[Cown[Any]] | tuple[Cown[Any], ...]) -> _Decorator:
        """Schedule the decorated function as a behaviour on the given cowns.

        Each argument is a :class:`Cown` or a list/tuple of Cowns (a group, passed
        to the function as a list). The function runs once the behaviour holds
        every cown, after all behaviours scheduled earlier on any of them, and is
        called with one positional argument per argument of ``when``. The
        decorator returns a Cown that receives the function's return value, or
        the exception it raised (also in that cown's ``exception``).

        Callable from any thread and from inside behaviours; starts the runtime
        with defaults if it is not running. Arguments are checked at once
        (TypeError), and the function's parameters when it is given (TypeError);
        nothing is scheduled when a check fails.
        """
        return make(*args)

    return when


when = _when_made_by(_core.When)


def _check_timeout(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds or None, got {type(timeout).__name__}")
    if math.isnan(timeout) or timeout < 0:
        raise ValueError(f"timeout must be a number of seconds >= 0 (or None or math.inf for no limit), got {timeout}")
    return float(timeout)


def quiesce(timeout: float | None = None) -> None:
    """Block until no behaviour is in flight; the workers keep running.

    ``timeout`` is in seconds; None or ``math.inf`` waits for ever. Raises
    TimeoutError if behaviours are still in flight after ``timeout``
    seconds, and RuntimeError when called from inside a behaviour. Ctrl-C
    interrupts the wait (KeyboardInterrupt) and leaves the work running.
    """
    _core.quiesce(_check_timeout(timeout))


def wait(timeout: float | None = None) -> RunReport:
    """Wait until no behaviour is in flight, then stop the workers.

    Returns the run's :class:`RunReport` (the last run's when nothing runs).
    If behaviour bodies raised, the runtime still stops, and then an
    ExceptionGroup of every such exception is raised (its ``report``
    attribute holds the report; a BaseExceptionGroup if a body raised a
    BaseException such as SystemExit). On timeout, raises TimeoutError and
    leaves the runtime running.

    Any number of threads may wait at once, a signal handler inside the main
    thread's wait too: each one that ends the run returns (or raises) the
    same outcome. Once the run is quiescent, behaviours from threads other
    than its workers are refused (RuntimeError) until it has stopped.
    """
    outcome = _core.stop(_check_timeout(timeout))
    if outcome is None:
        return RunReport(scheduler=None, workers=0)
    scheduler, workers, opts, executor, elapsed, stats_, errors, order, trace = outcome
    report = RunReport(
        scheduler=scheduler,
        workers=workers,
        executor=executor,
        options=dict(opts),
        stats=[dict(s) for s in stats_],
        errors=list(errors),
        elapsed_s=elapsed,
        order=order,
        trace=None if trace is None else Trace(trace),
    )
    if errors:
        # BaseExceptionGroup gives an ExceptionGroup unless a body raised a
        # BaseException (SystemExit, KeyboardInterrupt), which ExceptionGroup rejects.
        group = BaseExceptionGroup(f"{len(errors)} behaviour(s) raised during the run", list(errors))
        group.report = report  # type: ignore[attr-defined]
        raise group
    return report


def stats() -> list[dict[str, int]]:
    """Per-worker statistics of the running runtime, else of the last run.

    One dict per worker with ``worker``, ``behaviors_run``, ``parks``,
    ``busy_ns``, ``idle_ns`` and the strategy's counters (see :func:`counters`).
    """
    return [dict(s) for s in _core.stats() or []]


def _report_uncollected(errors: list[BaseException]) -> None:
    print(f"boc: {len(errors)} behaviour exception(s) were never collected by boc.wait():", file=sys.stderr)
    for e in errors:
        traceback.print_exception(e, file=sys.stderr)


def _abandon_at_exit() -> None:
    """Ctrl-C at exit: give the run up, say what is lost, end as Python does after Ctrl-C."""
    given_up = _core.abandon_at_exit()
    if given_up is None:
        return
    errors, in_flight = given_up
    print(
        f"boc: interrupted at interpreter exit; {in_flight} behaviour(s) still in flight were abandoned",
        file=sys.stderr,
    )
    if errors:
        _report_uncollected(list(errors))


@atexit.register
def _stop_at_exit() -> None:
    """Finish the run in progress when the program ends (the exit hook).

    Outside threads can schedule no more; what is in flight runs to the
    end. After a few seconds the hook says what it is waiting for; Ctrl-C
    (or a program that already ended by Ctrl-C) gives the run up instead.
    """
    try:
        if not _core.begin_exit():
            return
        if isinstance(getattr(sys, "last_value", None), KeyboardInterrupt):
            _abandon_at_exit()  # the program ended by Ctrl-C: do not make it wait again
            return
        try:
            wait(_EXIT_NOTICE_S)
        except TimeoutError:
            print(
                f"boc: waiting at interpreter exit for {_core.in_flight()} behaviour(s) still in flight "
                "(Ctrl-C to abandon them)",
                file=sys.stderr,
                flush=True,
            )
            wait()
    except KeyboardInterrupt:
        _abandon_at_exit()
    except BaseExceptionGroup as group:
        _report_uncollected(list(group.exceptions))
    finally:
        _core.forget_last()
        _core.close_interpreters()


def _before_fork() -> None:
    """Before fork(): CPython cannot yet fork a process that has
    sub-interpreters, so boc destroys its own first (their values leave them,
    to be made objects wherever they are used next), unless a run under
    executor="subinterpreters" is using them; then the child will crash,
    which this says."""
    if _core.before_fork():
        print(
            'boc: fork() while a run with executor="subinterpreters" is in progress: CPython cannot yet fork a '
            "process that has sub-interpreters, so the child will crash (python/cpython#101437). Fork before "
            'boc.start() or after boc.wait(), or use multiprocessing\'s "spawn" or "forkserver" start method.',
            file=sys.stderr,
            flush=True,
        )


# A forked child (multiprocessing's default on Linux) starts with no run: the
# parent's workers do not exist there. (Bodies in a sub-interpreter import
# boc too, where forking is not allowed.)
if not _core.in_worker:
    os.register_at_fork(before=_before_fork, after_in_child=_core.after_fork_in_child)
