"""Runs every (scheduler, workers) point, repeats times, each in a fresh subprocess."""

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
from harness.measure import RESULT_PREFIX
from harness.workload import Workload


class SweepError(RuntimeError):
    """A measurement failed; the message carries its command and stderr."""


@dataclass(frozen=True)
class Plan:
    """Everything a sweep needs, already checked."""

    workload: Workload
    script: Path
    schedulers: list[str]
    workers: list[int]
    repeats: int
    params: dict[str, Any]
    baselines: dict[str, str]  # name -> Python interpreter that runs it
    seed: int
    timeout_s: float = 900.0


def _command(plan: Plan, scheduler: str, workers: int) -> list[str]:
    spec = json.dumps(
        {
            "scheduler": scheduler,
            "workers": workers,
            "params": plan.params,
            "warmup_params": plan.workload.warmup(plan.params),
        }
    )
    if scheduler in plan.baselines:
        script = plan.workload.baselines[scheduler]
        return [plan.baselines[scheduler], str(script), spec]
    return [sys.executable, str(plan.script), "--measure-one", spec]


def measure(plan: Plan, scheduler: str, workers: int) -> dict[str, Any]:
    """One measurement in a fresh subprocess; its parsed result line."""
    cmd = _command(plan, scheduler, workers)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=plan.timeout_s)
    except subprocess.TimeoutExpired as e:
        raise SweepError(f"{scheduler} on {workers} worker(s) ran over {plan.timeout_s:.0f} s") from e
    lines = [l for l in done.stdout.splitlines() if l.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        raise SweepError(
            f"{scheduler} on {workers} worker(s) failed (exit {done.returncode}):\n"
            f"$ {' '.join(cmd)}\n{done.stderr[-4000:]}"
        )
    return json.loads(lines[-1][len(RESULT_PREFIX) :])


def run(plan: Plan, progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the sweep: one row per run, and one row per worker per run.

    Each repeat visits every point in a new random order, so slow drift of
    a shared machine does not favour the scheduler that always runs first.
    """
    points = [(s, w) for w in plan.workers for s in plan.schedulers + list(plan.baselines)]
    rng = random.Random(plan.seed)
    runs: list[dict[str, Any]] = []
    worker_frames: list[pd.DataFrame] = []
    bar = tqdm(total=len(points) * plan.repeats, desc=plan.workload.name, unit="run", disable=not progress)
    with bar:
        for repeat in range(plan.repeats):
            order = points[:]
            rng.shuffle(order)
            for scheduler, workers in order:
                bar.set_postfix_str(f"{scheduler} x{workers}")
                result = measure(plan, scheduler, workers)
                run_id = len(runs)
                runs.append(
                    {
                        "run": run_id,
                        "repeat": repeat,
                        "scheduler": scheduler,
                        "workers": workers,
                        "throughput": result["throughput"],
                        "elapsed_s": result["elapsed_s"],
                        "items": result["items"],
                        "expected": result["expected"],
                        "behaviors_run": sum(int(s.get("behaviors_run", 0)) for s in result["stats"]),
                        **result.get("params", {}),
                    }
                )
                frame = boc.RunReport(
                    scheduler=scheduler,
                    workers=workers,
                    options=result.get("options", {}),
                    stats=result["stats"],
                ).to_frame()
                frame.insert(0, "repeat", repeat)
                frame.insert(0, "run", run_id)
                worker_frames.append(frame)
                bar.update()
    workers_df = pd.concat(worker_frames, ignore_index=True) if worker_frames else pd.DataFrame()
    return pd.DataFrame(runs), workers_df
