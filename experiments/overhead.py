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

Run: python experiments/overhead.py [--workers 1,2] [--schedulers a,b] [--executors a,b] [--repeats 3] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import boc
from boc.runtime import executor_error
import boc.native


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


def measure(scheduler: str, executor: str, workers: int, shape: str, scale: float) -> float:
    """Nanoseconds per behaviour for one run."""
    body, size = SHAPES[shape]
    boc.start(scheduler, workers=workers, executor=executor)
    t0 = time.perf_counter()
    expected = body(max(1, int(size * scale)))
    boc.quiesce()
    elapsed = time.perf_counter() - t0
    report = boc.wait()
    ran = report.total("behaviors_run")
    if ran != expected:
        raise RuntimeError(f"{shape}: expected {expected} behaviours, {ran} ran")
    return elapsed / ran * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts (default 1,2)")
    parser.add_argument("--schedulers", default=",".join(sorted(boc.schedulers())))
    parser.add_argument("--executors", default=",".join(boc.executors()))
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every run's size")
    args = parser.parse_args()
    try:
        workers = [int(w) for w in args.workers.split(",")]
    except ValueError:
        parser.error(f"--workers takes comma-separated integers, got {args.workers!r}")
    schedulers = args.schedulers.split(",")
    executors = args.executors.split(",")
    shapes = args.shapes.split(",")
    for name in schedulers:
        if name not in boc.schedulers():
            parser.error(f"unknown scheduler {name!r}; available: {', '.join(sorted(boc.schedulers()))}")
    for name in executors:
        if error := executor_error(name):
            parser.error(error)
    for shape in shapes:
        if shape not in SHAPES:
            parser.error(f"unknown shape {shape!r}; available: {', '.join(SHAPES)}")
    if args.repeats < 1 or args.scale <= 0:
        parser.error("--repeats must be >= 1 and --scale > 0")

    print(f"{'shape':<14} {'scheduler':<13} {'executor':<16} {'workers':>7} {'ns/behaviour':>13} {'min':>9} {'max':>9}")
    for shape in shapes:
        for workers_n in workers:
            for scheduler in schedulers:
                for executor in executors[:1] if shape.startswith("native") else executors:
                    runs = [measure(scheduler, executor, workers_n, shape, args.scale) for _ in range(args.repeats)]
                    print(
                        f"{shape:<14} {scheduler:<13} {executor:<16} {workers_n:>7} "
                        f"{statistics.median(runs):>13.1f} {min(runs):>9.1f} {max(runs):>9.1f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
