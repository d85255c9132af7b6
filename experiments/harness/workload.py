"""What a workload script tells the harness."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import boc


@dataclass(frozen=True)
class RunConfig:
    """The point of the sweep one measurement runs at."""

    scheduler: str
    executor: str
    workers: int
    trace_events: int = 0  # records per worker of a traced run; 0: not traced

    def start(self) -> None:
        """Start the runtime in this configuration."""
        traced = self.trace_events > 0
        boc.start(self.scheduler, workers=self.workers, executor=self.executor, trace=traced,
                  trace_events=self.trace_events if traced else None)


@dataclass(frozen=True)
class Axis:
    """A workload option swept beside schedulers, executors and workers.

    Attributes:
        name: the option's name in ``params`` (``--<name>`` on the command line,
            with dashes, takes a comma-separated list).
        default: the values swept when none are given.
        help: what the option is.
        quick: the values of a ``--quick`` sweep.
    """

    name: str
    default: list[int]
    help: str
    quick: list[int]


@dataclass(frozen=True)
class Size:
    """The workload option that sets how much work one measurement does.

    Work must grow linearly with it: the sweep scales it so that each
    measurement runs for the target duration.

    Attributes:
        name: the option's name in ``params``.
        start: the value a calibration starts from (small: a few tens of ms).
        quick: the value a ``--quick`` sweep uses, uncalibrated.
    """

    name: str
    start: int | float
    quick: int | float

    def scaled(self, value: int | float, factor: float) -> int | float:
        """``value`` times ``factor``, of the option's type (at least 1 for an int)."""
        if isinstance(self.start, int):
            return max(1, round(value * factor))
        return max(1e-3, value * factor)

    def warmup(self, params: dict[str, Any]) -> dict[str, Any]:
        """The options of the short run made before each measurement: a tenth of the work."""
        return {**params, self.name: self.scaled(params[self.name], 0.1)}


@dataclass(frozen=True)
class Workload:
    """One experiment shape.

    Attributes:
        name: short name, used for the results folder.
        metric: what ``throughput`` counts per second (for axis labels).
        add_arguments: adds the workload's own options to a parser (the size
            option with default None: calibrated unless given).
        check: raises ValueError for bad workload options (after parsing).
        measure: runs one measurement in this process at a :class:`RunConfig`
            and returns a dict with at least ``throughput``, ``elapsed_s``,
            ``items``, ``expected``, ``report`` (a :class:`boc.RunReport`) or
            ``stats`` (list of dicts).
        params: the workload options of a parsed namespace, as a dict.
        size: the option that sets the amount of work.
        baselines: other runtimes that can run the same shape: name -> a
            script that takes the measurement spec (JSON) as its argument
            and prints the same result line.
        axis: a workload option swept as one more dimension, if any.
    """

    name: str
    metric: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    check: Callable[[argparse.Namespace], None]
    measure: Callable[[RunConfig, dict[str, Any]], dict[str, Any]]
    params: Callable[[argparse.Namespace], dict[str, Any]]
    size: Size
    baselines: dict[str, Path] = field(default_factory=dict)
    axis: Axis | None = None
