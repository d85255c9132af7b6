"""The timeline of a run: what every worker did, and when.

A run started with ``boc.start(..., trace=True)`` (or ``BOC_TRACE=1``)
records, per worker, when each behaviour became runnable (``dispatch``),
when a worker began it (``start``) and finished it (``end``), every steal,
every park and wake, and under the ``subinterpreters`` executor every cown
value that had to move into a worker's interpreter (``move``). :func:`boc.wait` returns them in the report's
``trace``, a :class:`Trace`: a pandas frame, a Chrome trace-event file that
Perfetto (https://ui.perfetto.dev) and ``chrome://tracing`` open, a
timeline figure, and the measures a scheduler comparison needs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    import matplotlib.figure  # type: ignore[import-untyped,unused-ignore]
    import pandas  # type: ignore[import-untyped,unused-ignore]

# A lane with more steals than this in view marks none: they would merge
# into a bar.
MARKED_STEALS = 300

# The columns the runtime hands over, with their numpy types.
_DTYPES = {
    "ns": "i8",
    "kind": "u1",
    "worker": "i4",
    "behaviour": "u8",
    "other": "i4",
    "count": "u8",
    "cowns_begin": "u4",
    "cowns_count": "u4",
}


def _needs(module: str, what: str) -> Any:
    """Imports `module` (pandas, matplotlib) or says how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:  # pragma: no cover - depends on the environment
        from boc.report import _install_hint

        raise ImportError(f"Trace.{what} needs {module}; install it with {_install_hint('experiments')}") from e


class Trace:
    """The timeline of one run, as :attr:`boc.RunReport.trace` holds it.

    Attributes:
        workers: the run's number of workers.
        capacity: records each worker's ring kept at most.
        sources: where a worker can find a behaviour under the run's
            strategy (``"next slot"``, ``"own queue"``, ``"stolen"``, ...),
            as :func:`boc.sources` names them.
        recorded: records written, per worker, then by outside threads.
        overwritten: of those, the oldest ones lost to a full ring. The
            trace is :attr:`complete` when none were.
    """

    def __init__(self, columns: dict[str, Any]) -> None:
        self._columns = columns
        self.workers: int = int(columns["workers"])
        self.capacity: int = int(columns["capacity"])
        self.sources: list[str] = list(columns["sources"])
        self.recorded: list[int] = [int(n) for n in columns["recorded"]]
        self.overwritten: list[int] = [int(n) for n in columns["overwritten"]]
        self._frame: pandas.DataFrame | None = None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Writes the trace to ``path`` (a compressed numpy ``.npz``), for
        :meth:`load` to read back, whole; returns the path."""
        np = _needs("numpy", "save()")
        meta = {k: v for k, v in self._columns.items() if not isinstance(v, bytes)}
        arrays = {k: np.frombuffer(v, dtype="u1") for k, v in self._columns.items() if isinstance(v, bytes)}
        out = Path(path)
        with out.open("wb") as f:
            np.savez_compressed(f, meta=np.array(json.dumps(meta)), **arrays)
        return out

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Trace:
        """A trace :meth:`save` wrote."""
        np = _needs("numpy", "load()")
        with np.load(path) as data:
            columns: dict[str, Any] = json.loads(str(data["meta"]))
            columns.update({k: data[k].tobytes() for k in data.files if k != "meta"})
        return cls(columns)

    def __len__(self) -> int:
        """The number of events kept."""
        return len(self._columns["ns"]) // 8

    def __repr__(self) -> str:
        lost = sum(self.overwritten)
        return f"<boc.Trace of {len(self)} events on {self.workers} worker(s), {lost} record(s) overwritten>"

    @property
    def complete(self) -> bool:
        """True if no worker's ring overflowed: every event of the run is here."""
        return not any(self.overwritten)

    def to_frame(self) -> pandas.DataFrame:
        """Every event, one row each, in time order.

        Columns:
            time_ns: nanoseconds since the run started (one monotonic clock).
            kind: ``dispatch`` (became runnable: it holds its cowns),
                ``start``, ``end`` (of its body), ``steal``, ``park``,
                ``wake``, ``move`` (a cown value moved into the worker's
                interpreter for the running behaviour).
            worker: whose timeline: the worker that recorded it, -1 for a
                thread outside the pool (a dispatch from the program).
            behaviour: its number (1, 2, ... in order of first event); <NA>
                for steal, park and wake.
            source: for a start, where the worker found the behaviour (one
                of :attr:`sources`).
            cowns: for a start, the ids of the behaviour's cowns (a tuple);
                for a move, the cown whose value moved.
            victim, taken: for a steal, the worker robbed and how many
                behaviours came away (one runs at once, the rest queue).
            bytes: for a move, the value's size in transit.
        """
        if self._frame is not None:
            return self._frame.copy()
        np = _needs("numpy", "to_frame()")
        pd = _needs("pandas", "to_frame()")
        c = {name: np.frombuffer(self._columns[name], dtype=dtype) for name, dtype in _DTYPES.items()}
        cown_ids = np.frombuffer(self._columns["cowns"], dtype="u8")
        kinds = list(self._columns["kinds"])
        kind = pd.Categorical.from_codes(c["kind"].astype("i1"), categories=kinds)
        # A trace saved by an older boc may lack the newer kinds.
        is_start, is_steal, is_move = (c["kind"] == (kinds.index(k) if k in kinds else -1)
                                       for k in ("start", "steal", "move"))
        behaviour = pd.array(c["behaviour"].astype("i8"), dtype="Int64")
        behaviour[c["behaviour"] == 0] = pd.NA
        labels = np.array(self.sources + [None], dtype=object)
        source = np.full(len(kind), None, dtype=object)
        known = is_start & (c["other"] >= 0)
        source[known] = labels[c["other"][known]]
        cowns = np.full(len(kind), None, dtype=object)
        for i in np.flatnonzero(is_start | is_move):
            begin = int(c["cowns_begin"][i])
            cowns[i] = tuple(int(x) for x in cown_ids[begin : begin + int(c["cowns_count"][i])])
        victim = pd.array(c["other"].astype("i8"), dtype="Int64")
        victim[~is_steal] = pd.NA
        taken = pd.array(c["count"].astype("i8"), dtype="Int64")
        taken[~is_steal] = pd.NA
        moved = pd.array(c["count"].astype("i8"), dtype="Int64")
        moved[~is_move] = pd.NA
        self._frame = pd.DataFrame(
            {
                "time_ns": c["ns"],
                "kind": kind,
                "worker": c["worker"].astype("i8"),
                "behaviour": behaviour,
                "source": pd.Categorical(source, categories=self.sources),
                "cowns": cowns,
                "victim": victim,
                "taken": taken,
                "bytes": moved,
            }
        )
        return self._frame.copy()

    def behaviours(self) -> pandas.DataFrame:
        """One row per behaviour: who made it runnable, who ran it, when.

        Columns: ``behaviour``, ``dispatched_by`` (worker, -1 for outside),
        ``worker`` (that ran it), ``source``, ``cowns``, ``dispatched_ns``,
        ``started_ns``, ``ended_ns``, ``latency_ns`` (from runnable to
        started: the time it waited in the scheduler) and ``run_ns`` (its
        body). A behaviour whose earlier events were overwritten has <NA>
        where they are missing.
        """
        pd = _needs("pandas", "behaviours()")
        f = self.to_frame()
        f = f[f["behaviour"].notna()]
        dispatch = f[f["kind"] == "dispatch"].set_index("behaviour")
        start = f[f["kind"] == "start"].set_index("behaviour")
        end = f[f["kind"] == "end"].set_index("behaviour")
        out = pd.DataFrame(index=pd.Index(f["behaviour"].unique(), name="behaviour"))
        out["dispatched_by"] = dispatch["worker"].astype("Int64")
        out["worker"] = start["worker"].astype("Int64")
        out["source"] = start["source"]
        out["cowns"] = start["cowns"]
        out["dispatched_ns"] = dispatch["time_ns"].astype("Int64")
        out["started_ns"] = start["time_ns"].astype("Int64")
        out["ended_ns"] = end["time_ns"].astype("Int64")
        out["latency_ns"] = out["started_ns"] - out["dispatched_ns"]
        out["run_ns"] = out["ended_ns"] - out["started_ns"]
        return out.sort_index().reset_index()

    def utilisation(self) -> pandas.DataFrame:
        """Per worker: time running bodies, parked, and in between.

        Columns: ``worker``, ``span_ns`` (from the trace's first event to its
        last), ``busy_ns`` (in bodies), ``parked_ns`` (asleep for want of
        work), ``other_ns`` (the rest: scheduling, looking for work,
        spinning) and ``utilisation`` (busy / span).
        """
        pd = _needs("pandas", "utilisation()")
        f = self.to_frame()
        span = int(f["time_ns"].max() - f["time_ns"].min()) if len(f) else 0
        rows = []
        for w in range(self.workers):
            mine = f[f["worker"] == w]
            busy = _paired_ns(mine, "start", "end")
            parked = _paired_ns(mine, "park", "wake")
            rows.append(
                {
                    "worker": w,
                    "span_ns": span,
                    "busy_ns": busy,
                    "parked_ns": parked,
                    "other_ns": max(span - busy - parked, 0),
                    "utilisation": busy / span if span else 0.0,
                }
            )
        return pd.DataFrame(rows)

    def latency(self, percentiles: Sequence[float] = (50, 90, 99)) -> pandas.DataFrame:
        """How long behaviours waited between runnable and started, in ns.

        One row for all behaviours and one per source (where they were
        found); columns ``count``, ``mean`` and ``p<q>`` for each percentile.
        """
        pd = _needs("pandas", "latency()")
        b = self.behaviours().dropna(subset=["latency_ns"])
        groups = [("all", b)] + [(s, b[b["source"] == s]) for s in self.sources]
        rows = {}
        for name, g in groups:
            values = g["latency_ns"].astype("float64")
            row: dict[str, float] = {"count": float(len(values)), "mean": values.mean()}
            for q in percentiles:
                row[f"p{q:g}"] = values.quantile(q / 100)
            rows[name] = row
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("source")

    def steal_graph(self) -> pandas.DataFrame:
        """Who stole from whom: one row per (thief, victim) pair that stole,
        with ``steals`` (times) and ``taken`` (behaviours). Pivot it for a
        matrix: ``g.pivot(index="thief", columns="victim", values="taken")``."""
        f = self.to_frame()
        s = f[f["kind"] == "steal"]
        g = s.groupby(["worker", "victim"], observed=True).agg(steals=("taken", "size"), taken=("taken", "sum"))
        return g.reset_index().rename(columns={"worker": "thief"}).astype("int64")

    def write_chrome(self, path: str | os.PathLike[str]) -> Path:
        """Writes the trace as Chrome trace-event JSON, for Perfetto's UI
        (https://ui.perfetto.dev) or ``chrome://tracing``: one track per
        worker, each behaviour a slice named by its number with its source,
        cowns and latency, parks as ``parked`` slices, steals as arrows from
        victim to thief, value moves as instants; and one track for outside
        threads, with an instant per behaviour they made runnable. Returns
        the path."""
        f = self.to_frame()
        events: list[dict[str, Any]] = [{"ph": "M", "pid": 1, "name": "process_name", "args": {"name": "boc"}}]
        tracks = {w: f"worker {w}" for w in range(self.workers)} | {-1: "outside threads"}
        for w, name in tracks.items():
            tid = self._tid(w)
            events.append({"ph": "M", "pid": 1, "tid": tid, "name": "thread_name", "args": {"name": name}})
            events.append({"ph": "M", "pid": 1, "tid": tid, "name": "thread_sort_index", "args": {"sort_index": tid}})

        def us(ns: int) -> float:
            return ns / 1000.0

        # Events go out in the frame's order, which is time order and, within
        # a worker, the order the worker recorded them: two events on one
        # nanosecond (a body's end and the next one's start) keep their
        # order, so slices nest. Each is placed at (row, order within row).
        body: list[tuple[int, int, int, dict[str, Any]]] = []  # (row, order, tid, event)
        b = self.behaviours().dropna(subset=["started_ns", "ended_ns"])
        slices = {row.behaviour: row for row in b.itertuples(index=False)}
        times = f["time_ns"].to_numpy()
        for kind, what in (("start", "B"), ("end", "E")):
            rows = f[(f["kind"] == kind) & f["behaviour"].isin(b["behaviour"])]
            for row, behaviour in zip(rows.index, rows["behaviour"]):
                info = slices[behaviour]
                event: dict[str, Any] = {"ph": what, "name": f"behaviour {behaviour}"}
                event["cat"] = str(info.source) if isinstance(info.source, str) else "behaviour"
                if what == "B":
                    event["args"] = {"source": info.source, "cowns": list(info.cowns or ())}
                    if not _missing(info.latency_ns):
                        event["args"]["latency_us"] = us(int(info.latency_ns))
                body.append((row, 0, self._tid(int(info.worker)), event))
        for w in range(self.workers):
            mine = f[(f["worker"] == w) & f["kind"].isin(["park", "wake"])]
            for begin, end in _pairs(mine, "park", "wake", rows=True):
                body.append((begin, 0, self._tid(w), {"ph": "B", "name": "parked", "cat": "park"}))
                body.append((end, 0, self._tid(w), {"ph": "E", "name": "parked", "cat": "park"}))
        moves = f[f["kind"] == "move"]
        for row, w, cowns, size in zip(moves.index, moves["worker"], moves["cowns"], moves["bytes"]):
            event = {"ph": "i", "s": "t", "name": f"move cown {cowns[0]}", "cat": "move", "args": {"bytes": int(size)}}
            body.append((row, 0, self._tid(int(w)), event))
        outside = f[(f["kind"] == "dispatch") & (f["worker"] == -1)]
        for row, behaviour in zip(outside.index, outside["behaviour"]):
            body.append((row, 0, self._tid(-1), {"ph": "i", "s": "t", "name": f"dispatch {behaviour}", "cat": "dispatch"}))
        steals = f[f["kind"] == "steal"]
        for n, (row, thief, victim, taken) in enumerate(zip(steals.index, steals["worker"], steals["victim"], steals["taken"])):
            label = f"steal {taken} from worker {victim}"
            body.append((row, 0, self._tid(int(thief)), {"ph": "B", "name": label, "cat": "steal"}))
            body.append((row, 1, self._tid(int(victim)), {"ph": "s", "name": "steal", "cat": "steal", "id": n}))
            body.append((row, 2, self._tid(int(thief)), {"ph": "f", "bp": "e", "name": "steal", "cat": "steal", "id": n}))
            body.append((row, 3, self._tid(int(thief)), {"ph": "E", "name": label, "cat": "steal"}))
        body.sort(key=lambda e: (e[0], e[1]))
        for row, _, tid, event in body:
            events.append({**event, "pid": 1, "tid": tid, "ts": us(int(times[row]))})
        out = Path(path)
        out.write_text(json.dumps({"traceEvents": events, "displayTimeUnit": "ns"}))
        return out

    def plot(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        title: str | None = None,
        window_ns: tuple[int, int] | None = None,
    ) -> matplotlib.figure.Figure:
        """A timeline: one lane per worker, each behaviour a bar coloured by
        where the worker found it, parks shaded grey, steals marked on the
        thief's lane. ``window_ns`` (from, to) zooms into part of the run.
        Saved to ``path`` if given; returns the figure."""
        _needs("matplotlib", "plot()")
        import matplotlib

        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch

        b = self.behaviours().dropna(subset=["started_ns", "ended_ns"])
        f = self.to_frame()
        lo, hi = window_ns if window_ns is not None else (int(f["time_ns"].min()), int(f["time_ns"].max()))
        scale, unit = _time_unit(hi - lo)
        fig, ax = plt.subplots(figsize=(11, 1.0 + 0.55 * self.workers), layout="constrained")
        colours = {s: plt.get_cmap("tab10")(i % 10) for i, s in enumerate(self.sources)}
        lane = 0.7
        for w in range(self.workers):
            y = w - lane / 2
            for begin, end in _pairs(f[(f["worker"] == w) & f["kind"].isin(["park", "wake"])], "park", "wake"):
                if end >= lo and begin <= hi:
                    ax.broken_barh([((begin - lo) / scale, (end - begin) / scale)], (y, lane), color="0.85")
            mine = b[(b["worker"] == w) & (b["ended_ns"] >= lo) & (b["started_ns"] <= hi)]
            for source, group in mine.groupby("source", observed=False, dropna=False):
                if group.empty:
                    continue
                spans = [((s - lo) / scale, max(e - s, 1) / scale)
                         for s, e in zip(group["started_ns"], group["ended_ns"])]
                colour = colours.get(source, "0.4") if isinstance(source, str) else "0.4"
                ax.broken_barh(spans, (y, lane), color=colour, linewidth=0, rasterized=len(spans) > 2000)
            steals = f[(f["worker"] == w) & (f["kind"] == "steal") & f["time_ns"].between(lo, hi)]
            if 0 < len(steals) <= MARKED_STEALS:
                ax.plot((steals["time_ns"] - lo) / scale, [w + lane / 2 + 0.05] * len(steals), "v", color="black",
                        markersize=3, linestyle="none")
        ax.set_yticks(range(self.workers), [f"worker {w}" for w in range(self.workers)])
        ax.set_ylim(self.workers - 0.5, -0.5)
        ax.set_xlim(0, (hi - lo) / scale)
        ax.set_xlabel(f"time since {'the window began' if window_ns else 'the run began'} ({unit})")
        handles: list[Any] = [Patch(color=colours[s], label=f"found in: {s}") for s in self.sources
                              if s in set(b["source"])]
        handles.append(Patch(color="0.85", label="parked"))
        shown = f[(f["kind"] == "steal") & f["time_ns"].between(lo, hi)].groupby("worker").size()
        if len(shown) and shown.max() <= MARKED_STEALS:
            handles.append(ax.plot([], [], "v", color="black", markersize=4, linestyle="none", label="steal")[0])
        elif len(shown):
            handles.append(Patch(color="none", label=f"{shown.sum()} steals (too many to mark:\nzoom in with window_ns)"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False)
        ax.set_title(title or f"{len(b)} behaviours on {self.workers} worker(s)")
        if not self.complete:
            ax.text(0, 1.02, f"{sum(self.overwritten)} older records overwritten: the run's start is missing",
                    transform=ax.transAxes, fontsize="small", color="firebrick")
        if path is not None:
            fig.savefig(path, dpi=150)
        return fig

    def _tid(self, worker: int) -> int:
        """Chrome track id: workers 0.., outside threads last."""
        return worker if worker >= 0 else self.workers


def _missing(value: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def _pairs(events: pandas.DataFrame, begin: str, end: str, *, rows: bool = False) -> list[tuple[int, int]]:
    """(begin, end) times of one worker's alternating `begin`/`end` events,
    or with `rows`, their rows in the frame; an `end` without its `begin`
    (overwritten) is dropped."""
    out = []
    opened: int | None = None
    for kind, t in zip(events["kind"], events.index if rows else events["time_ns"]):
        if kind == begin:
            opened = int(t)
        elif kind == end and opened is not None:
            out.append((opened, int(t)))
            opened = None
    return out


def _paired_ns(events: pandas.DataFrame, begin: str, end: str) -> int:
    return sum(e - b for b, e in _pairs(events[events["kind"].isin([begin, end])], begin, end))


def _time_unit(span_ns: int) -> tuple[float, str]:
    """A divisor and unit name that keep a span readable."""
    if span_ns >= 5e9:
        return 1e9, "s"
    if span_ns >= 5e6:
        return 1e6, "ms"
    if span_ns >= 5e3:
        return 1e3, "µs"
    return 1.0, "ns"
