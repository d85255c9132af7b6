"""Fan-out / fan-in: producers that each step schedule many short children.

P producers, each a behaviour on its own state cown. Each step allocates K
fresh consumer cowns, each holding a 16x16 float64 matrix of uniform random
values, and schedules one child per consumer that replaces its matrix by
its product with itself (--child-iters times). The producer then
reschedules itself until it has run S steps. Throughput is children
completed per second, from the first producer dispatch to quiescence.

    python experiments/fanout.py --plot            # every scheduler, 1..CPUs workers
    python experiments/fanout.py --quick           # a smoke test
    python experiments/fanout.py --body native     # the same shape in C++ bodies
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import boc
import boc.native
from harness.cli import main
from harness.workload import Workload

MATRIX = 16


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--producers", type=int, default=None, help="P (default max(1, workers // 4))")
    p.add_argument("--children", type=int, default=None, help="K per step (default 4 x workers)")
    p.add_argument("--steps", type=int, default=1000, help="S steps per producer (default 1000)")
    p.add_argument("--child-iters", type=int, default=1, help="matrix products per child (default 1)")
    p.add_argument("--body", choices=["python", "native"], default="python",
                   help="run producers and children as Python or as C++ bodies (default python)")
    p.add_argument("--child-ns", type=int, default=0, help="native children spin this long (default 0)")


def check(args: argparse.Namespace) -> None:
    for name in ("producers", "children"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name} must be >= 1, got {value}")
    if args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    if args.child_iters < 0 or args.child_ns < 0:
        raise ValueError("--child-iters and --child-ns must be >= 0")
    if args.body == "native" and args.child_iters != 1:
        raise ValueError("--child-iters applies to --body python; native children spin --child-ns instead")
    if any(getattr(args, "baseline", [])) and args.body == "native":
        raise ValueError("--baseline runs Python bodies; it cannot be combined with --body native")


def params(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "producers": args.producers, "children": args.children, "steps": args.steps,
        "child_iters": args.child_iters, "body": args.body, "child_ns": args.child_ns,
    }


def resolve(p: dict[str, Any], workers: int) -> dict[str, Any]:
    """Fill the defaults that depend on the worker count."""
    return {
        **p,
        "producers": p["producers"] or max(1, workers // 4),
        "children": p["children"] or 4 * workers,
    }


class Producer:
    """A producer's state: its random source and how many steps it has run."""

    def __init__(self, seed: int) -> None:
        import numpy as np

        self.rng = np.random.default_rng(seed)
        self.steps = 0


def _schedule_step(state: boc.Cown, children: int, steps: int, child_iters: int) -> None:
    @boc.when(state)
    def step(state: boc.Cown) -> None:
        producer = state.value
        # One call draws every child's matrix (K separate 16x16 blocks).
        for matrix in producer.rng.random((children, MATRIX, MATRIX)):
            consumer = boc.Cown(matrix)

            @boc.when(consumer)
            def child(c: boc.Cown) -> None:
                m = c.value
                for _ in range(child_iters):
                    m = m.dot(m)
                c.value = m

        producer.steps += 1
        if producer.steps < steps:
            _schedule_step(state, children, steps, child_iters)


def measure(scheduler: str, workers: int, raw: dict[str, Any]) -> dict[str, Any]:
    p = resolve(raw, workers)
    n_producers, children, steps = p["producers"], p["children"], p["steps"]
    boc.start(scheduler, workers=workers)
    states = [boc.Cown(Producer(seed) if p["body"] == "python" else None) for seed in range(n_producers)]
    t0 = time.perf_counter()
    for state in states:
        if p["body"] == "python":
            _schedule_step(state, children, steps, p["child_iters"])
        else:
            boc.native.fanout(state, steps=steps, children=children, child_ns=p["child_ns"])
    boc.quiesce()
    elapsed = time.perf_counter() - t0
    report = boc.wait()
    producer_steps = n_producers * steps
    if p["body"] == "python":
        producer_steps = sum(s.value.steps for s in states)
    children_run = report.total("behaviors_run") - producer_steps
    return {
        "throughput": children_run / elapsed,
        "elapsed_s": elapsed,
        "items": children_run,
        "expected": n_producers * children * steps,
        "params": p,
        "report": report,
    }


WORKLOAD = Workload(
    name="fanout",
    metric="children per second",
    add_arguments=add_arguments,
    check=check,
    quick={"steps": 50},
    measure=measure,
    params=params,
    warmup=lambda p: {**p, "steps": max(1, p["steps"] // 10)},
    baselines={"bocpy": Path(__file__).resolve().parent / "baselines" / "bocpy_fanout.py"},
)

if __name__ == "__main__":
    sys.exit(main(WORKLOAD, __file__))
