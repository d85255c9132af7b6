"""The suite's options and fixtures, for tests/ and for each strategy's own
tests under schedulers/<name>/tests/: one run of each runtime test per
compiled-in scheduler, and of every test per executor this interpreter has.

``pytest --scheduler NAME[,NAME]`` restricts the runtime tests to those strategies,
``pytest --executor NAME`` every test to one executor. A test that makes
sense under one executor only says so with ``@pytest.mark.executor(NAME)``.

A strategy with a ``seed`` option (``systematic``) runs each runtime test
once per seed: ``--seeds N`` gives seeds 0 .. N-1 (default 1), ``--seed S``
(or the environment's ``BOC_SEED``) exactly S. A failing run names its seed
and the command that replays it.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Iterator

import pytest

import boc

# The helpers of tests/support.py, for every test module and for the fixtures here.
sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))
from support import Gate  # noqa: E402

# The programs that Script runs get Ctrl-C as they would in a terminal. A
# suite started in the background (nohup, `&` in a script) inherits SIGINT
# ignored, an ignored signal stays ignored across exec, and Python installs
# no Ctrl-C handler where SIGINT is ignored; a handled one is reset to the
# default in the child, where Python installs its own.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Collected once, at import: a strategy added under schedulers/ shows up here
# without any edit to the tests.
SCHEDULERS: list[str] = sorted(boc.schedulers())
EXECUTORS: list[str] = list(boc.executors())

# How long the after-test clean-up waits for leftover behaviours.
STOP_TIMEOUT_S = 30.0


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--scheduler",
        metavar="NAME[,NAME]",
        default=None,
        help=f"run the runtime tests on these schedulers only (compiled in: {', '.join(SCHEDULERS)})",
    )
    parser.addoption(
        "--executor",
        metavar="NAME",
        default=None,
        help=f"run the tests under this executor only (this interpreter has: {', '.join(EXECUTORS)})",
    )


    parser.addoption("--seeds", metavar="N", type=int, default=1,
                     help="run the runtime tests under seeds 0 .. N-1 of each seeded strategy (default 1)")
    parser.addoption("--seed", metavar="S", type=int, default=None,
                     help="run the runtime tests under this one seed of each seeded strategy (default: "
                     "$BOC_SEED if set)")


def _chosen_schedulers(config: pytest.Config) -> list[str] | None:
    chosen = config.getoption("--scheduler")
    return [n.strip() for n in chosen.split(",") if n.strip()] if chosen else None


def _seeded(name: str) -> bool:
    return "seed" in boc.options(name)


def _seeds(config: pytest.Config) -> list[int]:
    chosen = config.getoption("--seed")
    if chosen is None and os.environ.get("BOC_SEED"):
        chosen = int(os.environ["BOC_SEED"])
    return [chosen] if chosen is not None else list(range(config.getoption("--seeds")))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "executor(name): the test makes sense under this executor only")
    config.addinivalue_line("markers", "parallel: the test needs bodies to overlap (skipped under a sequential "
                            "strategy such as systematic)")
    for name in _chosen_schedulers(config) or []:
        if name not in SCHEDULERS:
            raise pytest.UsageError(f"--scheduler {name!r} is not compiled in; available: {', '.join(SCHEDULERS)}")
    name = config.getoption("--executor")
    if name is not None and name not in EXECUTORS:
        raise pytest.UsageError(f"--executor {name!r} is not available here; available: {', '.join(EXECUTORS)}")
    if config.getoption("--seeds") < 1:
        raise pytest.UsageError(f"--seeds must be >= 1, got {config.getoption('--seeds')}")
    if os.environ.get("BOC_SEED") and not os.environ["BOC_SEED"].isdigit():
        raise pytest.UsageError(f"BOC_SEED must be a non-negative integer, got {os.environ['BOC_SEED']!r}")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "scheduler" in metafunc.fixturenames:
        names = _chosen_schedulers(metafunc.config) or SCHEDULERS
        params = []
        needs_parallel = metafunc.definition.get_closest_marker("parallel") is not None
        for name in names:
            if needs_parallel and boc.sequential(name):
                params.append(pytest.param((name, None), id=name, marks=pytest.mark.skip(
                    reason=f"{name} runs one behaviour at a time; the test needs bodies to overlap")))
            elif _seeded(name):
                params += [pytest.param((name, seed), id=f"{name}-seed{seed}") for seed in _seeds(metafunc.config)]
            else:
                params.append(pytest.param((name, None), id=name))
        metafunc.parametrize("scheduler", params, indirect=True)
    if "executor" in metafunc.fixturenames:
        marked = metafunc.definition.get_closest_marker("executor")
        chosen = metafunc.config.getoption("--executor")
        names = [chosen] if chosen else EXECUTORS
        if marked is not None:
            names = [n for n in names if n == marked.args[0]]
        if names:
            metafunc.parametrize("executor", names, indirect=True)
        else:
            metafunc.parametrize("executor", [pytest.param(None, marks=pytest.mark.skip(
                reason=f"makes sense under executor={marked.args[0]!r} only"))], indirect=True)


@pytest.fixture
def scheduler(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The name of the strategy this run of the test uses. For a seeded
    strategy, BOC_SEED holds the run's seed: start() without a seed takes it,
    here and in the programs the test runs."""
    name, seed = request.param
    if seed is not None:
        monkeypatch.setenv("BOC_SEED", str(seed))
    return name


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing run under a seeded strategy says how to replay it."""
    outcome = yield
    report = outcome.get_result()
    callspec = getattr(item, "callspec", None)
    param = callspec.params.get("scheduler") if callspec else None
    if report.failed and isinstance(param, tuple) and param[1] is not None:
        report.sections.append(
            ("seed", f"{param[0]} ran with seed {param[1]}; replay it: BOC_SEED={param[1]} pytest '{item.nodeid}'"))


@pytest.fixture(autouse=True)
def executor(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The executor this run of the test uses: every start() without one, in
    this process and in the programs it runs, gets it."""
    name = request.param
    monkeypatch.setattr(boc.runtime, "DEFAULT_EXECUTOR", name)
    monkeypatch.setenv("BOC_EXECUTOR", name)
    return name


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


@pytest.fixture
def gate() -> Iterator[Gate]:
    """A :class:`Gate` that is opened at the end of the test in any case."""
    g = Gate()
    try:
        yield g
    finally:
        g.open()
