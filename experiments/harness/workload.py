"""What a workload script tells the harness."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


@dataclass(frozen=True)
class Workload:
    """One experiment shape.

    Attributes:
        name: short name, used for the results folder.
        metric: what ``throughput`` counts per second (for axis labels).
        add_arguments: adds the workload's own options to a parser.
        check: raises ValueError for bad workload options (after parsing).
        quick: workload options for ``--quick`` (overriding the defaults).
        measure: runs one measurement in this process and returns a dict with
            at least ``throughput``, ``elapsed_s``, ``items``, ``expected``,
            ``report`` (a :class:`boc.RunReport`) or ``stats`` (list of dicts).
        params: the workload options of a parsed namespace, as a dict.
        warmup: the options of the short run made before each measurement.
        baselines: other runtimes that can run the same shape: name -> a
            script that takes the measurement spec (JSON) as its argument
            and prints the same result line.
    """

    name: str
    metric: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    check: Callable[[argparse.Namespace], None]
    quick: dict[str, Any]
    measure: Callable[[str, int, dict[str, Any]], dict[str, Any]]
    params: Callable[[argparse.Namespace], dict[str, Any]]
    warmup: Callable[[dict[str, Any]], dict[str, Any]]
    baselines: dict[str, Path] = field(default_factory=dict)
