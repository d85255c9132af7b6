"""The results folder: runs.csv, workers.csv and meta.json, and their summary."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import boc

RUNS_CSV = "runs.csv"
WORKERS_CSV = "workers.csv"
META_JSON = "meta.json"
# The traced runs of a sweep with --trace: one .npz and .json per point.
TRACES_DIR = "traces"

# Width of a point's confidence interval, relative to its median, above
# which the point is measured again (up to the sweep's repeat limit) and,
# if still wider, flagged.
MAX_SPREAD = 0.05
# The confidence of the interval around each median, and its resamples.
CONFIDENCE = 0.95
RESAMPLES = 2000


def git_revision(repo: Path) -> str | None:
    """The checked-out commit of ``repo`` (with ``-dirty``), or None outside git."""
    try:
        rev = subprocess.run(
            ["git", "-C", str(repo), "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        return rev or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict[str, Any]:
    """Facts about this machine and interpreter for meta.json."""
    return {
        "boc_version": boc.__version__,
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        # False on a free-threaded build (PEP 703); None before 3.13.
        "gil": sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else None,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "schedulers": boc.schedulers(),
    }


def unwritable(root: Path) -> str | None:
    """Why results cannot be written under ``root``, or None if they can.

    Makes the folder if it is missing, so that a bad path fails before a
    sweep rather than after it.
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return f"{root} exists and is not a folder"
    except OSError as e:
        return f"cannot make the folder {root}: {e.strerror}"
    if not os.access(root, os.W_OK | os.X_OK):
        return f"the folder {root} is not writable"
    return None


def write(root: Path, workload: str, runs: pd.DataFrame, workers: pd.DataFrame, meta: dict[str, Any]) -> Path:
    """Write a new ``<root>/<workload>-<timestamp>/`` folder and return it.

    The files are written to a temporary folder first and moved into place
    whole, so a failure never leaves a partial results folder.
    """
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    final = root / f"{workload}-{stamp}"
    suffix = 1
    while final.exists():
        suffix += 1
        final = root / f"{workload}-{stamp}-{suffix}"
    staging = Path(tempfile.mkdtemp(prefix=f".{workload}-", dir=root))
    try:
        runs.to_csv(staging / RUNS_CSV, index=False)
        workers.to_csv(staging / WORKERS_CSV, index=False)
        (staging / META_JSON).write_text(json.dumps(meta, indent=2, default=str) + "\n")
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def read(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Load a results folder; FileNotFoundError naming what is missing."""
    missing = [n for n in (RUNS_CSV, WORKERS_CSV, META_JSON) if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} is not a results folder: missing {', '.join(missing)}")
    meta = json.loads((folder / META_JSON).read_text())
    runs, workers = pd.read_csv(folder / RUNS_CSV), pd.read_csv(folder / WORKERS_CSV)
    for frame in (runs, workers):
        # A baseline's rows have no executor of ours; a folder written before
        # executors were swept ran every body under "threads".
        if "executor" not in frame:
            frame.insert(2, "executor", "threads")
            frame.loc[frame["scheduler"].isin(meta.get("baselines", {})), "executor"] = ""
        frame["executor"] = frame["executor"].fillna("")
    return runs, workers, meta


def point_columns(meta: dict[str, Any]) -> list[str]:
    """The columns that tell the points of a sweep apart."""
    axis = meta.get("axis")
    return ["scheduler", "executor", *([axis] if axis else []), "workers"]


def median_interval(values: Any, confidence: float = CONFIDENCE, resamples: int = RESAMPLES) -> tuple[float, float]:
    """A percentile-bootstrap confidence interval of the median of ``values``.

    Resamples the values with replacement, takes each resample's median,
    and returns the central ``confidence`` share of those medians. Seeded,
    so the same data always give the same interval. With few repeats the
    interval is wide (with one value it is that value): it says how much
    the data support, no more.
    """
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(0)
    medians = np.median(rng.choice(data, size=(resamples, len(data)), replace=True), axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(medians, [tail, 100 - tail])
    return float(low), float(high)


def relative_spread(values: Any) -> float:
    """The width of the median's confidence interval over the median.

    This is what a reader of the reported median needs: how far it could
    move. On a machine whose speed drifts, the range of raw repeats only
    grows as repeats are added, while this narrows.
    """
    data = np.asarray(values, dtype=float)
    low, high = median_interval(data)
    return float((high - low) / np.median(data))


def summarize(runs: pd.DataFrame, meta: dict[str, Any]) -> pd.DataFrame:
    """Per point of the sweep: median, bootstrap interval of the median
    (``ci_low``, ``ci_high``), min, max, count, the relative spread (the
    interval's width over the median, see ``relative_spread``), the range
    (max - min) / median, the median per worker, and ``machine``: the
    relative spread of the machine's own speed, timed by the control loop
    beside the same runs (empty for a baseline, which has no control)."""
    frame = runs.fillna({"executor": ""})
    keys = point_columns(meta)
    grouped = frame.groupby(keys)["throughput"]
    table = grouped.agg(["median", "min", "max", "count"]).reset_index()
    intervals = grouped.apply(lambda v: median_interval(v.to_numpy())).tolist()
    table.insert(table.columns.get_loc("median") + 1, "ci_low", [low for low, _ in intervals])
    table.insert(table.columns.get_loc("ci_low") + 1, "ci_high", [high for _, high in intervals])
    table["spread"] = (table["ci_high"] - table["ci_low"]) / table["median"]
    table["range"] = (table["max"] - table["min"]) / table["median"]
    table["per_worker"] = table["median"] / table["workers"]
    if "reference_s" in frame:
        speed = (1 / frame["reference_s"]).groupby([frame[k] for k in keys])
        table["machine"] = [relative_spread(v.dropna()) if v.notna().any() else np.nan for _, v in speed]
    return table


def _control(row: dict[str, Any]) -> str:
    machine = row.get("machine")
    if machine is None or np.isnan(machine):
        return ""
    return f"; the machine's own speed, timed beside the same runs, spread {machine:.0%}"


def spread_warnings(table: pd.DataFrame, threshold: float = MAX_SPREAD) -> list[str]:
    """One line per point whose median is uncertain by more than ``threshold``."""
    noisy = table[(table["count"] > 1) & (table["spread"] > threshold)]
    lines = []
    for r in noisy.to_dict("records"):
        where = "/".join(str(r[c]) for c in noisy.columns[: list(noisy.columns).index("workers")] if r[c] != "")
        lines.append(
            f"large spread for {where} on {r['workers']} worker(s): the median {r['median']:,.0f} has a "
            f"{CONFIDENCE:.0%} interval of {r['ci_low']:,.0f} .. {r['ci_high']:,.0f} ({r['spread']:.0%} of it); "
            f"{r['count']} repeats ranged {r['min']:,.0f} .. {r['max']:,.0f}" + _control(r)
        )
    return lines
