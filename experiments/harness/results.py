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

import pandas as pd

import boc

RUNS_CSV = "runs.csv"
WORKERS_CSV = "workers.csv"
META_JSON = "meta.json"

# Median-relative spread (max - min) / median above which a point is flagged.
LARGE_SPREAD = 0.25


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
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "schedulers": boc.schedulers(),
    }


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


def summarize(runs: pd.DataFrame, meta: dict[str, Any]) -> pd.DataFrame:
    """Median, min and max throughput per point of the sweep, with the relative spread."""
    grouped = runs.fillna({"executor": ""}).groupby(point_columns(meta))["throughput"]
    table = grouped.agg(["median", "min", "max", "count"]).reset_index()
    table["spread"] = (table["max"] - table["min"]) / table["median"]
    table["per_worker"] = table["median"] / table["workers"]
    return table


def spread_warnings(table: pd.DataFrame) -> list[str]:
    """One line per point whose repeats disagree by more than LARGE_SPREAD."""
    noisy = table[(table["count"] > 1) & (table["spread"] > LARGE_SPREAD)]
    lines = []
    for r in noisy.to_dict("records"):
        where = "/".join(str(r[c]) for c in noisy.columns[: list(noisy.columns).index("workers")] if r[c] != "")
        lines.append(
            f"large spread for {where} on {r['workers']} worker(s): repeats range "
            f"{r['min']:,.0f} .. {r['max']:,.0f} around a median of {r['median']:,.0f} ({r['spread']:.0%})"
        )
    return lines
