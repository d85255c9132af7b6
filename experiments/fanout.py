"""Fan-out / fan-in: producers that each step schedule many short children.

P producers, each a behaviour on its own state cown, which holds the
producer's 16x16 matrix of uniform random floats (a tuple of tuples, drawn
once per producer). Each step allocates K fresh consumer cowns holding that
matrix, and schedules one child per consumer that replaces its matrix by
its product with itself, in pure Python (--child-iters times; 0 makes the
children tiny: they read and write back their value). The producer then reschedules itself until it has run S
steps. Throughput is children completed per second, from the first
producer dispatch to quiescence. The bodies are pure Python, so they run
under every executor.

    python experiments/fanout.py --plot            # every scheduler and executor, 1..CPUs workers
    python experiments/fanout.py --quick           # a smoke test
    python experiments/fanout.py --body native     # the same shape in C++ bodies
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from operator import mul
from pathlib import Path
from typing import Any

import boc
import boc.native
from harness.cli import main
from harness.workload import RunConfig, Size, Workload

MATRIX = 16

Matrix = tuple[tuple[float, ...], ...]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--producers", type=int, default=None, help="P (default max(1, workers // 4))")
    p.add_argument("--children", type=int, default=None, help="K per step (default 4 x workers)")
    p.add_argument("--steps", type=int, default=None,
                   help="S steps per producer (default: as many as fill --duration)")
    p.add_argument("--child-iters", type=int, default=1,
                   help="matrix products per child (default 1, about 0.2 ms; 0: tiny children)")
    p.add_argument("--body", choices=["python", "native"], default="python",
                   help="run producers and children as Python or as C++ bodies (default python)")
    p.add_argument("--child-ns", type=int, default=0, help="native children spin this long (default 0)")


def check(args: argparse.Namespace) -> None:
    for name in ("producers", "children"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name} must be >= 1, got {value}")
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    if args.child_iters < 0 or args.child_ns < 0:
        raise ValueError("--child-iters and --child-ns must be >= 0")
    if args.body == "native" and args.child_iters != 1:
        raise ValueError("--child-iters applies to --body python; native children spin --child-ns instead")
    if args.body == "python" and args.child_ns != 0:
        raise ValueError("--child-ns applies to --body native; Python children do --child-iters matrix products instead")
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


def draw(seed: int) -> Matrix:
    """A producer's matrix."""
    rng = random.Random(seed)
    return tuple(tuple(rng.random() for _ in range(MATRIX)) for _ in range(MATRIX))


def square(m: Matrix) -> Matrix:
    """m x m, in pure Python."""
    columns = tuple(zip(*m))
    return tuple(tuple(sum(map(mul, row, column)) for column in columns) for row in m)


def _schedule_step(state: boc.Cown, children: int, steps: int, child_iters: int) -> None:
    @boc.when(state)
    def step(state: boc.Cown) -> None:
        matrix, done = state.value  # a producer's state: its matrix and the steps it has run
        for _ in range(children):
            consumer = boc.Cown(matrix)

            @boc.when(consumer)
            def child(c: boc.Cown) -> None:
                m = c.value
                for _ in range(child_iters):
                    m = square(m)
                c.value = m

        state.value = (matrix, done + 1)
        if done + 1 < steps:
            _schedule_step(state, children, steps, child_iters)


def measure(config: RunConfig, raw: dict[str, Any]) -> dict[str, Any]:
    p = resolve(raw, config.workers)
    n_producers, children, steps = p["producers"], p["children"], p["steps"]
    config.start()
    states = [boc.Cown((draw(seed), 0) if p["body"] == "python" else None) for seed in range(n_producers)]
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
        producer_steps = sum(s.value[1] for s in states)
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
    measure=measure,
    params=params,
    size=Size("steps", start=20, quick=50),
    baselines={"bocpy": Path(__file__).resolve().parent / "baselines" / "bocpy_fanout.py"},
)

if __name__ == "__main__":
    sys.exit(main(WORKLOAD, __file__))
