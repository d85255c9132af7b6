"""Shared fixtures: one run of each runtime test per compiled-in scheduler.

``pytest --scheduler NAME`` restricts the runtime tests to one strategy.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

import pytest

import boc

# Collected once, at import: a strategy added under schedulers/ shows up here
# without any edit to the tests.
SCHEDULERS: list[str] = sorted(boc.schedulers())

# How long the after-test clean-up waits for leftover behaviours.
STOP_TIMEOUT_S = 30.0


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--scheduler",
        metavar="NAME",
        default=None,
        help=f"run the runtime tests on this scheduler only (compiled in: {', '.join(SCHEDULERS)})",
    )


def pytest_configure(config: pytest.Config) -> None:
    name = config.getoption("--scheduler")
    if name is not None and name not in SCHEDULERS:
        raise pytest.UsageError(
            f"--scheduler {name!r} is not compiled in; available: {', '.join(SCHEDULERS)}"
        )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "scheduler" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--scheduler")
        names = [chosen] if chosen else SCHEDULERS
        metafunc.parametrize("scheduler", names, indirect=True)


@pytest.fixture
def scheduler(request: pytest.FixtureRequest) -> str:
    """The name of the strategy this run of the test uses."""
    return request.param


def _stop_runtime() -> None:
    try:
        boc.wait(timeout=STOP_TIMEOUT_S)
    except BaseExceptionGroup:
        pass  # behaviour errors the test chose not to collect
    except TimeoutError:
        pytest.fail(
            f"behaviours were still in flight {STOP_TIMEOUT_S} s after the test ended; "
            "a test left a behaviour blocked",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def stopped_runtime() -> Iterator[None]:
    """Every test starts and ends with the runtime stopped."""
    _stop_runtime()
    yield
    _stop_runtime()


class Gate:
    """Schedules behaviours that hold their cowns until the gate opens.

    The body polls an Event with a short timeout, so it never blocks the
    worker for long in one call and the test thread can always open it.
    """

    def __init__(self) -> None:
        self._open = threading.Event()
        self.entered = threading.Event()  # set once a held body has started

    def hold(self, *cowns: boc.Cown) -> boc.Cown:
        """Schedule a behaviour on ``cowns`` that runs until :meth:`open`."""
        opened, entered = self._open, self.entered

        @boc.when(*cowns)
        def held(*_: boc.Cown) -> None:
            entered.set()
            while not opened.wait(0.002):
                pass

        return held

    def open(self) -> None:
        self._open.set()


@pytest.fixture
def gate() -> Iterator[Gate]:
    """A :class:`Gate` that is opened at the end of the test in any case."""
    g = Gate()
    try:
        yield g
    finally:
        g.open()


@contextlib.contextmanager
def endless_chain() -> Iterator[boc.Cown]:
    """A Python behaviour that reschedules itself until the block ends.

    Yields the cown counting its steps; on leaving the block (also on a
    failed assertion) a behaviour on its flag cown stops it.
    """
    counter, flag = boc.Cown(0), boc.Cown(False)

    def spin() -> None:
        @boc.when(counter, flag)
        def step(counter: boc.Cown, flag: boc.Cown) -> None:
            counter.value += 1
            if not flag.value:
                spin()

    spin()
    try:
        yield counter
    finally:

        @boc.when(flag)
        def stop(flag: boc.Cown) -> None:
            flag.value = True
