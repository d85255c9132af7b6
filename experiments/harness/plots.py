"""Figures from a results folder: why one scheduler wins.

- throughput.png: throughput against workers, one line per scheduler, with
  the min-max spread across repeats;
- sources.png: per worker, where its behaviours came from (the strategy's
  source counters, e.g. next slot / own queue / stolen), at the largest
  worker count;
- idle.png: per worker, how often it parked and how long it was idle;
- balance.png: how evenly behaviours spread across workers (coefficient of
  variation of behaviours run; 0 is perfectly even).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

import pandas as pd


def _pyplot(show: bool) -> Any:
    if not show:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colours(*frames: pd.DataFrame) -> dict[str, Any]:
    """One colour per scheduler name, the same in every figure."""
    names = sorted(set().union(*(set(f["scheduler"]) for f in frames)))
    palette = matplotlib.colormaps["tab10"]
    return {name: palette(i % 10) for i, name in enumerate(names)}


def _throughput(plt: Any, runs: pd.DataFrame, meta: dict[str, Any], ax: Any, colours: dict[str, Any],
                style: str = "-", label_suffix: str = "") -> None:
    table = runs.groupby(["scheduler", "workers"])["throughput"].agg(["median", "min", "max"]).reset_index()
    for scheduler, rows in table.groupby("scheduler"):
        rows = rows.sort_values("workers")
        ax.errorbar(
            rows["workers"], rows["median"],
            yerr=[rows["median"] - rows["min"], rows["max"] - rows["median"]],
            fmt=style, marker="o", capsize=4, color=colours[scheduler], label=f"{scheduler}{label_suffix}",
        )
    ax.set_xlabel("workers")
    ax.set_ylabel(meta.get("metric", "throughput"))
    ax.set_xticks(sorted(runs["workers"].unique()))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()


def throughput(plt: Any, runs: pd.DataFrame, meta: dict[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    _throughput(plt, runs, meta, ax, _colours(runs))
    ax.set_title(f"{meta['workload']}: median of {meta['repeats']} repeat(s), bars span min..max")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _largest_runs(workers: pd.DataFrame) -> pd.DataFrame:
    """Per-worker rows at each scheduler's largest worker count, averaged over repeats."""
    top = workers.groupby("scheduler")["workers"].transform("max")
    rows = workers[workers["workers"] == top]
    return rows.groupby(["scheduler", "workers", "worker"]).mean(numeric_only=True).reset_index()


def sources(plt: Any, workers: pd.DataFrame, meta: dict[str, Any], path: Path) -> None:
    mapping: dict[str, dict[str, str]] = meta.get("sources", {})
    rows = _largest_runs(workers)
    names = [s for s in rows["scheduler"].unique() if mapping.get(s)]
    if not names:
        return
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 4), squeeze=False)
    for ax, scheduler in zip(axes[0], names):
        mine = rows[rows["scheduler"] == scheduler].sort_values("worker")
        bottom = pd.Series(0.0, index=mine.index)
        for counter, label in mapping[scheduler].items():
            if counter in mine:
                values = mine[counter].fillna(0)
                ax.bar(mine["worker"], values, bottom=bottom, label=label)
                bottom = bottom + values
        ax.set_title(f"{scheduler}, {int(mine['workers'].iloc[0])} workers")
        ax.set_xlabel("worker")
        ax.set_xticks(mine["worker"])
        ax.set_ylabel("behaviours per run (mean over repeats)")
        ax.legend(fontsize="small")
    fig.suptitle("Where each worker's behaviours came from")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def idle(plt: Any, workers: pd.DataFrame, meta: dict[str, Any], path: Path) -> None:
    rows = _largest_runs(workers)
    names = list(rows["scheduler"].unique())
    fig, axes = plt.subplots(2, len(names), figsize=(4.5 * len(names), 6), squeeze=False)
    for i, scheduler in enumerate(names):
        mine = rows[rows["scheduler"] == scheduler].sort_values("worker")
        if "parks" in mine:
            axes[0][i].bar(mine["worker"], mine["parks"], color="tab:purple")
        axes[0][i].set_title(f"{scheduler}, {int(mine['workers'].iloc[0])} workers")
        axes[0][i].set_ylabel("parks per run")
        if "idle_ns" in mine:
            axes[1][i].bar(mine["worker"], mine["idle_ns"] / 1e6, color="tab:gray")
        axes[1][i].set_ylabel("idle ms per run")
        for ax in (axes[0][i], axes[1][i]):
            ax.set_xlabel("worker")
            ax.set_xticks(mine["worker"])
    fig.suptitle("How often workers slept, and for how long")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def balance(plt: Any, workers: pd.DataFrame, meta: dict[str, Any], path: Path) -> None:
    multi = workers[workers["workers"] > 1]
    if multi.empty or "behaviors_run" not in multi:
        return
    per_run = multi.groupby(["scheduler", "workers", "run"])["behaviors_run"]
    cv = (per_run.std(ddof=0) / per_run.mean()).rename("cv").reset_index()
    table = cv.groupby(["scheduler", "workers"])["cv"].median().reset_index()
    fig, ax = plt.subplots(figsize=(7, 4))
    for scheduler, rows in table.groupby("scheduler"):
        ax.plot(rows["workers"], rows["cv"], marker="o", label=scheduler)
    ax.set_xlabel("workers")
    ax.set_ylabel("CV of behaviours run per worker")
    ax.set_xticks(sorted(table["workers"].unique()))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Spread of work across workers (0 = perfectly even)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def draw(folder: Path, runs: pd.DataFrame, workers: pd.DataFrame, meta: dict[str, Any], show: bool = False) -> list[Path]:
    """Write every figure into ``folder``; return the paths written."""
    plt = _pyplot(show)
    written = []
    for name, figure, data in (
        ("throughput.png", throughput, runs),
        ("sources.png", sources, workers),
        ("idle.png", idle, workers),
        ("balance.png", balance, workers),
    ):
        path = folder / name
        figure(plt, data, meta, path)
        if path.exists():
            written.append(path)
    if show:
        plt.show()
    plt.close("all")
    return written


def compare(a: tuple[pd.DataFrame, dict[str, Any]], b: tuple[pd.DataFrame, dict[str, Any]], labels: tuple[str, str], path: Path, show: bool = False) -> Path:
    """Overlay the throughput of two result folders (solid: first, dashed: second)."""
    plt = _pyplot(show)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = _colours(a[0], b[0])
    _throughput(plt, a[0], a[1], ax, colours, "-", f" ({labels[0]})")
    _throughput(plt, b[0], b[1], ax, colours, "--", f" ({labels[1]})")
    ax.set_title(f"{a[1]['workload']}: {labels[0]} vs {labels[1]}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    if show:
        plt.show()
    plt.close("all")
    return path
