"""Figures from a results folder: why one configuration wins.

A configuration is a scheduler with an executor: the colour tells the
scheduler, the line style the executor (solid: threads, dashed:
subinterpreters, dotted: another runtime run as a baseline). Every figure
ends with a caption line: the workload's settings, the interpreter, the
machine and whether the CPU probe trusted it.

- throughput.png: throughput against workers, one line per configuration,
  the median with its bootstrap confidence interval (one panel per value of
  the workload's own axis, if it sweeps one);
- sources.png: per worker, where its behaviours came from (the strategy's
  source counters, e.g. next slot / own queue / stolen), at the largest
  worker count;
- idle.png: per worker, how often it parked and how long it was idle;
- moves.png: under "subinterpreters", per worker, how many cown values a
  behaviour found in its worker's interpreter and how many had to move
  there from another one: the locality a scheduler gives;
- balance.png: how evenly behaviours spread across workers (coefficient of
  variation of behaviours run; 0 is perfectly even), one point per run;
- overtake.png: for a workload with an axis (body length, say), throughput
  under "subinterpreters" over throughput under "threads" at the largest
  worker count, against the axis: where parallel bodies pay for the moves;
- timeline-<scheduler>-<executor>.png (a sweep run with --trace): the traced
  run at the largest worker count (and the largest value of the axis), one
  lane per worker: behaviours coloured by where the worker found them,
  parks grey, steals marked (boc.Trace.plot).

Which worker gets which work changes from run to run (whichever worker the
producer lands on, say), so the per-worker figures rank the workers of each
run by behaviours run (1st: the one that ran the most) and draw every run
side by side, thin bars per run, instead of averaging worker indices.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import matplotlib
import pandas as pd
from matplotlib.ticker import EngFormatter, FuncFormatter

from harness import results

STYLES = {"threads": "-", "subinterpreters": "--", "": ":"}
DPI = 120


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


def caption(meta: dict[str, Any]) -> str:
    """One line: the workload's settings, the interpreter, the machine, the probe."""
    params = {k: v for k, v in meta.get("params", {}).items() if v is not None and k != meta.get("axis")}
    settings = ", ".join(f"{k}={v}" for k, v in params.items())
    duration = meta.get("duration_s")
    size = f"work calibrated to {duration:g} s per measurement" if duration else "fixed work per measurement"
    gil = {True: ", GIL", False: ", no GIL"}.get(meta.get("gil"), "")
    interpreter = f"{meta.get('python_implementation', 'Python')} {meta.get('python', '?')}{gil}"
    machine = f"{meta.get('platform', '?')}, {meta.get('cpu_count', '?')} CPUs"
    probe = meta.get("cpu_probe")
    if probe:
        seen = f"{probe['before']['speedup']}x/{probe['after']['speedup']}x of {probe['before']['processes']}"
        trust = f"CPU probe {'ok' if probe['ok'] else 'LOW: multi-worker figures not to be trusted'} ({seen})"
    else:
        trust = "no CPU probe"
    repeats = _repeats(meta)
    return f"{meta.get('workload', '?')}: {settings}; {size}; {repeats} | {interpreter} | {machine} | {trust}"


def _repeats(meta: dict[str, Any]) -> str:
    """"5 repeats", or "5-15 repeats" where noisy points were measured again."""
    least, most = meta.get("repeats", "?"), meta.get("max_repeats")
    return f"{least}-{most} repeats" if most not in (None, least) else f"{least} repeats"


def _finish(fig: Any, meta: dict[str, Any], title: str, path: Path) -> None:
    """Title, caption line, layout, file."""
    fig.suptitle(title)
    fig.text(0.5, 0.005, caption(meta), ha="center", va="bottom", fontsize=6.5, wrap=True)
    height = fig.get_figheight()
    fig.tight_layout(rect=(0, 0.35 / height, 1, 1 - 0.15 / height))  # inches for the caption and the title
    fig.savefig(path, dpi=DPI)


def _si(ax: Any, unit: str = "") -> None:
    """Readable y ticks: 12k, 1.5M (or 250µs with a unit)."""
    ax.yaxis.set_major_formatter(EngFormatter(unit=unit, sep="" if not unit else " "))


def _dodge(count: int, spacing: float) -> Callable[[int], float]:
    """The x offset of series ``i`` of ``count``, centred on zero."""
    return lambda i: (i - (count - 1) / 2) * spacing


def _throughput(runs: pd.DataFrame, meta: dict[str, Any], ax: Any, colours: dict[str, Any],
                style: str | None = None, label_suffix: str = "", dodge_from: int = 0, dodge_of: int = 1) -> int:
    """Median and confidence interval per configuration and worker count;
    the number of configurations drawn (for dodging the next call's)."""
    configurations = sorted(set(zip(runs["scheduler"], runs["executor"])))
    offset = _dodge(dodge_of, 0.06)
    for i, (scheduler, executor) in enumerate(configurations):
        mine = runs[(runs["scheduler"] == scheduler) & (runs["executor"] == executor)]
        rows = []
        for workers, group in mine.groupby("workers"):
            low, high = results.median_interval(group["throughput"].to_numpy())
            rows.append((workers, group["throughput"].median(), low, high))
        table = pd.DataFrame(rows, columns=["workers", "median", "low", "high"])
        ax.errorbar(
            table["workers"] + offset(dodge_from + i), table["median"],
            yerr=[table["median"] - table["low"], table["high"] - table["median"]],
            fmt=style or STYLES.get(executor, "-."), marker="o", markersize=4, capsize=3,
            color=colours[scheduler], label=_name(scheduler, executor) + label_suffix,
        )
    ax.set_xlabel("workers")
    ax.set_ylabel(meta.get("metric", "throughput"))
    ax.set_xticks(sorted(runs["workers"].unique()))
    _si(ax)
    ax.grid(alpha=0.3)
    return len(configurations)


# Inches added on the right of a line figure for its legend, which sits
# outside the axes so that it never hides a point.
LEGEND_WIDTH = 2.6


def _legend_outside(fig: Any, ax: Any, fontsize: str = "small") -> None:
    """The legend of ``ax`` to the right of the last panel, the figure widened for it."""
    fig.set_figwidth(fig.get_figwidth() + LEGEND_WIDTH)
    ax.legend(fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)


def _panels(plt: Any, count: int, width: float = 6.0, height: float = 4.5, **shared: Any) -> tuple[Any, list[Any]]:
    fig, axes = plt.subplots(1, count, figsize=(width * count, height), squeeze=False, **shared)
    return fig, list(axes[0])


def _axis_values(frame: pd.DataFrame, meta: dict[str, Any]) -> list[Any]:
    axis = _axis(meta)
    return sorted(frame[axis].unique()) if axis and axis in frame else [None]


def throughput(plt: Any, runs: pd.DataFrame, meta: dict[str, Any], path: Path) -> None:
    runs = _executor(runs)
    colours = _colours(runs)
    axis = _axis(meta)
    values = _axis_values(runs, meta)
    fig, axes = _panels(plt, len(values), sharex=True)
    for ax, value in zip(axes, values):
        mine = runs if value is None else runs[runs[axis] == value]
        count = mine.groupby(["scheduler", "executor"]).ngroups
        _throughput(mine, meta, ax, colours, dodge_of=count)
        ax.set_ylim(bottom=0)
        if value is not None:
            ax.set_title(_axis_label(meta, value))
    _legend_outside(fig, axes[-1])
    confidence = f"{results.CONFIDENCE:.0%}"
    _finish(fig, meta, f"{meta['workload']}: median of {_repeats(meta)}\n"
            f"bars: {confidence} bootstrap interval of the median", path)


def _ranked(workers: pd.DataFrame) -> pd.DataFrame:
    """Each run's workers ranked by behaviours run: ``rank`` 0 ran the most
    (ties by worker index)."""
    ordered = workers.sort_values(["run", "behaviors_run", "worker"], ascending=[True, False, True])
    ordered = ordered.copy()
    ordered["rank"] = ordered.groupby("run").cumcount()
    return ordered


def _largest_runs(workers: pd.DataFrame, meta: dict[str, Any], axis_value: Any = None) -> tuple[pd.DataFrame, str]:
    """Ranked per-worker rows of every run at each configuration's largest
    worker count (and at `axis_value` of the workload's axis, by default
    its largest); and a phrase saying which rows those are."""
    workers = _executor(workers)
    axis = _axis(meta)
    where = ""
    if axis and axis in workers:
        value = workers[axis].max() if axis_value is None else axis_value
        workers = workers[workers[axis] == value]
        where = f", {_axis_label(meta, value)}"
    top = workers.groupby(["scheduler", "executor"])["workers"].transform("max")
    return _ranked(workers[workers["workers"] == top]), where


def _ordinal(rank: int) -> str:
    n = rank + 1
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _per_run_bars(ax: Any, rows: pd.DataFrame, layers: list[tuple[str, str, Any]]) -> None:
    """For each worker rank, one thin stacked bar per run: ``layers`` are
    (column, label, colour), bottom first. Ticks name the ranks."""
    run_ids = sorted(rows["run"].unique())
    width = 0.8 / len(run_ids)
    offset = _dodge(len(run_ids), width)
    tallest = 0.0
    for j, run in enumerate(run_ids):
        mine = rows[rows["run"] == run].sort_values("rank")
        bottom = pd.Series(0.0, index=mine.index)
        for column, label, colour in layers:
            values = mine[column].fillna(0) if column in mine else pd.Series(0.0, index=mine.index)
            ax.bar(mine["rank"] + offset(j), values, width=width * 0.9, bottom=bottom, color=colour,
                   label=label if j == 0 else None)
            bottom = bottom + values
        tallest = max(tallest, float(bottom.max()))
    # The tallest bar of every panel sharing this y range, with room for the
    # legend above it.
    ax.boc_tallest = tallest
    siblings = ax.get_shared_y_axes().get_siblings(ax)
    ax.set_ylim(0, max(getattr(a, "boc_tallest", 0.0) for a in siblings) * 1.3 or 1.0)
    ranks = sorted(rows["rank"].unique())
    ax.set_xticks(ranks, [_ordinal(r) for r in ranks])
    ax.set_xlabel(f"worker, by behaviours run (one bar per run, {len(run_ids)} runs)")
    _si(ax)


def _configurations(rows: pd.DataFrame) -> list[tuple[str, str]]:
    return sorted({(s, e) for s, e in zip(rows["scheduler"], rows["executor"])})


def _of(rows: pd.DataFrame, scheduler: str, executor: str) -> pd.DataFrame:
    return rows[(rows["scheduler"] == scheduler) & (rows["executor"] == executor)]


# Panels per row in the per-configuration figures: more wrap onto new rows.
PANELS_PER_ROW = 4


def _wrapped(plt: Any, count: int, width: float, height: float, layers: int = 1) -> tuple[Any, list[list[Any]]]:
    """A figure of ``count`` panels, PANELS_PER_ROW to a row, each ``layers``
    axes tall, every panel's layer k on one y range; the axes of panel i are
    result[i], and unused axes are hidden."""
    columns = min(count, PANELS_PER_ROW)
    rows = -(-count // columns)
    fig, grid = plt.subplots(rows * layers, columns, figsize=(width * columns, height * rows), squeeze=False)
    panels = [[grid[(i // columns) * layers + layer][i % columns] for layer in range(layers)] for i in range(count)]
    for panel in panels[1:]:
        for layer, ax in enumerate(panel):
            ax.sharey(panels[0][layer])
    for i in range(count, rows * columns):
        for layer in range(layers):
            grid[(i // columns) * layers + layer][i % columns].set_visible(False)
    return fig, panels


def sources(plt: Any, workers: pd.DataFrame, meta: dict[str, Any], path: Path) -> None:
    mapping: dict[str, dict[str, str]] = meta.get("sources", {})
    rows, where = _largest_runs(workers, meta)
    shown = [(s, e) for s, e in _configurations(rows)
             if any(c in rows for c in mapping.get(s, {})) and _of(rows, s, e)["workers"].iloc[0] > 1]
    if not shown:
        return
    # One colour per place, whichever strategy took work from it.
    palette = matplotlib.colormaps["tab10"]
    places = list(dict.fromkeys(label for s, _ in shown for label in mapping[s].values()))
    colour = {place: palette(i % 10) for i, place in enumerate(places)}
    fig, panels = _wrapped(plt, len(shown), 4.5, 4)
    for i, ((scheduler, executor), (ax,)) in enumerate(zip(shown, panels)):
        mine = _of(rows, scheduler, executor)
        layers = [(counter, label, colour[label]) for counter, label in mapping[scheduler].items()
                  if counter in mine and mine[counter].fillna(0).any()]
        _per_run_bars(ax, mine, layers)
        ax.set_title(f"{_name(scheduler, executor)}, {int(mine['workers'].iloc[0])} workers")
        ax.legend(fontsize="small")
        if i % PANELS_PER_ROW == 0:
            ax.set_ylabel("behaviours per run")
    _finish(fig, meta, f"Where each worker's behaviours came from{where}", path)


def idle(plt: Any, workers: pd.DataFrame, meta: dict[str, Any], path: Path) -> None:
    rows, where = _largest_runs(workers, meta)
    shown = _configurations(rows)
    if not shown or not {"parks", "idle_ns"} <= set(rows):
        return
    rows = rows.assign(idle_s=rows["idle_ns"] / 1e9)
    shown = [(s, e) for s, e in shown if _of(rows, s, e)["parks"].notna().any()]  # a baseline has none
    if not shown:
        return
    fig, panels = _wrapped(plt, len(shown), 4.5, 6.5, layers=2)
    for i, ((scheduler, executor), (parks, idle_time)) in enumerate(zip(shown, panels)):
        mine = _of(rows, scheduler, executor)
        _per_run_bars(parks, mine, [("parks", "parks", "tab:purple")])
        _per_run_bars(idle_time, mine, [("idle_s", "idle", "tab:gray")])
        _si(idle_time, "s")
        parks.set_title(f"{_name(scheduler, executor)}, {int(mine['workers'].iloc[0])} workers")
        if i % PANELS_PER_ROW == 0:
            parks.set_ylabel("parks per run")
            idle_time.set_ylabel("idle time per run")
    _finish(fig, meta, f"How often workers slept, and for how long{where}", path)


def balance(plt: Any, workers: pd.DataFrame, meta: dict[str, Any], path: Path) -> None:
    workers = _executor(workers)
    multi = workers[workers["workers"] > 1]
    if multi.empty or "behaviors_run" not in multi:
        return
    keys = ["scheduler", "executor", "workers"]
    per_run = multi.groupby([*keys, "run"])["behaviors_run"]
    cv = (per_run.std(ddof=0) / per_run.mean()).rename("cv").reset_index()
    counts = sorted(cv["workers"].unique())
    colours = _colours(cv)
    fig, axes = _panels(plt, len(counts), 5.0, 4.2, sharey=True)
    for ax, count in zip(axes, counts):
        mine = cv[cv["workers"] == count]
        configurations = _configurations(mine)
        for x, (scheduler, executor) in enumerate(configurations):
            points = _of(mine, scheduler, executor)["cv"].to_numpy()
            spread = _dodge(len(points), 0.5 / max(1, len(points)))
            ax.scatter([x + spread(i) for i in range(len(points))], points, s=18, color=colours[scheduler],
                       marker="o" if executor != "subinterpreters" else "s", alpha=0.8)
            ax.hlines(float(pd.Series(points).median()), x - 0.3, x + 0.3, color="black", linewidth=1.5)
        ax.set_xticks(range(len(configurations)), [_name(s, e) for s, e in configurations], rotation=30,
                      ha="right", fontsize="small")
        ax.set_title(f"{count} workers")
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_ylim(bottom=0)
    axes[0].set_ylabel("CV of behaviours run per worker")
    _finish(fig, meta, "Spread of work across workers (0 = even)\none point per run, line at the median", path)


def moves(plt: Any, workers: pd.DataFrame, meta: dict[str, Any], path: Path) -> None:
    if "values_moved_in" not in workers:
        return
    panels = []  # (row, ranked rows of one scheduler at one axis value, axis phrase)
    values = _axis_values(workers, meta)
    for value in values:
        rows, where = _largest_runs(workers, meta, value)
        rows = rows[rows["executor"] == "subinterpreters"]
        used = rows["values_moved_in"].fillna(0) + rows["values_found_local"].fillna(0)
        rows = rows[rows["scheduler"].isin(rows.loc[used > 0, "scheduler"])]
        panels.append([(rows[rows["scheduler"] == s], where) for s in sorted(rows["scheduler"].unique())])
    panels = [row for row in panels if row]
    if not panels:
        return
    columns = max(len(row) for row in panels)
    fig, axes = plt.subplots(len(panels), columns, figsize=(4.5 * columns, 3.8 * len(panels)), squeeze=False,
                             sharey="row")
    for r, row in enumerate(panels):
        for c, (mine, where) in enumerate(row):
            ax = axes[r][c]
            _per_run_bars(ax, mine, [("values_found_local", "found in the worker's interpreter", "tab:green"),
                                     ("values_moved_in", "moved in from another", "tab:red")])
            local, moved = mine["values_found_local"].fillna(0).sum(), mine["values_moved_in"].fillna(0).sum()
            runs = mine["run"].nunique()
            title = f"{mine['scheduler'].iloc[0]}, {int(mine['workers'].iloc[0])} workers{where}"
            moved_bytes = _bytes(mine["bytes_moved_in"].sum() / runs)
            ax.set_title(f"{title}\n{local / (local + moved):.0%} local, {moved_bytes} moved per run",
                         fontsize="medium")
            if c == 0:
                ax.set_ylabel("values used per run")
            if r == 0 and c == 0:
                ax.legend(fontsize="small")
        for ax in axes[r][len(row):]:
            ax.set_visible(False)
    _finish(fig, meta, "Under subinterpreters: where each worker found the cown values it used", path)


def _bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,.0f} bytes"


def overtake(plt: Any, runs: pd.DataFrame, meta: dict[str, Any], path: Path) -> None:
    axis = _axis(meta)
    runs = _executor(runs)
    if not axis or runs[axis].nunique() < 2 or not {"threads", "subinterpreters"} <= set(runs["executor"]):
        return
    top = runs["workers"].max()
    medians = (runs[runs["workers"] == top].groupby(["scheduler", "executor", axis])["throughput"].median()
               .unstack("executor"))
    ratio = (medians["subinterpreters"] / medians["threads"]).dropna().reset_index(name="ratio")
    if ratio.empty:
        return
    colours = _colours(ratio)
    fig, ax = plt.subplots(figsize=(7, 4.8))
    for scheduler, rows in ratio.groupby("scheduler"):
        ax.plot(rows[axis], rows["ratio"], marker="o", color=colours[scheduler], label=scheduler)
    ax.axhline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel(axis)
    ax.set_ylabel("throughput: subinterpreters / threads")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    _finish(fig, meta, f"{meta['workload']}, {top} workers: above 1, parallel bodies win (medians)", path)


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
    written += timelines(folder, meta)
    if show:
        plt.show()
    plt.close("all")
    return written


def timelines(folder: Path, meta: dict[str, Any]) -> list[Path]:
    """The timeline of each scheduler and executor's traced run at the
    largest worker count, where the sweep kept traces; the paths written."""
    traces = folder / results.TRACES_DIR
    if not traces.is_dir():
        return []
    import boc

    workers = max(meta["workers"])
    axis = _axis(meta)
    at = f"-{max(meta['axis_values'])}" if axis else ""
    written = []
    for scheduler in meta["schedulers"]:
        for executor in meta["executors"]:
            saved = traces / f"{scheduler}-{executor}-w{workers}{at}.npz"
            if not saved.is_file():
                continue
            trace = boc.Trace.load(saved)
            path = folder / f"timeline-{scheduler}-{executor}.png"
            where = f", {_axis_label(meta, max(meta['axis_values']))}" if axis else ""
            fig = trace.plot(title=f"{meta['workload']}: {_name(scheduler, executor)}, {workers} workers"
                             f"{where} (a traced run)")
            fig.supxlabel(caption(meta), fontsize=6.5)
            fig.savefig(path, dpi=DPI)
            written.append(path)
    return written


def compare_figure(plt: Any, a: tuple[pd.DataFrame, dict[str, Any]], b: tuple[pd.DataFrame, dict[str, Any]],
                   labels: tuple[str, str], differences: list[str]) -> Any:
    """The overlay of two result folders' throughput (solid: first, dashed:
    second), one y range per panel covering both, the differing settings
    written underneath."""
    runs_a, runs_b = _executor(a[0]), _executor(b[0])
    axis = _axis(a[1])
    values = sorted(set(runs_a[axis]) | set(runs_b[axis])) if axis else [None]
    fig, axes = _panels(plt, len(values), 7, 4.8, sharex=True)
    colours = _colours(runs_a, runs_b)
    for ax, value in zip(axes, values):
        pick = (lambda r: r) if value is None else (lambda r, v=value: r[r[axis] == v])
        both = sum(pick(r).groupby(["scheduler", "executor"]).ngroups for r in (runs_a, runs_b))
        drawn = _throughput(pick(runs_a), a[1], ax, colours, "-", f" ({labels[0]})", 0, both)
        _throughput(pick(runs_b), b[1], ax, colours, "--", f" ({labels[1]})", drawn, both)
        ax.set_ylim(bottom=0)  # after both folders are drawn, so that the range covers both
        if value is not None:
            ax.set_title(_axis_label(a[1], value))
    _legend_outside(fig, axes[-1], "x-small")
    fig.suptitle(f"{a[1]['workload']}: {labels[0]} (solid) vs {labels[1]} (dashed)")
    notes = "settings that differ: " + "; ".join(differences) if differences else "same settings"
    fig.text(0.5, 0.005, notes, ha="center", va="bottom", fontsize=7, wrap=True,
             color="tab:red" if differences else "black")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def compare(a: tuple[pd.DataFrame, dict[str, Any]], b: tuple[pd.DataFrame, dict[str, Any]], labels: tuple[str, str],
            path: Path, differences: list[str], show: bool = False) -> Path:
    """Write :func:`compare_figure` to ``path``."""
    plt = _pyplot(show)
    compare_figure(plt, a, b, labels, differences).savefig(path, dpi=DPI)
    if show:
        plt.show()
    plt.close("all")
    return path
