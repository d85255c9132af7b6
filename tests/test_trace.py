"""Traces: boc.start(trace=True), RunReport.trace, and what a boc.Trace exports."""

from __future__ import annotations

import json
import os
import random
import threading
from collections import defaultdict
from pathlib import Path

import pytest

import boc
import boc.native
from support import assert_clean_end, run_script

pandas = pytest.importorskip("pandas")

# The counter whose total equals the steal events, where a strategy steals.
STEAL_COUNTERS = {"workstealing": "steals", "stackstealing": "stolen_batches"}


def _traced_run(scheduler: str, **trace: int | bool) -> boc.RunReport:
    """Python behaviours from outside threads and from bodies, on one to
    three cowns, and native fan-outs that give idle peers something to steal."""
    boc.start(scheduler, workers=2, trace=True, **trace)
    cowns = [boc.Cown(0) for _ in range(6)]

    def schedule(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(150):
            picks = rng.sample(cowns, rng.randint(1, 3))

            @boc.when(*picks)
            def _(*held: boc.Cown[int]) -> None:
                held[0].value += 1

                @boc.when(cowns[0])
                def _(c: boc.Cown[int]) -> None:
                    c.value += 1

    threads = [threading.Thread(target=schedule, args=(s,)) for s in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    boc.quiesce()
    boc.native.fanout(boc.Cown(0), steps=10, children=32, child_ns=20_000)
    return boc.wait()


def test_a_run_without_trace_reports_none() -> None:
    boc.start("central", workers=1)
    boc.when(boc.Cown(0))(lambda c: None)
    assert boc.wait().trace is None


def test_events_agree_with_the_counters(scheduler: str) -> None:
    """Per worker: a start and an end per behaviour run, a park event per
    park, a steal event per steal; every behaviour was dispatched once."""
    report = _traced_run(scheduler)
    trace = report.trace
    assert trace is not None and trace.complete
    assert trace.workers == 2
    assert trace.sources == list(boc.sources(scheduler).values())
    frame = trace.to_frame()
    counts = frame.groupby(["worker", "kind"], observed=False).size()
    for stats in report.stats:
        w = stats["worker"]
        assert counts[(w, "start")] == stats["behaviors_run"]
        assert counts[(w, "end")] == stats["behaviors_run"]
        assert counts[(w, "park")] == stats["parks"] == counts[(w, "wake")]
        # Value moves (under "subinterpreters"; none under "threads").
        moves = frame[(frame["worker"] == w) & (frame["kind"] == "move")]
        assert len(moves) == stats["values_moved_in"]
        assert moves["bytes"].sum() == stats["bytes_moved_in"]
        assert all(len(c) == 1 for c in moves["cowns"])
        if scheduler in STEAL_COUNTERS:
            assert counts[(w, "steal")] == stats[STEAL_COUNTERS[scheduler]]
        # Each start names the source counter that counted it.
        for counter, label in boc.sources(scheduler).items():
            found = frame[(frame["worker"] == w) & (frame["kind"] == "start") & (frame["source"] == label)]
            assert len(found) == stats[counter], (counter, w)
    total = report.total("behaviors_run")
    assert (frame["kind"] == "dispatch").sum() == total
    behaviours = trace.behaviours()
    assert len(behaviours) == total
    assert behaviours["behaviour"].tolist() == list(range(1, total + 1))
    assert behaviours[["dispatched_ns", "started_ns", "ended_ns"]].notna().all().all()
    assert (behaviours["run_ns"] >= 0).all()
    # Python bodies on 1-3 cowns, plus the result cown each returns into.
    python = behaviours[behaviours["cowns"].map(len) >= 2]
    assert len(python) >= 300


def test_per_worker_measures_add_up(scheduler: str) -> None:
    trace = _traced_run(scheduler).trace
    assert trace is not None
    use = trace.utilisation()
    assert use["worker"].tolist() == [0, 1]
    assert ((use["busy_ns"] + use["parked_ns"]) <= use["span_ns"]).all()
    assert ((use["utilisation"] >= 0) & (use["utilisation"] <= 1)).all()
    assert use["busy_ns"].sum() > 0
    latency = trace.latency(percentiles=(50, 99))
    assert list(latency.columns) == ["count", "mean", "p50", "p99"]
    assert latency.loc["all", "count"] == len(trace.behaviours())
    assert latency.loc["all", "p50"] <= latency.loc["all", "p99"]


def test_the_steal_graph_counts_who_stole_from_whom() -> None:
    for _ in range(5):  # stealing needs the OS to run both workers at once
        report = _traced_run("workstealing")
        if report.total("steals"):
            break
    trace = report.trace
    assert trace is not None and report.total("steals") > 0
    graph = trace.steal_graph()
    assert list(graph.columns) == ["thief", "victim", "steals", "taken"]
    assert graph["steals"].sum() == report.total("steals")
    assert (graph["thief"] != graph["victim"]).all()
    assert (graph["taken"] >= graph["steals"]).all()


def _assert_well_formed_chrome(trace: boc.Trace, path: Path) -> None:
    """Every slice begins and ends on one track, timestamps never go back on
    a track, and every steal arrow has both ends."""
    trace.write_chrome(path)
    events = json.loads(path.read_text())["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in events if e.get("name") == "thread_name"}
    assert names == {0: "worker 0", 1: "worker 1", 2: "outside threads"}
    open_slices: dict[int, list[str]] = defaultdict(list)
    last_ts: dict[int, float] = {}
    flows: dict[int, set[str]] = defaultdict(set)
    slices = 0
    for e in events:
        if e["ph"] == "M":
            continue
        tid, ts = e["tid"], e["ts"]
        assert ts >= last_ts.get(tid, 0.0), f"time went back on track {tid}"
        last_ts[tid] = ts
        if e["ph"] == "B":
            open_slices[tid].append(e["name"])
        elif e["ph"] == "E":
            assert open_slices[tid] and open_slices[tid].pop() == e["name"], f"unmatched end on track {tid}"
            slices += 1
        elif e["ph"] in ("s", "f"):
            flows[e["id"]].add(e["ph"])
    assert not any(open_slices.values())
    assert all(ends == {"s", "f"} for ends in flows.values())
    behaviours = sum(1 for e in events if e["ph"] == "B" and e["name"].startswith("behaviour "))
    assert behaviours == len(trace.behaviours())
    assert slices >= behaviours


def test_the_chrome_trace_is_well_formed(tmp_path: Path) -> None:
    trace = _traced_run("workstealing").trace
    assert trace is not None
    _assert_well_formed_chrome(trace, tmp_path / "run.json")


def test_events_on_one_nanosecond_keep_their_order(tmp_path: Path) -> None:
    """A body's end and the next one's start can fall on the same
    nanosecond; the Chrome trace must still close the one before opening the
    other. Coarsening the clock to 50 µs makes most events tie."""
    numpy = pytest.importorskip("numpy")
    trace = _traced_run("workstealing").trace
    assert trace is not None
    saved = trace.save(tmp_path / "run.npz")
    with numpy.load(saved) as data:
        arrays = {k: data[k] for k in data.files}
    ns = arrays["ns"].view("i8") // 50_000 * 50_000
    arrays["ns"] = ns.view("u1")
    numpy.savez_compressed(saved, **arrays)
    coarse = boc.Trace.load(saved)
    assert coarse.to_frame()["time_ns"].duplicated().mean() > 0.5
    _assert_well_formed_chrome(coarse, tmp_path / "coarse.json")


def test_the_timeline_figure_is_written(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    trace = _traced_run("workstealing").trace
    assert trace is not None
    path = tmp_path / "timeline.png"
    trace.plot(path, title="a test run")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    zoomed = tmp_path / "zoomed.png"
    lo = int(trace.to_frame()["time_ns"].median())
    trace.plot(zoomed, window_ns=(lo, lo + 1_000_000))
    assert zoomed.stat().st_size > 0


def test_a_full_ring_keeps_the_latest_events_and_counts_the_rest() -> None:
    report = _traced_run("workstealing", trace_events=100)
    trace = report.trace
    assert trace is not None
    assert not trace.complete
    assert len(trace.recorded) == len(trace.overwritten) == 3  # two workers, then outside threads
    for recorded, lost in zip(trace.recorded, trace.overwritten):
        assert lost == max(recorded - 100, 0)
    assert sum(trace.recorded) - sum(trace.overwritten) >= len(trace)
    frame = trace.to_frame()
    assert (frame.groupby("worker").size() <= 100).all()
    # What is left is the end of the run: every start kept has its end.
    starts = frame[frame["kind"] == "start"]["behaviour"]
    ends = set(frame[frame["kind"] == "end"]["behaviour"])
    assert set(starts) <= ends
    assert "overwritten" in repr(trace)


def test_bad_trace_settings_are_refused() -> None:
    with pytest.raises(TypeError, match="trace must be True or False"):
        boc.start("central", workers=1, trace="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="trace_events must be a positive int"):
        boc.start("central", workers=1, trace=True, trace_events=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"trace_events must be in \[1, "):
        boc.start("central", workers=1, trace=True, trace_events=0)


def test_a_running_runtime_is_not_restarted_with_another_trace() -> None:
    boc.start("central", workers=1, trace=True)
    try:
        with pytest.raises(RuntimeError, match="trace=262144"):
            boc.start("central", workers=1)
        boc.start("central", workers=1, trace=True)  # the same configuration: nothing to do
    finally:
        boc.wait()


def test_boc_trace_in_the_environment_traces_a_run() -> None:
    code = """
        import boc
        c = boc.Cown(0)
        boc.when(c)(lambda c: None)  # starts the runtime with the defaults
        trace = boc.wait().trace
        print(len(trace.to_frame()[lambda f: f["kind"] == "start"]), trace.capacity)
    """
    env = {**os.environ, "BOC_TRACE": "1", "BOC_TRACE_EVENTS": "5000"}
    status, out, err = run_script(code, env=env)
    assert_clean_end(status, err)
    assert out.split() == ["1", "5000"]
    status, _, err = run_script(code, env={**os.environ, "BOC_TRACE": "maybe"})
    assert status != 0 and "BOC_TRACE must be 1 or 0" in err
