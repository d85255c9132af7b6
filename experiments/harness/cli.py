"""The command line every workload script shares."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boc
from boc.runtime import executor_error, workers_error
from harness import measure, plots, probe, results, sweep
from harness.workload import Workload

REPO = Path(__file__).resolve().parents[2]
# Seconds of measured work per measurement, unless told otherwise: long
# enough that process start-up, warm-up and timer resolution are lost in it.
DEFAULT_DURATION = 1.0
# Repeats of every configuration, and how often a noisy one may be measured:
# enough for an interval of the median that can exclude a slow outlier.
DEFAULT_REPEATS = 5
DEFAULT_MAX_REPEATS = 15


def parallel_schedulers() -> list[str]:
    """Every compiled-in strategy that runs behaviours in parallel: the
    default of a sweep (a sequential one, such as systematic, is for finding
    ordering bugs and is measured only when named)."""
    return sorted(name for name in boc.schedulers() if not boc.sequential(name))


def int_list(text: str) -> list[int]:
    """An argparse type: comma-separated positive integers, sorted and unique."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 1,2,4, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return sorted(set(values))


def name_list(text: str) -> list[str]:
    """An argparse type: comma-separated names."""
    return [v.strip() for v in text.split(",") if v.strip()]


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def parser_for(workload: Workload) -> argparse.ArgumentParser:
    """The harness's options, then the workload's own."""
    p = argparse.ArgumentParser(
        prog=f"{workload.name}.py",
        description=f"Sweep the {workload.name} workload over schedulers, executors and worker counts.",
    )
    sweep_opts = p.add_argument_group("sweep")
    sweep_opts.add_argument("--schedulers", type=name_list, default=None,
                            help="comma-separated strategies (default: every compiled-in one that runs "
                            "behaviours in parallel: " + ", ".join(parallel_schedulers()) + ")")
    sweep_opts.add_argument("--executors", type=name_list, default=None,
                            help="comma-separated executors (default: every one this interpreter has: "
                            + ", ".join(boc.executors()) + ")")
    sweep_opts.add_argument("--workers", type=int_list, default=None,
                            help="comma-separated worker counts (default: 1 up to the CPU count)")
    sweep_opts.add_argument("--repeats", type=int, default=None,
                            help=f"measurements of every configuration (default {DEFAULT_REPEATS}; --quick: 1)")
    sweep_opts.add_argument("--max-repeats", type=int, default=None,
                            help="measure a configuration again, round by round, while its spread is above "
                            f"--max-spread, up to this many times in all (default {DEFAULT_MAX_REPEATS}, or "
                            "--repeats if larger; equal to --repeats: no extra rounds)")
    sweep_opts.add_argument("--duration", type=float, default=None,
                            help="seconds of measured work per measurement (default 1): the workload's "
                            f"--{workload.size.name.replace('_', '-')} is calibrated per configuration to fill it")
    sweep_opts.add_argument("--max-spread", type=float, default=results.MAX_SPREAD,
                            help="the spread of a configuration is the width of its median's "
                            f"{results.CONFIDENCE:.0%} interval over the median; above this it is measured "
                            f"again and, if still above, named in a warning (default {results.MAX_SPREAD})")
    sweep_opts.add_argument("--quick", action="store_true",
                            help="a small sweep (workers 1,2, one repeat, a short uncalibrated workload) "
                            "for a smoke test")
    sweep_opts.add_argument("--seed", type=int, default=0, help="seed of the shuffled run order")
    if workload.baselines:
        sweep_opts.add_argument("--baseline", type=name_list, default=[],
                                help="also run another runtime on the same shape: " + ", ".join(workload.baselines))
        sweep_opts.add_argument("--baseline-python", default=sys.executable,
                                help="the interpreter that runs the baselines (default: this one)")
    out = p.add_argument_group("output")
    out.add_argument("--out", type=Path, default=Path("results"), help="folder for result folders (default: results)")
    out.add_argument("--plot", action="store_true", help="write PNG figures beside the data")
    out.add_argument("--show", action="store_true", help="also open the figures (implies --plot)")
    out.add_argument("--trace", action="store_true",
                     help="after the measurements, run each configuration once more, traced, and save its "
                     "trace in the results' traces/ folder (.npz for boc.Trace.load, .json for Perfetto); "
                     "with --plot, draw the timeline of each scheduler and executor at the largest worker count")
    out.add_argument("--trace-events", type=int, default=sweep.Plan.trace_events,
                     help=f"records each worker keeps in a traced run (default {sweep.Plan.trace_events}; "
                     "older ones are overwritten and counted)")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--measure-one", metavar="SPEC", help=argparse.SUPPRESS)
    own = p.add_argument_group(f"{workload.name} workload")
    if workload.axis is not None:
        axis = workload.axis
        own.add_argument(_option(axis.name), type=int_list, default=None, dest=axis.name,
                         help=f"{axis.help}; comma-separated, each a point of the sweep (default "
                         f"{','.join(map(str, axis.default))}; --quick: {','.join(map(str, axis.quick))})")
    workload.add_arguments(own)  # type: ignore[arg-type]
    return p


def _check(p: argparse.ArgumentParser, workload: Workload, args: argparse.Namespace) -> None:
    known = boc.schedulers()
    for name in args.schedulers:
        if name not in known:
            p.error(f"unknown scheduler {name!r}; available: {', '.join(sorted(known))}")
    for name in args.executors:
        if error := executor_error(name):
            p.error(error)
    for n in args.workers:
        if error := workers_error(n):
            p.error(f"--workers: {error}")
    if args.repeats < 1:
        p.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.max_repeats < args.repeats:
        p.error(f"--max-repeats must be >= --repeats ({args.repeats}), got {args.max_repeats}")
    if args.duration is not None and not args.duration > 0:
        p.error(f"--duration must be > 0 seconds, got {args.duration}")
    if not args.max_spread > 0:
        p.error(f"--max-spread must be > 0, got {args.max_spread}")
    if args.trace_events < 1:
        p.error(f"--trace-events must be >= 1, got {args.trace_events}")
    if error := results.unwritable(args.out):
        p.error(f"--out: {error}")
    for name in getattr(args, "baseline", []):
        if name not in workload.baselines:
            p.error(f"unknown baseline {name!r}; available: {', '.join(workload.baselines)}")
        found = subprocess.run([args.baseline_python, "-c", f"import {name}"], capture_output=True)
        if found.returncode != 0:
            p.error(
                f"baseline {name!r} is not importable by {args.baseline_python}; install it there "
                f"(bocpy: pip install bocpy==0.14.0, Python 3.12 or newer) or pass --baseline-python"
            )
    try:
        workload.check(args)
    except ValueError as e:
        p.error(str(e))


def _apply_defaults(p: argparse.ArgumentParser, workload: Workload, args: argparse.Namespace) -> None:
    """Fill what the user left out; --quick changes only those defaults."""
    if args.schedulers is None:
        args.schedulers = parallel_schedulers()
    if args.executors is None:
        args.executors = list(boc.executors())
    if workload.axis is not None and getattr(args, workload.axis.name) is None:
        axis = workload.axis
        setattr(args, axis.name, axis.quick if args.quick else axis.default)
    if args.workers is None:
        args.workers = [1, 2] if args.quick else list(range(1, (os.cpu_count() or 1) + 1))
    if args.repeats is None:
        args.repeats = 1 if args.quick else DEFAULT_REPEATS
    if args.max_repeats is None:
        args.max_repeats = args.repeats if args.quick else max(args.repeats, DEFAULT_MAX_REPEATS)
    size = workload.size
    given = getattr(args, size.name)
    if given is not None and args.duration is not None:
        p.error(f"give --{size.name.replace('_', '-')} (a fixed amount of work) or --duration (calibrated), not both")
    if given is None and args.quick and args.duration is None:
        setattr(args, size.name, size.quick)
    elif given is None and args.duration is None:
        args.duration = DEFAULT_DURATION
    if args.show:
        args.plot = True


def main(workload: Workload, script: str, argv: list[str] | None = None) -> int:
    """Run the workload's sweep from the command line; the exit status."""
    p = parser_for(workload)
    args = p.parse_args(argv)
    if args.measure_one is not None:
        measure.run_one(workload, args.measure_one)
        return 0
    _apply_defaults(p, workload, args)
    _check(p, workload, args)

    params = workload.params(args)
    baselines = {name: args.baseline_python for name in getattr(args, "baseline", [])}
    axis_values = getattr(args, workload.axis.name) if workload.axis is not None else None
    # Traces are saved in a folder of their own until the results folder is
    # written, then moved into it.
    trace_dir = Path(tempfile.mkdtemp(prefix=f".{workload.name}-traces-", dir=args.out)) if args.trace else None
    plan = sweep.Plan(
        workload=workload, script=Path(script).resolve(), schedulers=args.schedulers, executors=args.executors,
        workers=args.workers, repeats=args.repeats, params=params, baselines=baselines, seed=args.seed,
        axis_values=axis_values, duration_s=args.duration, max_repeats=args.max_repeats, max_spread=args.max_spread,
        trace_dir=trace_dir, trace_events=args.trace_events,
    )
    # More processes than CPUs cannot run at once: the probe asks only for
    # the parallelism the machine has.
    probe_processes = min(max(args.workers), os.cpu_count() or 1)
    probe_seconds = 0.2 if args.quick else 0.5
    started = time.time()
    before = probe.cpu_capacity(probe_processes, probe_seconds)
    try:
        runs, workers = sweep.run(plan, progress=not args.no_progress)
    except sweep.SweepError as e:
        print(f"error: {e}", file=sys.stderr)
        if trace_dir is not None:
            shutil.rmtree(trace_dir, ignore_errors=True)
        return 1
    after = probe.cpu_capacity(probe_processes, probe_seconds)

    meta: dict[str, Any] = {
        "workload": workload.name,
        "metric": workload.metric,
        "command": [sys.executable, *sys.argv],
        "git_revision": results.git_revision(REPO),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "sweep_s": round(time.time() - started, 3),
        "schedulers": args.schedulers,
        "executors": args.executors,
        "axis": workload.axis.name if workload.axis is not None else None,
        "axis_values": axis_values,
        "baselines": {name: args.baseline_python for name in baselines},
        "workers": args.workers,
        "repeats": args.repeats,
        "max_repeats": args.max_repeats,
        "quick": args.quick,
        "duration_s": args.duration,
        "max_spread": args.max_spread,
        "seed": args.seed,
        "params": params,
        "cpu_probe": {"before": before, "after": after,
                      "ok": probe.capacity_ok(before) and probe.capacity_ok(after)},
        "sources": {name: boc.sources(name) for name in args.schedulers},
        "trace_events": args.trace_events if args.trace else None,
        **results.environment(),
    }
    folder = results.write(args.out, workload.name, runs, workers, meta)
    if trace_dir is not None:
        trace_dir.rename(folder / results.TRACES_DIR)
        print(f"traces: {folder / results.TRACES_DIR}")

    table = results.summarize(runs, meta)
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    for line in results.spread_warnings(table, args.max_spread):
        print(f"warning: {line}", file=sys.stderr)
    if not meta["cpu_probe"]["ok"]:
        print(
            f"warning: the CPU probe saw {before['speedup']}x then {after['speedup']}x from "
            f"{probe_processes} processes (expected about {probe_processes}x): this machine "
            "delivered less parallel CPU than it has; do not trust multi-worker figures from this run",
            file=sys.stderr,
        )
    if args.plot:
        for path in plots.draw(folder, runs, workers, meta, show=args.show):
            print(f"figure: {path}")
    print(f"results: {folder}")
    return 0
