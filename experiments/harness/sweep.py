"""Runs every point of a sweep (scheduler x executor x workers, and the
workload's own axis if it has one), repeats times, each in a fresh subprocess,
then again, round by round, each point whose median is still uncertain.

With a target duration, each point is first calibrated: measured at the
workload size's starting value, then at larger sizes until a run is long
enough to time, and the size scaled so that one measurement runs for the
target. Every repeat of a point then does the same amount of work.

With a trace folder, each point then runs once more, traced, with the same
work; that run is not one of the measurements (tracing has a cost of its
own). Its trace is saved in the folder, as ``<point>.npz`` and ``.json``,
and summarised in ``traces.csv``."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

import boc
from harness import results
from harness.measure import RESULT_PREFIX
from harness.workload import Workload

# The executor column of a baseline's rows: another runtime, not one of ours.
BASELINE_EXECUTOR = ""


class SweepError(RuntimeError):
    """A measurement failed; the message carries its command and stderr."""


@dataclass(frozen=True)
class Plan:
    """Everything a sweep needs, already checked."""

    workload: Workload
    script: Path
    schedulers: list[str]
    executors: list[str]
    workers: list[int]
    repeats: int  # measurements of every point
    params: dict[str, Any]
    baselines: dict[str, str]  # name -> Python interpreter that runs it
    seed: int
    axis_values: list[int] | None = None  # values of workload.axis, if it has one
    duration_s: float | None = None  # calibrate each point to this; None: params as given
    max_repeats: int | None = None  # measure a noisy point up to this often; None: repeats
    max_spread: float = results.MAX_SPREAD  # a point is noisy above this relative spread
    timeout_s: float = 900.0
    trace_dir: Path | None = None  # where each point's traced run saves its trace; None: no traced runs
    trace_events: int = 200_000  # records per worker of a traced run


@dataclass(frozen=True)
class Point:
    """One configuration of the sweep."""

    scheduler: str  # or a baseline's name
    executor: str  # BASELINE_EXECUTOR for a baseline
    workers: int
    axis_value: int | None = None

    def label(self) -> str:
        at = f" {self.axis_value}" if self.axis_value is not None else ""
        runs_on = f"/{self.executor}" if self.executor else ""
        return f"{self.scheduler}{runs_on} x{self.workers}{at}"

    def file_stem(self) -> str:
        """A name for the point's files: ``<scheduler>-<executor>-w<workers>[-<axis value>]``."""
        at = f"-{self.axis_value}" if self.axis_value is not None else ""
        return f"{self.scheduler}-{self.executor}-w{self.workers}{at}"


def points(plan: Plan) -> list[Point]:
    """Every configuration of the plan, baselines included."""
    out = []
    for workers in plan.workers:
        for value in plan.axis_values or [None]:
            out += [Point(s, e, workers, value) for s in plan.schedulers for e in plan.executors]
            out += [Point(b, BASELINE_EXECUTOR, workers, value) for b in plan.baselines]
    return out


def _params(plan: Plan, point: Point) -> dict[str, Any]:
    if point.axis_value is None or plan.workload.axis is None:
        return plan.params
    return {**plan.params, plan.workload.axis.name: point.axis_value}


def _command(plan: Plan, point: Point, params: dict[str, Any], trace: Path | None = None) -> list[str]:
    spec = json.dumps(
        {
            "scheduler": point.scheduler,
            "executor": point.executor,
            "workers": point.workers,
            "params": params,
            "warmup_params": plan.workload.size.warmup(params),
            **({"trace": {"path": str(trace), "events": plan.trace_events}} if trace else {}),
        }
    )
    if point.scheduler in plan.baselines:
        script = plan.workload.baselines[point.scheduler]
        return [plan.baselines[point.scheduler], str(script), spec]
    return [sys.executable, str(plan.script), "--measure-one", spec]


def measure(plan: Plan, point: Point, params: dict[str, Any], trace: Path | None = None) -> dict[str, Any]:
    """One measurement in a fresh subprocess; its parsed result line. With
    ``trace`` (a path without suffix), a traced run that saves its trace there."""
    cmd = _command(plan, point, params, trace)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=plan.timeout_s)
    except subprocess.TimeoutExpired as e:
        raise SweepError(f"{point.label()} ran over {plan.timeout_s:.0f} s") from e
    lines = [l for l in done.stdout.splitlines() if l.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        raise SweepError(f"{point.label()} failed (exit {done.returncode}):\n$ {' '.join(cmd)}\n{done.stderr[-4000:]}")
    return json.loads(lines[-1][len(RESULT_PREFIX) :])


# A calibration run shorter than this share of the target is too short to
# scale from: timer resolution and start-up noise would dominate it.
TIMEABLE_SHARE = 0.2
CALIBRATION_ROUNDS = 6


def calibrate(plan: Plan, point: Point) -> dict[str, Any]:
    """The point's params, with the workload's size scaled to fill ``plan.duration_s``."""
    params = _params(plan, point)
    if plan.duration_s is None:
        return params
    size = plan.workload.size
    value = size.start
    for _ in range(CALIBRATION_ROUNDS):
        elapsed = max(measure(plan, point, {**params, size.name: value})["elapsed_s"], 1e-6)
        factor = plan.duration_s / elapsed
        if elapsed >= TIMEABLE_SHARE * plan.duration_s:
            break
        # Aim at half the target, so that the next round is timeable but cheap.
        value = size.scaled(value, min(100.0, factor / 2))
    return {**params, size.name: size.scaled(value, factor)}


def _trace_each(plan: Plan, todo: list[Point], sized: dict[Point, dict[str, Any]], bar: Any) -> None:
    """One traced run per point, its trace saved in ``plan.trace_dir`` and
    summarised in ``traces.csv`` there."""
    assert plan.trace_dir is not None
    bar.total += len(todo)
    rows = []
    for point in todo:
        bar.set_postfix_str(f"tracing {point.label()}")
        result = measure(plan, point, sized[point], trace=plan.trace_dir / point.file_stem())
        rows.append({"scheduler": point.scheduler, "executor": point.executor, "workers": point.workers,
                     **({plan.workload.axis.name: point.axis_value} if plan.workload.axis is not None else {}),
                     "throughput": result["throughput"], **result["trace"]})
        bar.update()
    pd.DataFrame(rows).to_csv(plan.trace_dir / TRACES_CSV, index=False)


# The summary of a sweep's traced runs, in its trace folder.
TRACES_CSV = "traces.csv"


def run(plan: Plan, progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the sweep: one row per run, and one row per worker per run.

    Each round visits its points in a new random order, so slow drift of a
    shared machine does not favour the configuration that always runs
    first. The first ``plan.repeats`` rounds visit every point; each later
    round, up to ``plan.max_repeats``, visits only the points whose relative
    spread (``results.relative_spread``) is still above ``plan.max_spread``.
    """
    every = points(plan)
    max_repeats = max(plan.repeats, plan.max_repeats or plan.repeats)
    rng = random.Random(plan.seed)
    runs: list[dict[str, Any]] = []
    worker_frames: list[pd.DataFrame] = []
    throughputs: dict[Point, list[float]] = {point: [] for point in every}
    calibrating = plan.duration_s is not None
    bar = tqdm(total=len(every) * (plan.repeats + calibrating), desc=plan.workload.name, unit="point",
               disable=not progress)
    with bar:
        sized: dict[Point, dict[str, Any]] = {}
        for point in every:
            bar.set_postfix_str(f"calibrating {point.label()}")
            sized[point] = calibrate(plan, point)
            bar.update(calibrating)
        todo = every
        for repeat in range(max_repeats):
            if repeat >= plan.repeats:
                todo = [p for p in every if results.relative_spread(throughputs[p]) > plan.max_spread]
                if not todo:
                    break
                bar.total += len(todo)
            order = todo[:]
            rng.shuffle(order)
            for point in order:
                bar.set_postfix_str(point.label() + (" (again: noisy)" if repeat >= plan.repeats else ""))
                result = measure(plan, point, sized[point])
                throughputs[point].append(result["throughput"])
                run_id = len(runs)
                runs.append(
                    {
                        "run": run_id,
                        "repeat": repeat,
                        "scheduler": point.scheduler,
                        "executor": point.executor,
                        "workers": point.workers,
                        "throughput": result["throughput"],
                        "elapsed_s": result["elapsed_s"],
                        "items": result["items"],
                        "expected": result["expected"],
                        "behaviors_run": sum(int(s.get("behaviors_run", 0)) for s in result["stats"]),
                        # The control loop's time (a baseline's script has none).
                        "reference_s": result.get("reference_s"),
                        **result.get("params", {}),
                    }
                )
                frame = boc.RunReport(
                    scheduler=point.scheduler,
                    workers=point.workers,
                    executor=point.executor,
                    options=result.get("options", {}),
                    stats=result["stats"],
                ).to_frame()
                if plan.workload.axis is not None:
                    frame.insert(3, plan.workload.axis.name, point.axis_value)
                frame.insert(0, "repeat", repeat)
                frame.insert(0, "run", run_id)
                worker_frames.append(frame)
                bar.update()
        if plan.trace_dir is not None:
            _trace_each(plan, [p for p in every if p.executor != BASELINE_EXECUTOR], sized, bar)
    workers_df = pd.concat(worker_frames, ignore_index=True) if worker_frames else pd.DataFrame()
    return pd.DataFrame(runs), workers_df
