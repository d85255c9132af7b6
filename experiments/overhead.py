"""Cost per behaviour, from schedule to release, for empty bodies.

For every scheduler, executor and worker count, times four shapes and
prints nanoseconds per behaviour (median of --repeats runs, with min and
max; the native shapes run no Python body, so they are timed under the
first executor only):

- native_chain:   256 cowns, each with a native behaviour that reschedules
                  itself on its cown (no interpreter involved);
- native_fanout:  one native producer scheduling children on fresh cowns;
- python_chain:   16 cowns, each with a Python behaviour that reschedules
                  itself from inside its body;
- python_spawn:   the main thread schedules Python behaviours on fresh cowns.

Every run's figure goes to ``runs.csv`` (one row per run: shape, scheduler,
executor, workers, repeat, traced, ns_per_behaviour) and its per-worker
counters to ``workers.csv``, in a results folder like the other workloads'
(``--out``).

With ``--trace`` every repeat also runs with tracing on, right after the
untraced one, so the table shows what a trace costs per behaviour; the last
traced run of each point is kept in the folder's ``traces/``
(``<shape>-<scheduler>-<executor>-w<workers>.npz`` for boc.Trace.load,
``.json`` for Perfetto).

Run: python experiments/overhead.py [--workers 1,2] [--schedulers a,b] [--executors a,b] [--repeats 3] [--scale 1.0]
                                    [--trace]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pandas as pd

import boc
import boc.native
from boc.runtime import executor_error, workers_error
from harness import cli, results


def native_chain(n: int) -> int:
    cowns = [boc.Cown() for _ in range(256)]
    per_cown = max(1, n // len(cowns))
    for c in cowns:
        boc.native.loop(c, times=per_cown)
    return per_cown * len(cowns)


def native_fanout(n: int) -> int:
    children = 1000
    steps = max(1, n // (children + 1))
    boc.native.fanout(boc.Cown(), steps=steps, children=children)
    return steps * (children + 1)


def python_chain(n: int) -> int:
    cowns = [boc.Cown(0) for _ in range(16)]
    per_cown = max(1, n // len(cowns))

    def step(c: boc.Cown, left: int) -> None:
        if left > 1:

            @boc.when(c)
            def _(c: boc.Cown, left: int = left - 1) -> None:
                step(c, left)

    for c in cowns:

        @boc.when(c)
        def _(c: boc.Cown) -> None:
            step(c, per_cown)

    return per_cown * len(cowns)


def python_spawn(n: int) -> int:
    cowns = [boc.Cown(0) for _ in range(n)]
    for c in cowns:

        @boc.when(c)
        def _(c: boc.Cown) -> None:
            pass

    return n


SHAPES: dict[str, tuple[Callable[[int], int], int]] = {
    "native_chain": (native_chain, 2_000_000),
    "native_fanout": (native_fanout, 2_000_000),
    "python_chain": (python_chain, 100_000),
    "python_spawn": (python_spawn, 100_000),
}


def measure(
    scheduler: str, executor: str, workers: int, shape: str, scale: float, traced: bool = False
) -> tuple[dict[str, Any], boc.RunReport]:
    """One run: its row (ns per behaviour, behaviours, elapsed time) and its report."""
    body, size = SHAPES[shape]
    boc.start(scheduler, workers=workers, executor=executor, trace=traced)
    t0 = time.perf_counter()
    expected = body(max(1, int(size * scale)))
    boc.quiesce()
    elapsed = time.perf_counter() - t0
    report = boc.wait()
    ran = report.total("behaviors_run")
    if ran != expected:
        raise RuntimeError(f"{shape}: expected {expected} behaviours, {ran} ran")
    return {"ns_per_behaviour": elapsed / ran * 1e9, "behaviors_run": ran, "elapsed_s": elapsed}, report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=cli.int_list, default=[1, 2], help="comma-separated worker counts (default 1,2)")
    p.add_argument("--schedulers", type=cli.name_list, default=cli.parallel_schedulers(),
                   help="comma-separated strategies (default: every compiled-in one that runs behaviours in parallel)")
    p.add_argument("--executors", type=cli.name_list, default=list(boc.executors()),
                   help="comma-separated executors for the Python shapes (default: every one this interpreter has)")
    p.add_argument("--shapes", type=cli.name_list, default=list(SHAPES),
                   help="comma-separated shapes (default: " + ", ".join(SHAPES) + ")")
    p.add_argument("--repeats", type=int, default=3, help="runs per point, in one process (default 3)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every run's size (default 1.0)")
    p.add_argument("--out", type=Path, default=Path("results"), help="folder for result folders (default: results)")
    p.add_argument("--trace", action="store_true",
                   help="also time every repeat with tracing on, and keep each point's last trace in traces/")
    args = p.parse_args(argv)
    for name in args.schedulers:
        if name not in boc.schedulers():
            p.error(f"unknown scheduler {name!r}; available: {', '.join(sorted(boc.schedulers()))}")
    for name in args.executors:
        if error := executor_error(name):
            p.error(error)
    for n in args.workers:
        if error := workers_error(n):
            p.error(f"--workers: {error}")
    for shape in args.shapes:
        if shape not in SHAPES:
            p.error(f"unknown shape {shape!r}; available: {', '.join(SHAPES)}")
    if args.repeats < 1:
        p.error(f"--repeats must be >= 1, got {args.repeats}")
    if not args.scale > 0:
        p.error(f"--scale must be > 0, got {args.scale}")
    if error := results.unwritable(args.out):
        p.error(f"--out: {error}")

    started = time.time()
    rows: list[dict[str, Any]] = []
    per_worker: list[dict[str, Any]] = []
    traces: dict[str, boc.Trace] = {}
    modes = [False, True] if args.trace else [False]
    print(f"{'shape':<14} {'scheduler':<13} {'executor':<16} {'workers':>7} {'traced':>6} {'ns/behaviour':>13} "
          f"{'min':>9} {'max':>9}")
    for shape in args.shapes:
        # Native shapes run no Python body: one executor is enough.
        executors = args.executors[:1] if shape.startswith("native") else args.executors
        for workers in args.workers:
            for scheduler in args.schedulers:
                for executor in executors:
                    point = {"shape": shape, "scheduler": scheduler, "executor": executor, "workers": workers}
                    ns: dict[bool, list[float]] = {traced: [] for traced in modes}
                    for repeat in range(args.repeats):
                        for traced in modes:
                            row, report = measure(scheduler, executor, workers, shape, args.scale, traced)
                            run = len(rows)
                            rows.append({"run": run, "repeat": repeat, **point, "traced": traced, **row})
                            per_worker.extend({"run": run, "repeat": repeat, **point, "traced": traced, **w}
                                              for w in report.stats)
                            ns[traced].append(row["ns_per_behaviour"])
                            if report.trace is not None:
                                traces[f"{shape}-{scheduler}-{executor}-w{workers}"] = report.trace
                    for traced in modes:
                        print(f"{shape:<14} {scheduler:<13} {executor:<16} {workers:>7} {'yes' if traced else 'no':>6} "
                              f"{statistics.median(ns[traced]):>13.1f} {min(ns[traced]):>9.1f} "
                              f"{max(ns[traced]):>9.1f}", flush=True)

    meta: dict[str, Any] = {
        "workload": "overhead",
        "metric": "ns per behaviour",
        "command": [sys.executable, *sys.argv],
        "git_revision": results.git_revision(cli.REPO),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "sweep_s": round(time.time() - started, 3),
        "schedulers": args.schedulers,
        "executors": args.executors,
        "shapes": args.shapes,
        "workers": args.workers,
        "repeats": args.repeats,
        "trace": args.trace,
        "params": {"scale": args.scale, "sizes": {name: SHAPES[name][1] for name in args.shapes}},
        **results.environment(),
    }
    folder = results.write(args.out, "overhead", pd.DataFrame(rows), pd.DataFrame(per_worker), meta)
    if traces:
        (folder / results.TRACES_DIR).mkdir()
        for name, trace in traces.items():
            trace.save(folder / results.TRACES_DIR / f"{name}.npz")
            trace.write_chrome(folder / results.TRACES_DIR / f"{name}.json")
        print(f"traces: {folder / results.TRACES_DIR}")
    print(f"results: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
