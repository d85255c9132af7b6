"""Figures from a results folder: why one configuration wins.

A configuration is a scheduler with an executor: the colour tells the
scheduler, the line style the executor (solid: threads, dashed:
subinterpreters, dotted: another runtime run as a baseline).

- throughput.png: throughput against workers, one line per configuration,
  with the min-max spread across repeats (one panel per value of the
  workload's own axis, if it sweeps one);
- sources.png: per worker, where its behaviours came from (the strategy's
  source counters, e.g. next slot / own queue / stolen), at the largest
  worker count;
- idle.png: per worker, how often it parked and how long it was idle;
- balance.png: how evenly behaviours spread across workers (coefficient of
  variation of behaviours run; 0 is perfectly even);
- moves.png: under "subinterpreters", per worker, how many cown values a
  behaviour found in its worker's interpreter and how many had to move
  there from another one: the locality a scheduler gives;
- overtake.png: for a workload with an axis (body length, say), throughput
  under "subinterpreters" over throughput under "threads" at the largest
  worker count, against the axis: where parallel bodies pay for the moves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

import pandas as pd

STYLES = {"threads": "-", "subinterpreters": "--", "": ":"}


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


def _executor(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with an executor column ("" for a baseline's rows)."""
    frame = frame.copy()
    frame["executor"] = frame["executor"].fillna("") if "executor" in frame else "threads"
    return frame


def _name(scheduler: str, executor: str) -> str:
    return f"{scheduler} / {executor}" if executor else scheduler


def _axis(meta: dict[str, Any]) -> str | None:
    return meta.get("axis")


def _axis_label(meta: dict[str, Any], value: Any) -> str:
    return f"{_axis(meta)} = {value}"


def _throughput(runs: pd.DataFrame, meta: dict[str, Any], ax: Any, colours: dict[str, Any],
                style: str | None = None, label_suffix: str = "") -> None:
    keys = ["scheduler", "executor", "workers"]
    table = runs.groupby(keys)["throughput"].agg(["median", "min", "max"]).reset_index()
    for (scheduler, executor), rows in table.groupby(["scheduler", "executor"]):
        rows = rows.sort_values("workers")
        ax.errorbar(
            rows["workers"], rows["median"],
            yerr=[rows["median"] - rows["min"], rows["max"] - rows["median"]],
            fmt=style or STYLES.get(executor, "-."), marker="o", capsize=4, color=colours[scheduler],
            label=_name(scheduler, executor) + label_suffix,
        )
    ax.set_xlabel("workers")
    ax.set_ylabel(meta.get("metric", "throughput"))
    ax.set_xticks(sorted(runs["workers"].unique()))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")


def _panels(plt: Any, count: int, width: float = 6.0, height: float = 4.5) -> tuple[Any, list[Any]]:
    fig, axes = plt.subplots(1, count, figsize=(width * count, height), squeeze=False)
    return fig, list(axes[0])


def throughput(plt: Any, runs: pd.DataFrame, meta: dict[str, Any], path: Path) -> None:
    runs = _executor(runs)
    colours = _colours(runs)
    axis = _axis(meta)
    values = sorted(runs[axis].unique()) if axis else [None]
    fig, axes = _panels(plt, len(values))
    for ax, value in zip(axes, values):
        _throughput(runs if value is None else runs[runs[axis] == value], meta, ax, colours)
        if value is not None:
            ax.set_title(_axis_label(meta, value))
    fig.suptitle(f"{meta['workload']}: median of {meta['repeats']} repeat(s), bars span min..max")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _largest_runs(workers: pd.DataFrame, meta: dict[str, Any], axis_value: Any = None) -> tuple[pd.DataFrame, str]:
    """Per-worker rows at each configuration's largest worker count (and at
    `axis_value` of the workload's axis, by default its largest), averaged
    over repeats; and a phrase saying which rows those are."""
    workers = _executor(workers)
    axis = _axis(meta)
    where = ""
    if axis and axis in workers:
        value = workers[axis].max() if axis_value is None else axis_value
        workers = workers[workers[axis] == value]
        where = f", {_axis_label(meta, value)}"
    top = workers.groupby(["scheduler", "executor"])["workers"].transform("max")
    rows = workers[workers["workers"] == top]
    means = rows.groupby(["scheduler", "executor", "workers", "worker"]).mean(numeric_only=True).reset_index()
    return means, where


def _bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,.0f} bytes"


def _configurations(rows: pd.DataFrame) -> list[tuple[str, str]]:
    return sorted({(s, e) for s, e in zip(rows["scheduler"], rows["executor"])})


def sources(plt: Any, workers: pd.DataFrame, meta: dict[str, Any], path: Path) -> None:
    mapping: dict[str, dict[str, str]] = meta.get("sources", {})
    rows, where = _largest_runs(workers, meta)
    shown = [(s, e) for s, e in _configurations(rows) if mapping.get(s)]
    if not shown:
        return
    fig, axes = _panels(plt, len(shown), 4.5, 4)
    for ax, (scheduler, executor) in zip(axes, shown):
        mine = rows[(rows["scheduler"] == scheduler) & (rows["executor"] == executor)].sort_values("worker")
        bottom = pd.Series(0.0, index=mine.index)
        for counter, label in mapping[scheduler].items():
            if counter in mine:
                values = mine[counter].fillna(0)
                ax.bar(mine["worker"], values, bottom=bottom, label=label)
                bottom = bottom + values
        ax.set_title(f"{_name(scheduler, executor)}, {int(mine['workers'].iloc[0])} workers")
        ax.set_xlabel("worker")
        ax.set_xticks(mine["worker"])
        ax.set_ylabel("behaviours per run (mean over repeats)")
        ax.legend(fontsize="small")
    fig.suptitle(f"Where each worker's behaviours came from{where}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def idle(plt: Any, workers: pd.DataFrame, meta: dict[str, Any], path: Path) -> None:
    rows, where = _largest_runs(workers, meta)
    shown = _configurations(rows)
    fig, axes = plt.subplots(2, len(shown), figsize=(4.5 * len(shown), 6), squeeze=False)
    for i, (scheduler, executor) in enumerate(shown):
        mine = rows[(rows["scheduler"] == scheduler) & (rows["executor"] == executor)].sort_values("worker")
        if "parks" in mine:
            axes[0][i].bar(mine["worker"], mine["parks"], color="tab:purple")
        axes[0][i].set_title(f"{_name(scheduler, executor)}, {int(mine['workers'].iloc[0])} workers")
        axes[0][i].set_ylabel("parks per run")
        if "idle_ns" in mine:
            axes[1][i].bar(mine["worker"], mine["idle_ns"] / 1e6, color="tab:gray")
        axes[1][i].set_ylabel("idle ms per run")
        for ax in (axes[0][i], axes[1][i]):
            ax.set_xlabel("worker")
            ax.set_xticks(mine["worker"])
    fig.suptitle(f"How often workers slept, and for how long{where}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def balance(plt: Any, workers: pd.DataFrame, meta: dict[str, Any], path: Path) -> None:
    workers = _executor(workers)
    multi = workers[workers["workers"] > 1]
    if multi.empty or "behaviors_run" not in multi:
        return
    per_run = multi.groupby(["scheduler", "executor", "workers", "run"])["behaviors_run"]
    cv = (per_run.std(ddof=0) / per_run.mean()).rename("cv").reset_index()
    table = cv.groupby(["scheduler", "executor", "workers"])["cv"].median().reset_index()
    colours = _colours(table)
    fig, ax = plt.subplots(figsize=(7, 4))
    for (scheduler, executor), rows in table.groupby(["scheduler", "executor"]):
        ax.plot(rows["workers"], rows["cv"], STYLES.get(executor, "-."), marker="o", color=colours[scheduler],
                label=_name(scheduler, executor))
    ax.set_xlabel("workers")
    ax.set_ylabel("CV of behaviours run per worker")
    ax.set_xticks(sorted(table["workers"].unique()))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    ax.set_title("Spread of work across workers (0 = perfectly even)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def moves(plt: Any, workers: pd.DataFrame, meta: dict[str, Any], path: Path) -> None:
    axis = _axis(meta)
    values = sorted(workers[axis].unique()) if axis and axis in workers else [None]
    panels = []  # (row, rows of one scheduler at one axis value, axis phrase)
    for row, value in enumerate(values):
        rows, where = _largest_runs(workers, meta, value)
        rows = rows[rows["executor"] == "subinterpreters"]
        panels += [(row, rows[rows["scheduler"] == s], where) for s in sorted(rows["scheduler"].unique())]
    if not panels or "values_moved_in" not in panels[0][1]:
        return
    columns = max(sum(1 for r, _, _ in panels if r == row) for row in range(len(values)))
    fig, axes = plt.subplots(len(values), columns, figsize=(4.5 * columns, 3.6 * len(values)), squeeze=False)
    used_axes = set()
    for row, mine, where in panels:
        column = sum(1 for r, ax in used_axes if r == row)
        ax = axes[row][column]
        used_axes.add((row, ax))
        mine = mine.sort_values("worker")
        local, moved = mine["values_found_local"].fillna(0), mine["values_moved_in"].fillna(0)
        ax.bar(mine["worker"], local, label="found in the worker's interpreter", color="tab:green")
        ax.bar(mine["worker"], moved, bottom=local, label="moved in from another", color="tab:red")
        used = local.sum() + moved.sum()
        share = f"{local.sum() / used:.0%} local" if used else "no values used"
        title = f"{mine['scheduler'].iloc[0]}, {int(mine['workers'].iloc[0])} workers{where}"
        ax.set_title(f"{title}\n{share}, {_bytes(mine['bytes_moved_in'].sum())} moved", fontsize="medium")
        ax.set_xlabel("worker")
        ax.set_xticks(mine["worker"])
        ax.set_ylabel("values used per run")
        if len(used_axes) == 1:
            ax.legend(fontsize="small")
    for row in axes:
        for ax in row:
            if not any(ax is used for _, used in used_axes):
                ax.set_visible(False)
    fig.suptitle("Under subinterpreters: where each worker found the cown values it used (mean over repeats)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def overtake(plt: Any, runs: pd.DataFrame, meta: dict[str, Any], path: Path) -> None:
    axis = _axis(meta)
    runs = _executor(runs)
    if not axis or runs[axis].nunique() < 2 or not {"threads", "subinterpreters"} <= set(runs["executor"]):
        return
    top = runs["workers"].max()
    medians = (runs[runs["workers"] == top].groupby(["scheduler", "executor", axis])["throughput"].median()
               .unstack("executor"))
    ratio = (medians["subinterpreters"] / medians["threads"]).dropna().reset_index(name="ratio")
    colours = _colours(ratio)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for scheduler, rows in ratio.groupby("scheduler"):
        ax.plot(rows[axis], rows["ratio"], marker="o", color=colours[scheduler], label=scheduler)
    ax.axhline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel(axis)
    ax.set_ylabel("throughput: subinterpreters / threads")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    ax.set_title(f"{meta['workload']}, {top} workers: above 1, parallel bodies win (medians)")
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
        ("moves.png", moves, workers),
        ("overtake.png", overtake, runs),
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
    runs_a, runs_b = _executor(a[0]), _executor(b[0])
    axis = _axis(a[1])
    values = sorted(set(runs_a[axis]) | set(runs_b[axis])) if axis else [None]
    fig, axes = _panels(plt, len(values), 7, 4.5)
    colours = _colours(runs_a, runs_b)
    for ax, value in zip(axes, values):
        pick = (lambda r: r) if value is None else (lambda r, v=value: r[r[axis] == v])
        _throughput(pick(runs_a), a[1], ax, colours, "-", f" ({labels[0]})")
        _throughput(pick(runs_b), b[1], ax, colours, "--", f" ({labels[1]})")
        if value is not None:
            ax.set_title(_axis_label(a[1], value))
    fig.suptitle(f"{a[1]['workload']}: {labels[0]} (solid) vs {labels[1]} (dashed)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    if show:
        plt.show()
    plt.close("all")
    return path
