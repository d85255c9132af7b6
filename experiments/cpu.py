"""CPU-bound bodies of a chosen length: where parallel Python pays for moving values.

The main thread schedules N behaviours round-robin over C cowns (64 by
default), each cown holding a list of V integers. Each body runs a pure-Python
loop of about --body-us microseconds (calibrated once per sweep, so every
measurement does the same work) and writes its result into the list.
Throughput is bodies per second, from the first when() to quiescence.

Under "threads" the bodies take turns at one interpreter lock; under
"subinterpreters" they run in parallel, but a cown's list is pickled and
moves whenever its next behaviour runs on another worker than its last.
Sweeping --body-us from microseconds to milliseconds shows where the first
outweighs the second, per scheduler (overtake.png).

    python experiments/cpu.py --plot
    python experiments/cpu.py --body-us 500 --executors subinterpreters --baseline bocpy
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import boc
from harness.cli import main
from harness.workload import Axis, RunConfig, Size, Workload


def spin(n: int, x: int) -> int:
    """The body's work: n steps of integer arithmetic."""
    for i in range(n):
        x = (x * 31 + i) & 0xFFFF
    return x


def spins_per_us() -> float:
    """How many steps of spin() this interpreter runs per microsecond (best of 5)."""
    n = 200_000
    best = min(_timed(n) for _ in range(5))
    return n / (best * 1e6)


def _timed(n: int) -> float:
    t0 = time.perf_counter()
    spin(n, 1)
    return time.perf_counter() - t0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cowns", type=int, default=64, help="C cowns the bodies spread over (default 64)")
    p.add_argument("--value-size", type=int, default=64, help="V integers in each cown's list (default 64)")
    p.add_argument("--work-ms", type=float, default=None,
                   help="single-core milliseconds of body work per measurement, which sets N "
                   "(default: as much as fills --duration)")


def check(args: argparse.Namespace) -> None:
    for name in ("cowns", "value_size"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.work_ms is not None and not args.work_ms > 0:
        raise ValueError(f"--work-ms must be > 0, got {args.work_ms}")


def params(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "cowns": args.cowns, "value_size": args.value_size, "work_ms": args.work_ms,
        "body_us": args.body_us[0], "spins_per_us": round(spins_per_us(), 3),
    }


def resolve(p: dict[str, Any]) -> dict[str, Any]:
    """The body's loop count and the number of behaviours."""
    spins = max(1, round(p["body_us"] * p["spins_per_us"]))
    behaviours = max(p["cowns"], round(p["work_ms"] * 1000 / p["body_us"]))
    return {**p, "spins": spins, "behaviours": behaviours}


def _schedule(c: boc.Cown, spins: int) -> None:
    @boc.when(c)
    def body(c: boc.Cown) -> None:
        v = c.value
        v[0] = spin(spins, v[0])


def measure(config: RunConfig, raw: dict[str, Any]) -> dict[str, Any]:
    p = resolve(raw)
    config.start()
    cowns = [boc.Cown([i] * p["value_size"]) for i in range(p["cowns"])]
    t0 = time.perf_counter()
    for i in range(p["behaviours"]):
        _schedule(cowns[i % len(cowns)], p["spins"])
    boc.quiesce()
    elapsed = time.perf_counter() - t0
    report = boc.wait()
    ran = report.total("behaviors_run")
    return {
        "throughput": ran / elapsed,
        "elapsed_s": elapsed,
        "items": ran,
        "expected": p["behaviours"],
        "params": p,
        "report": report,
    }


WORKLOAD = Workload(
    name="cpu",
    metric="bodies per second",
    add_arguments=add_arguments,
    check=check,
    measure=measure,
    params=params,
    size=Size("work_ms", start=20.0, quick=50.0),
    baselines={"bocpy": Path(__file__).resolve().parent / "baselines" / "bocpy_cpu.py"},
    axis=Axis("body_us", [1, 10, 100, 1000], "microseconds of pure-Python work per body", [10, 1000]),
)

if __name__ == "__main__":
    sys.exit(main(WORKLOAD, __file__))
