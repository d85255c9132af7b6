"""The experiment scripts: a quick sweep runs end to end and leaves tidy data
and figures; bad arguments fail clearly and leave nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import boc

# The scripts sweep every executor themselves, in their own processes.
pytestmark = pytest.mark.executor("threads")

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
RUN_COLUMNS = {"run", "repeat", "scheduler", "executor", "workers", "throughput", "elapsed_s", "items", "expected",
               "behaviors_run"}
WORKER_COLUMNS = {"run", "repeat", "scheduler", "executor", "workers", "worker", "behaviors_run", "parks", "busy_ns",
                  "idle_ns", "values_moved_in", "bytes_moved_in", "values_found_local"}
FIGURES = {"throughput.png", "sources.png", "idle.png", "balance.png"}
EXECUTORS = list(boc.executors())
# Under "subinterpreters", per worker, where the values a behaviour used came from.
MOVES = {"moves.png"} if "subinterpreters" in EXECUTORS else set()


def _run(script: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run(
        [sys.executable, str(EXPERIMENTS / script), *args],
        capture_output=True, text=True, timeout=timeout, env=env,
    )


def _only_folder(root: Path) -> Path:
    folders = [p for p in root.iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    return folders[0]


@pytest.mark.parametrize(
    "script, extra, figures",
    [
        ("fanout.py", [], MOVES),
        ("fanout.py", ["--body", "native"], set()),
        ("chain.py", [], MOVES),
        ("cpu.py", ["--body-us", "5,50"], MOVES | ({"overtake.png"} if MOVES else set())),
    ],
    ids=["fanout-python", "fanout-native", "chain", "cpu"],
)
def test_quick_sweep_writes_data_and_figures(tmp_path: Path, script: str, extra: list[str], figures: set[str]) -> None:
    """--quick measures every scheduler that runs behaviours in parallel (the
    default; a sequential one only when named) under every executor on 1 and
    2 workers (and every value of the workload's axis) and writes the
    documented files."""
    done = _run(script, "--quick", "--plot", "--no-progress", "--out", str(tmp_path), *extra)
    assert done.returncode == 0, done.stderr
    folder = _only_folder(tmp_path)
    assert folder.name.startswith(script.removesuffix(".py") + "-")

    runs = pd.read_csv(folder / "runs.csv")
    assert RUN_COLUMNS <= set(runs.columns)
    schedulers = {s for s in boc.schedulers() if not boc.sequential(s)}
    expected = {(s, e, w) for s in schedulers for e in EXECUTORS for w in (1, 2)}
    assert expected == set(zip(runs["scheduler"], runs["executor"], runs["workers"]))
    if script == "cpu.py":
        assert sorted(runs["body_us"].unique()) == [5, 50]
        assert len(runs) == 2 * len(expected)
    assert (runs["items"] == runs["expected"]).all()  # the count check
    assert (runs["throughput"] > 0).all()

    workers = pd.read_csv(folder / "workers.csv")
    assert WORKER_COLUMNS <= set(workers.columns)
    # One row per worker per run, and the per-worker counts add up to the run's.
    assert len(workers) == runs["workers"].sum()
    per_run = workers.groupby("run")["behaviors_run"].sum()
    assert (per_run.sort_index().to_numpy() == runs.sort_values("run")["behaviors_run"].to_numpy()).all()

    meta = json.loads((folder / "meta.json").read_text())
    for key in ("git_revision", "boc_version", "python", "platform", "cpu_count", "command", "params", "cpu_probe"):
        assert key in meta
    assert {"before", "after", "ok"} <= set(meta["cpu_probe"])
    drawn = {p.name for p in folder.glob("*.png")}
    assert FIGURES | figures <= drawn

    # plot.py redraws from the CSVs alone.
    for png in folder.glob("*.png"):
        png.unlink()
    redraw = _run("plot.py", str(folder))
    assert redraw.returncode == 0, redraw.stderr
    assert {p.name for p in folder.glob("*.png")} == drawn


def test_trace_saves_one_traced_run_per_configuration(tmp_path: Path) -> None:
    """--trace runs each configuration once more, traced, and keeps its trace
    (for boc.Trace.load and for Perfetto) with a summary; --plot draws the
    timeline at the largest worker count, and plot.py redraws it."""
    done = _run("chain.py", "--quick", "--plot", "--trace", "--trace-events", "5000", "--no-progress",
                "--schedulers", "workstealing,central", "--executors", "threads", "--workers", "1,2",
                "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    folder = _only_folder(tmp_path)
    traces = folder / "traces"
    points = {f"{s}-threads-w{w}" for s in ("workstealing", "central") for w in (1, 2)}
    assert {p.stem for p in traces.glob("*.npz")} == points
    assert {p.stem for p in traces.glob("*.json")} == points
    summary = pd.read_csv(traces / "traces.csv")
    assert len(summary) == 4
    assert {"scheduler", "executor", "workers", "events", "overwritten", "latency_p50_ns", "latency_p99_ns",
            "utilisation", "steals"} <= set(summary.columns)
    assert (summary["events"] > 0).all()
    trace = boc.Trace.load(traces / "workstealing-threads-w2.npz")
    assert trace.workers == 2 and trace.capacity == 5000
    assert (trace.to_frame()["kind"] == "start").sum() > 0
    assert json.loads((traces / "central-threads-w1.json").read_text())["traceEvents"]
    assert json.loads((folder / "meta.json").read_text())["trace_events"] == 5000
    timelines = {"timeline-workstealing-threads.png", "timeline-central-threads.png"}
    assert timelines <= {p.name for p in folder.glob("*.png")}
    for png in folder.glob("timeline-*.png"):
        png.unlink()
    redraw = _run("plot.py", str(folder))
    assert redraw.returncode == 0, redraw.stderr
    assert timelines <= {p.name for p in folder.glob("*.png")}


def test_compare_overlays_two_folders(tmp_path: Path) -> None:
    """compare.py prints both medians with their ratio and writes a figure."""
    for _ in range(2):
        done = _run("chain.py", "--quick", "--workers", "1", "--no-progress", "--out", str(tmp_path))
        assert done.returncode == 0, done.stderr
    a, b = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    out = tmp_path / "cmp.png"
    done = _run("compare.py", str(a), str(b), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "ratio" in done.stdout and out.is_file()


@pytest.mark.parametrize(
    "script, args, message",
    [
        ("fanout.py", ["--schedulers", "nope"], "unknown scheduler 'nope'"),
        ("fanout.py", ["--executors", "nope"], "unknown executor 'nope'"),
        ("cpu.py", ["--body-us", "0"], "argument --body-us: expected positive integers"),
        ("fanout.py", ["--workers", "0"], "positive integers"),
        ("fanout.py", ["--workers", "a,b"], "comma-separated integers"),
        ("fanout.py", ["--workers", "1,2000"], "--workers: workers must be between 1 and 1024, got 2000"),
        ("fanout.py", ["--repeats", "0"], "--repeats must be >= 1"),
        ("fanout.py", ["--repeats", "5", "--max-repeats", "3"], "--max-repeats must be >= --repeats (5), got 3"),
        ("fanout.py", ["--steps", "0"], "--steps must be >= 1"),
        ("fanout.py", ["--body", "java"], "invalid choice"),
        ("fanout.py", ["--child-ns", "100"], "--child-ns applies to --body native"),
        ("fanout.py", ["--steps", "10", "--duration", "1"], "give --steps (a fixed amount of work) or --duration"),
        ("cpu.py", ["--work-ms", "10", "--duration", "1"], "give --work-ms (a fixed amount of work) or --duration"),
        ("fanout.py", ["--duration", "0"], "--duration must be > 0 seconds, got 0.0"),
        ("fanout.py", ["--max-spread", "0"], "--max-spread must be > 0, got 0.0"),
        ("fanout.py", ["--trace", "--trace-events", "0"], "--trace-events must be >= 1, got 0"),
        ("fanout.py", ["--baseline", "nope"], "unknown baseline 'nope'"),
        ("chain.py", ["--ring-size", "2", "--group", "2"], "--ring-size (2) must be at least"),
        ("chain.py", ["--hops", "-1"], "--hops must be >= 1"),
    ],
)
def test_bad_arguments_fail_clearly_and_write_nothing(tmp_path: Path, script: str, args: list[str], message: str) -> None:
    out = tmp_path / "results"
    done = _run(script, "--quick", "--out", str(out), *args, timeout=60)
    assert done.returncode != 0
    assert message in done.stderr
    assert not out.exists() or not any(out.iterdir())


def test_an_out_path_that_is_a_file_fails_before_the_sweep(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    done = _run("fanout.py", "--quick", "--out", str(taken), timeout=60)
    assert done.returncode != 0
    assert f"--out: {taken} exists and is not a folder" in done.stderr
    assert taken.read_text() == "not a folder"


def test_the_cpu_probe_asks_for_no_more_processes_than_cpus(tmp_path: Path) -> None:
    cpus = os.cpu_count() or 1
    done = _run("fanout.py", "--quick", "--workers", str(cpus + 1), "--schedulers", "central", "--executors", "threads",
                "--steps", "5", "--no-progress", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    meta = json.loads((_only_folder(tmp_path) / "meta.json").read_text())
    assert meta["cpu_probe"]["before"]["processes"] == cpus
    assert meta["cpu_probe"]["after"]["processes"] == cpus


def test_overhead_writes_a_results_folder(tmp_path: Path) -> None:
    done = _run("overhead.py", "--workers", "1", "--schedulers", "central", "--shapes", "native_chain,python_spawn",
                "--repeats", "2", "--scale", "0.01", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    folder = _only_folder(tmp_path)
    runs = pd.read_csv(folder / "runs.csv")
    assert len(runs) == 2 * (1 + len(EXECUTORS))  # native shapes run under one executor
    assert (runs["ns_per_behaviour"] > 0).all()
    assert set(runs["shape"]) == {"native_chain", "python_spawn"}
    workers = pd.read_csv(folder / "workers.csv")
    assert workers.groupby("run")["behaviors_run"].sum().tolist() == runs["behaviors_run"].tolist()
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["workload"] == "overhead" and meta["shapes"] == ["native_chain", "python_spawn"]
    assert not runs["traced"].any() and not (folder / "traces").exists()


def test_overhead_with_trace_times_traced_runs_too_and_keeps_their_traces(tmp_path: Path) -> None:
    done = _run("overhead.py", "--workers", "2", "--schedulers", "workstealing", "--executors", "threads",
                "--shapes", "native_fanout,python_chain", "--repeats", "2", "--scale", "0.01", "--trace",
                "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    folder = _only_folder(tmp_path)
    runs = pd.read_csv(folder / "runs.csv")
    assert sorted(runs.groupby("traced").size().tolist()) == [4, 4]
    saved = {p.name for p in (folder / "traces").iterdir()}
    assert saved == {f"{s}-workstealing-threads-w2.{ext}" for s in ("native_fanout", "python_chain")
                     for ext in ("npz", "json")}
    trace = boc.Trace.load(folder / "traces" / "python_chain-workstealing-threads-w2.npz")
    last = runs[(runs["shape"] == "python_chain") & runs["traced"]].iloc[-1]
    assert (trace.to_frame()["kind"] == "start").sum() == last["behaviors_run"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--shapes", "nope"], "unknown shape 'nope'"),
        (["--workers", "2000"], "--workers: workers must be between 1 and 1024, got 2000"),
        (["--scale", "0"], "--scale must be > 0"),
        (["--executors", "nope"], "unknown executor 'nope'"),
    ],
)
def test_overhead_bad_arguments_fail_clearly_and_write_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "results"
    done = _run("overhead.py", "--out", str(out), *args, timeout=60)
    assert done.returncode == 2
    assert message in done.stderr
    assert not out.exists() or not any(out.iterdir())


def test_plot_and_compare_reject_a_folder_without_results(tmp_path: Path) -> None:
    for script, args in (("plot.py", [str(tmp_path)]), ("compare.py", [str(tmp_path), str(tmp_path)])):
        done = _run(script, *args, timeout=60)
        assert done.returncode == 2
        assert "is not a results folder" in done.stderr
