"""One measurement, in the subprocess the sweep started for it."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import boc
from harness.workload import RunConfig, Workload

# The line of a measurement's stdout that carries its result.
RESULT_PREFIX = "BOC-RESULT "
# Iterations of the control loop (about 30 ms of CPython on a 2020s core).
REFERENCE_LOOPS = 500_000


def reference_seconds() -> float:
    """Time a fixed amount of plain Python work: the machine's own speed now.

    Timed just before each measurement, it is the sweep's control: where
    it spreads as much as the measurements do, the machine, not the
    runtime, is what varied.
    """
    start = time.perf_counter()
    total = 0
    for i in range(REFERENCE_LOOPS):
        total += i
    return time.perf_counter() - start


def run_one(workload: Workload, spec_json: str) -> None:
    """Warm up, measure once, and print the result line.

    ``spec_json`` holds ``scheduler``, ``executor``, ``workers``, ``params``
    and ``warmup_params``. The warm-up is a whole run of its own (start to
    wait), so the measured run's statistics cover only itself. With
    ``trace`` ({"path": ..., "events": ...}) the measured run is traced and
    its trace saved to ``path`` + ``.npz`` (:meth:`boc.Trace.save`) and
    ``.json`` (Chrome trace-event format); the result then carries
    ``trace``, a summary of it.
    """
    spec = json.loads(spec_json)
    config = RunConfig(spec["scheduler"], spec["executor"], spec["workers"])
    reference_s = reference_seconds()
    if spec.get("warmup_params"):
        workload.measure(config, spec["warmup_params"])
    traced = spec.get("trace")
    if traced:
        config = dataclasses.replace(config, trace_events=traced["events"])
    result = workload.measure(config, spec["params"])
    report = result.pop("report", None)
    if report is not None:
        result["stats"] = report.stats
        result["options"] = report.options
    if traced:
        if report is None or report.trace is None:
            print("a traced run must return its report", file=sys.stderr)
            sys.exit(3)
        result["trace"] = _save_trace(report.trace, Path(traced["path"]))
    if result["items"] != result["expected"]:
        print(f"count check failed: {result['items']} ran, {result['expected']} expected", file=sys.stderr)
        sys.exit(3)
    result["reference_s"] = reference_s
    print(RESULT_PREFIX + json.dumps(result, default=_plain), flush=True)


def _save_trace(trace: boc.Trace, path: Path) -> dict[str, Any]:
    """Saves a traced run's trace beside the results; what it says in brief."""
    trace.save(path.with_suffix(".npz"))
    trace.write_chrome(path.with_suffix(".json"))
    latency = trace.latency(percentiles=(50, 99)).loc["all"]
    use = trace.utilisation()
    steals = trace.steal_graph()
    return {
        "file": path.name,
        "events": len(trace),
        "overwritten": sum(trace.overwritten),
        "latency_p50_ns": latency["p50"],
        "latency_p99_ns": latency["p99"],
        "utilisation": use["utilisation"].mean(),
        "parked_share": (use["parked_ns"] / use["span_ns"]).mean() if len(use) else 0.0,
        "steals": int(steals["steals"].sum()),
    }


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
