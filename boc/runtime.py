"""The public runtime API: start, when, quiesce, wait, stats."""

from __future__ import annotations

import atexit
import os
import sys
import threading
import traceback
from typing import Any, Callable

from boc import _core
from boc._core import Cown
from boc.report import RunReport


_MAX_WORKERS = 1024
_SCHEDULERS: dict[str, dict[str, Any]] = _core.schedulers()
DEFAULT_SCHEDULER = "workstealing" if "workstealing" in _SCHEDULERS else "central"

_lock = threading.Lock()  # serialises start() and the stopping part of wait()
_last_report = RunReport(scheduler=None, workers=0)


def schedulers() -> dict[str, str]:
    """Every compiled-in strategy: name -> one-line description."""
    return {name: info["description"] for name, info in _SCHEDULERS.items()}


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
    ``parks``, ``busy_ns``, ``idle_ns``). Defaults to the default strategy.
    """
    return {"worker": "index of the worker", **_info(scheduler or DEFAULT_SCHEDULER)["counters"]}


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
    _info(scheduler)
    if workers is None:
        workers = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise TypeError(f"workers must be a positive int, got {type(workers).__name__}")
    if not 1 <= workers <= _MAX_WORKERS:
        raise ValueError(f"workers must be between 1 and {_MAX_WORKERS}, got {workers}")
    for name, value in given.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"option {name!r} must be an int, got {type(value).__name__}")
    # Names and ranges are checked by the core (ValueError naming what is accepted).
    return scheduler, workers, _core.resolve_options(scheduler, given)


def start(scheduler: str | None = None, workers: int | None = None, **options: int) -> None:
    """Start the worker threads.

    Args:
        scheduler: a name from :func:`schedulers`; None means the default
            (``workstealing`` when compiled in, else ``central``).
        workers: number of worker threads; defaults to the number of CPUs.
        **options: the strategy's options (see :func:`options`).

    Starting again with the same configuration while running does nothing;
    with a different one it raises RuntimeError (call :func:`wait` first).
    """
    config = _resolve(DEFAULT_SCHEDULER if scheduler is None else scheduler, workers, options)
    # Checked before taking the lock: a behaviour must not wait for it, as
    # wait() may hold it while waiting for that very behaviour to finish.
    if _same_as_running(config):
        return
    if _core.in_behaviour():
        raise RuntimeError("start() with a new configuration cannot be called from inside a behaviour")
    with _lock:
        if not _same_as_running(config):
            _core.start(*config)


def _same_as_running(config: tuple[str, int, dict[str, int]]) -> bool:
    """True if the runtime runs with `config`; RuntimeError if with another."""
    running = _core.config()
    if running is None:
        return False
    if tuple(running) == config:
        return True
    raise RuntimeError(
        f"the runtime is already running with scheduler={running[0]!r}, "
        f"workers={running[1]}, options={running[2]}; call boc.wait() before "
        "starting it with another configuration"
    )


def when(*args: Cown | list[Cown] | tuple[Cown, ...]) -> Callable[[Callable[..., Any]], Cown]:
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
    return _core.When(*args)


def _check_timeout(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds or None, got {type(timeout).__name__}")
    if timeout < 0:
        raise ValueError(f"timeout must be >= 0, got {timeout}")
    return float(timeout)


def quiesce(timeout: float | None = None) -> None:
    """Block until no behaviour is in flight; the workers keep running.

    Raises TimeoutError if behaviours are still in flight after ``timeout``
    seconds, and RuntimeError when called from inside a behaviour.
    """
    if not _core.quiesce(_check_timeout(timeout)):
        raise TimeoutError(f"behaviours still in flight after {timeout} s")


def wait(timeout: float | None = None) -> RunReport:
    """Wait until no behaviour is in flight, then stop the workers.

    Returns the run's :class:`RunReport` (the last run's when nothing runs).
    If behaviour bodies raised, the runtime still stops, and then an
    ExceptionGroup of every such exception is raised (its ``report``
    attribute holds the report; a BaseExceptionGroup if a body raised a
    BaseException such as SystemExit). On timeout, raises TimeoutError and leaves
    the runtime running.
    """
    global _last_report
    quiesce(timeout)
    with _lock:
        config = _core.config()
        if config is None:
            return _last_report
        elapsed, stats_, errors = _core.stop()
        scheduler, workers, opts = config
        _last_report = RunReport(
            scheduler=scheduler,
            workers=workers,
            options=dict(opts),
            stats=stats_,
            errors=list(errors),
            elapsed_s=elapsed,
        )
    if errors:
        # BaseExceptionGroup gives an ExceptionGroup unless a body raised a
        # BaseException (SystemExit, KeyboardInterrupt), which ExceptionGroup rejects.
        group = BaseExceptionGroup(f"{len(errors)} behaviour(s) raised during the run", list(errors))
        group.report = _last_report  # type: ignore[attr-defined]
        raise group
    return _last_report


def stats() -> list[dict[str, int]]:
    """Per-worker statistics of the running runtime, else of the last run.

    One dict per worker with ``worker``, ``behaviors_run``, ``parks``,
    ``busy_ns``, ``idle_ns`` and the strategy's counters (see :func:`counters`).
    """
    live = _core.stats()
    if live is not None:
        return live
    return [dict(s) for s in _last_report.stats]


@atexit.register
def _stop_at_exit() -> None:
    if _core.config() is None:
        return
    try:
        wait()
    except BaseExceptionGroup as group:
        print(
            f"boc: {len(group.exceptions)} behaviour exception(s) were never collected by boc.wait():",
            file=sys.stderr,
        )
        for e in group.exceptions:
            traceback.print_exception(e, file=sys.stderr)
