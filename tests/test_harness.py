"""The experiment harness's own logic, without running a sweep: calibration
to a target duration, the spread warning and confidence interval, the
per-run ranking of workers, and compare.py's shared axis and settings diff."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("matplotlib")

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
sys.path.insert(0, str(EXPERIMENTS))

import compare  # noqa: E402
from harness import plots, results, sweep  # noqa: E402
from harness.workload import RunConfig, Size, Workload  # noqa: E402

# The experiments run in their own processes; nothing here needs an executor.
pytestmark = pytest.mark.executor("threads")


def _plan(duration: float | None, size: Size, **more: Any) -> sweep.Plan:
    workload = Workload(name="fake", metric="items per second", add_arguments=lambda p: None,
                        check=lambda a: None, measure=lambda c, p: {}, params=lambda a: {}, size=size)
    settings: dict[str, Any] = {"schedulers": ["central"], "repeats": 1, **more}
    return sweep.Plan(workload=workload, script=Path("fake.py"), executors=["threads"], workers=[1],
                      params={"n": None, "other": 7}, baselines={}, seed=0, duration_s=duration, **settings)


def test_calibration_scales_the_size_to_fill_the_duration(monkeypatch: pytest.MonkeyPatch) -> None:
    """A workload that takes 1 ms per unit of size, calibrated to 0.5 s, runs 500 units."""
    calls: list[dict[str, Any]] = []

    def fake_measure(plan: sweep.Plan, point: sweep.Point, params: dict[str, Any]) -> dict[str, Any]:
        calls.append(params)
        return {"elapsed_s": params["n"] * 1e-3}

    monkeypatch.setattr(sweep, "measure", fake_measure)
    plan = _plan(0.5, Size("n", start=20, quick=5))
    sized = sweep.calibrate(plan, sweep.points(plan)[0])
    assert sized == {"n": 500, "other": 7}
    assert calls[0]["n"] == 20  # from the start value
    assert all(c["other"] == 7 for c in calls)  # the other options are left alone
    assert len(calls) <= 3


def test_calibration_of_a_float_size_and_without_a_duration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweep, "measure", lambda plan, point, params: {"elapsed_s": params["n"] * 2e-3})
    plan = _plan(0.2, Size("n", start=1.0, quick=1.0))
    assert sweep.calibrate(plan, sweep.points(plan)[0])["n"] == pytest.approx(100.0)
    fixed = _plan(None, Size("n", start=1.0, quick=1.0))
    assert sweep.calibrate(fixed, sweep.points(fixed)[0]) == {"n": None, "other": 7}


def test_size_scaling_keeps_the_option_type() -> None:
    steps, work = Size("steps", start=10, quick=5), Size("work_ms", start=2.0, quick=1.0)
    assert steps.scaled(10, 0.01) == 1 and isinstance(steps.scaled(10, 3.3), int)
    assert work.scaled(2.0, 0.5) == pytest.approx(1.0)
    assert steps.warmup({"steps": 1000, "x": 1}) == {"steps": 100, "x": 1}


def test_noisy_points_are_measured_again_until_steady_or_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """central is steady: its 3 repeats suffice. workstealing never settles: it
    is measured up to max_repeats. lifo is noisy for two runs, then steady:
    once its interval has narrowed it is left alone, before the limit."""
    rng = random.Random(2)
    seen: dict[str, int] = {}

    def fake_measure(plan: sweep.Plan, point: sweep.Point, params: dict[str, Any]) -> dict[str, Any]:
        n = seen[point.scheduler] = seen.get(point.scheduler, 0) + 1
        rate = {"central": 1000.0, "workstealing": 1000 * rng.uniform(0.6, 1.4),
                "lifo": {1: 600.0, 2: 1400.0}.get(n, 1000.0)}[point.scheduler]
        stats = [{"worker": 0, "behaviors_run": 1, "parks": 0, "busy_ns": 0, "idle_ns": 0}]
        return {"throughput": rate, "elapsed_s": 1.0, "items": 1, "expected": 1, "stats": stats}

    monkeypatch.setattr(sweep, "measure", fake_measure)
    plan = _plan(None, Size("n", start=1, quick=1), schedulers=["central", "workstealing", "lifo"], repeats=3,
                 max_repeats=12)
    runs, workers = sweep.run(plan, progress=False)
    counts = runs.groupby("scheduler").size().to_dict()
    assert counts["central"] == 3 and counts["workstealing"] == 12
    assert 3 < counts["lifo"] < 12
    assert len(workers) == len(runs)


def _runs(throughputs: dict[tuple[str, int], list[float]]) -> pd.DataFrame:
    rows = []
    for (scheduler, workers), values in throughputs.items():
        rows += [{"scheduler": scheduler, "executor": "threads", "workers": workers, "throughput": v} for v in values]
    return pd.DataFrame(rows)


def test_spread_warnings_name_every_noisy_configuration_and_only_those() -> None:
    rng = random.Random(1)
    steady = [1000 * (1 + rng.uniform(-0.01, 0.01)) for _ in range(5)]
    noisy = [1000 * (1 + rng.choice([-0.3, 0.0, 0.3])) for _ in range(5)] + [700, 1300]
    runs = _runs({("central", 1): steady, ("central", 2): noisy, ("workstealing", 2): steady})
    runs["reference_s"] = 0.015  # the control loop: a machine of constant speed
    table = results.summarize(runs, {"axis": None})
    assert list(table["machine"]) == [0.0, 0.0, 0.0]
    lines = results.spread_warnings(table, 0.05)
    assert len(lines) == 1
    assert lines[0].startswith("large spread for central/threads on 2 worker(s): the median 1,000 has a 95% interval")
    assert "7 repeats ranged 700 .. 1,300; the machine's own speed, timed beside the same runs, spread 0%" in lines[0]
    assert results.spread_warnings(table, 1.0) == []


def test_the_median_interval_covers_the_median_and_narrows_with_agreement() -> None:
    wide = results.median_interval([80.0, 100.0, 120.0, 90.0, 110.0])
    narrow = results.median_interval([99.0, 100.0, 101.0, 100.5, 99.5])
    assert wide[0] <= 100 <= wide[1] and narrow[0] <= 100 <= narrow[1]
    assert narrow[1] - narrow[0] < wide[1] - wide[0]
    assert results.median_interval([5.0]) == (5.0, 5.0)
    assert results.median_interval([1.0, 2.0, 3.0]) == results.median_interval([1.0, 2.0, 3.0])  # seeded


def test_workers_are_ranked_within_each_run_before_aggregating() -> None:
    """Which index gets the producer changes between runs: ranking puts the
    busy worker first in every run."""
    workers = pd.DataFrame([
        {"run": 0, "worker": 0, "behaviors_run": 90}, {"run": 0, "worker": 1, "behaviors_run": 10},
        {"run": 1, "worker": 0, "behaviors_run": 5}, {"run": 1, "worker": 1, "behaviors_run": 95},
        {"run": 2, "worker": 0, "behaviors_run": 50}, {"run": 2, "worker": 1, "behaviors_run": 50},
    ])
    ranked = plots._ranked(workers)
    busiest = ranked[ranked["rank"] == 0].set_index("run")
    assert busiest["behaviors_run"].to_dict() == {0: 90, 1: 95, 2: 50}
    assert busiest.loc[2, "worker"] == 0  # a tie goes to the lower index
    assert ranked.groupby("rank")["behaviors_run"].mean().tolist() == pytest.approx([235 / 3, 65 / 3])


def _folder(root: Path, name: str, scale: float, params: dict[str, Any], split: list[tuple[int, int]]) -> Path:
    """A results folder of a 2-worker fanout-like sweep whose workers swap roles between runs."""
    folder = root / name
    folder.mkdir()
    runs, workers = [], []
    for run, (first, second) in enumerate(split):
        for scheduler in ("central", "workstealing"):
            run_id = len(runs)
            total = first + second
            runs.append({"run": run_id, "repeat": run, "scheduler": scheduler, "executor": "threads", "workers": 2,
                         "throughput": scale * (1000 + 10 * run), "elapsed_s": 1.0, "items": total,
                         "expected": total, "behaviors_run": total})
            for worker, count in enumerate((first, second)):
                workers.append({"run": run_id, "repeat": run, "scheduler": scheduler, "executor": "threads",
                                "workers": 2, "worker": worker, "behaviors_run": count, "parks": 1,
                                "busy_ns": 1, "idle_ns": 1_000_000, "shared_queue": count,
                                "values_moved_in": 0, "bytes_moved_in": 0, "values_found_local": 0})
    meta = {"workload": "fanout", "metric": "children per second", "axis": None, "repeats": len(split),
            "params": params, "duration_s": 1.0, "python": "3.13.0", "python_implementation": "CPython",
            "gil": True, "platform": "Linux", "cpu_count": 2, "baselines": {},
            "cpu_probe": {"before": {"processes": 2, "speedup": 1.9}, "after": {"processes": 2, "speedup": 1.95},
                          "ok": True},
            "sources": {"central": {"shared_queue": "shared queue"}, "workstealing": {"shared_queue": "queue"}}}
    pd.DataFrame(runs).to_csv(folder / "runs.csv", index=False)
    pd.DataFrame(workers).to_csv(folder / "workers.csv", index=False)
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([sys.executable, str(EXPERIMENTS / script), *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_figures_of_a_folder_whose_workers_swap_roles(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "a", 1.0, {"steps": 100, "body": "python"}, [(55, 45), (0, 100), (98, 2)])
    done = _run("plot.py", str(folder))
    assert done.returncode == 0, done.stderr
    assert {"throughput.png", "sources.png", "idle.png", "balance.png"} <= {p.name for p in folder.glob("*.png")}
    assert not (folder / "moves.png").exists()  # no values were used under subinterpreters: no empty panels


def test_the_caption_names_settings_interpreter_machine_and_probe(tmp_path: Path) -> None:
    meta = json.loads((_folder(tmp_path, "a", 1.0, {"steps": 100}, [(1, 1)]) / "meta.json").read_text())
    line = plots.caption(meta)
    for part in ("fanout", "steps=100", "calibrated to 1 s", "CPython 3.13.0, GIL", "2 CPUs", "CPU probe ok"):
        assert part in line
    meta["cpu_probe"]["ok"] = False
    assert "not to be trusted" in plots.caption(meta)


def test_compare_shares_one_axis_and_names_what_differs(tmp_path: Path) -> None:
    a = _folder(tmp_path, "a", 1.0, {"steps": 1000, "body": "python"}, [(50, 50), (60, 40)])
    b = _folder(tmp_path, "b", 10.0, {"steps": 50, "body": "python"}, [(50, 50), (60, 40)])
    runs_a, _, meta_a = results.read(a)
    runs_b, _, meta_b = results.read(b)
    changed = compare.differences(meta_a, meta_b)
    assert changed == ["steps: 1000 -> 50"]
    plt = plots._pyplot(False)
    fig = plots.compare_figure(plt, (runs_a, meta_a), (runs_b, meta_b), ("a", "b"), changed)
    top = fig.axes[0].get_ylim()[1]
    plt.close(fig)
    assert top >= runs_b["throughput"].max()  # the second folder's higher figures are on the plot

    done = _run("compare.py", str(a), str(b), "--out", str(tmp_path / "c.png"))
    assert done.returncode == 0, done.stderr
    assert "settings that differ (before -> after):\n  steps: 1000 -> 50" in done.stdout


def test_compare_refuses_different_body_kinds_unless_forced(tmp_path: Path) -> None:
    a = _folder(tmp_path, "a", 1.0, {"steps": 100, "body": "python"}, [(1, 1)])
    b = _folder(tmp_path, "b", 1.0, {"steps": 100, "body": "native"}, [(1, 1)])
    refused = _run("compare.py", str(a), str(b), "--out", str(tmp_path / "c.png"))
    assert refused.returncode == 2
    assert "the folders ran different bodies (python and native)" in refused.stderr
    assert not (tmp_path / "c.png").exists()
    forced = _run("compare.py", str(a), str(b), "--out", str(tmp_path / "c.png"), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "WARNING: comparing python bodies with native bodies" in forced.stderr
    assert (tmp_path / "c.png").is_file()


FAKE_WORKLOAD = '''
import random, sys
sys.path.insert(0, {experiments!r})
from harness.cli import main
from harness.workload import Size, Workload

def add_arguments(p):
    p.add_argument("--n", type=int, default=None, help="units of work")

def measure(config, p):
    # 0.1 ms per unit; throughput steady under "central", noisy under "workstealing".
    noisy = config.scheduler == "workstealing"
    rate = 1000 * (random.uniform(0.6, 1.4) if noisy else 1.0)
    stats = [{{"worker": w, "behaviors_run": p["n"] if w == 0 else 0, "parks": 0, "busy_ns": 0, "idle_ns": 0}}
             for w in range(config.workers)]
    return {{"throughput": rate, "elapsed_s": p["n"] * 1e-4, "items": p["n"], "expected": p["n"],
            "params": p, "stats": stats}}

WORKLOAD = Workload(name="fake", metric="units per second", add_arguments=add_arguments, check=lambda a: None,
                    measure=measure, params=lambda a: {{"n": a.n}}, size=Size("n", start=10, quick=5))
if __name__ == "__main__":
    sys.exit(main(WORKLOAD, __file__))
'''


def test_a_sweep_calibrates_each_point_and_warns_for_the_noisy_one(tmp_path: Path) -> None:
    script = tmp_path / "fake.py"
    script.write_text(FAKE_WORKLOAD.format(experiments=str(EXPERIMENTS)))
    done = subprocess.run([sys.executable, str(script), "--executors", "threads", "--workers", "1",
                           "--repeats", "5", "--duration", "0.05", "--no-progress", "--out", str(tmp_path / "out"),
                           "--seed", "3"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    folder = next((tmp_path / "out").iterdir())
    runs = pd.read_csv(folder / "runs.csv")
    assert set(runs["n"]) == {500}  # 0.05 s at 0.1 ms per unit, every repeat alike
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["duration_s"] == 0.05 and meta["max_spread"] == results.MAX_SPREAD
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning: large spread")]
    assert len(warnings) == 1 and "for workstealing/threads on 1 worker(s)" in warnings[0]
    assert "ci_low" in done.stdout and "ci_high" in done.stdout
