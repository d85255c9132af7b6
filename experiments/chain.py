"""Chain rings: long dependency chains, several running side by side.

R rings of L cowns, each holding an 8x8 matrix of floats (a tuple of
tuples). On every ring run C chains; a chain is a behaviour on its own
state cown plus a window of G adjacent ring cowns that multiplies the
window's matrices into its first, in pure Python (--iters times), moves
its window --stride cowns along the ring, and reschedules itself until it
has made --hops hops. Chains on one ring contend for its cowns; rings are
independent. Throughput is hops (chain behaviours) per second, from the
first dispatch to quiescence. The bodies are pure Python, so they run
under every executor; under "subinterpreters" a window's values move
whenever a chain's next hop runs on another worker.

    python experiments/chain.py --plot
    python experiments/chain.py --quick
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from operator import mul
from typing import Any

import boc
from harness.cli import main
from harness.workload import RunConfig, Size, Workload

MATRIX = 8

Matrix = tuple[tuple[float, ...], ...]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rings", type=int, default=None, help="R rings (default 4 x workers)")
    p.add_argument("--ring-size", type=int, default=128, help="L cowns per ring (default 128)")
    p.add_argument("--chains", type=int, default=None,
                   help="C chains per ring (default ring size / (8 x group x stride), at least 1)")
    p.add_argument("--group", type=int, default=2, help="G ring cowns each step holds (default 2)")
    p.add_argument("--stride", type=int, default=1, help="cowns a chain moves per hop (default 1)")
    p.add_argument("--iters", type=int, default=1, help="passes of products over the window per hop (default 1)")
    p.add_argument("--hops", type=int, default=None,
                   help="hops each chain makes (default: as many as fill --duration)")


def check(args: argparse.Namespace) -> None:
    for name in ("rings", "chains"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name} must be >= 1, got {value}")
    for name in ("ring_size", "group", "stride", "hops"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.iters < 0:
        raise ValueError(f"--iters must be >= 0, got {args.iters}")
    if 2 * args.group * args.stride > args.ring_size:
        raise ValueError(
            f"--ring-size ({args.ring_size}) must be at least 2 x group x stride "
            f"({2 * args.group * args.stride}) so that a window never wraps onto itself"
        )


def params(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "rings": args.rings, "ring_size": args.ring_size, "chains": args.chains, "group": args.group,
        "stride": args.stride, "iters": args.iters, "hops": args.hops,
    }


def resolve(p: dict[str, Any], workers: int) -> dict[str, Any]:
    """Fill the defaults that depend on the worker count."""
    return {
        **p,
        "rings": p["rings"] or 4 * workers,
        "chains": p["chains"] or max(1, p["ring_size"] // (8 * p["group"] * p["stride"])),
    }


def product(a: Matrix, b: Matrix) -> Matrix:
    """a x b, in pure Python."""
    columns = tuple(zip(*b))
    return tuple(tuple(sum(map(mul, row, column)) for column in columns) for row in a)


def normalised(m: Matrix) -> Matrix:
    """m / max(m): products of positive matrices grow fast."""
    top = max(max(row) for row in m)
    return tuple(tuple(x / top for x in row) for row in m)


def _window(ring: tuple[boc.Cown, ...], head: int, group: int, stride: int) -> list[boc.Cown]:
    return [ring[(head + i * stride) % len(ring)] for i in range(group)]


def _schedule_hop(state: boc.Cown, ring: tuple[boc.Cown, ...], head: int, p: dict[str, Any]) -> None:
    """The next hop of a chain: its window starts at `head`; `state` counts its hops."""
    iters, group, stride, hops = p["iters"], p["group"], p["stride"], p["hops"]

    @boc.when(state, _window(ring, head, group, stride))
    def hop(state: boc.Cown, window: list[boc.Cown]) -> None:
        first = window[0]
        for _ in range(iters):
            m = first.value
            for c in window:
                m = product(m, c.value)
            first.value = normalised(m)
        state.value += 1
        if state.value < hops:
            _schedule_hop(state, ring, (head + stride) % len(ring),
                          {"iters": iters, "group": group, "stride": stride, "hops": hops})


def measure(config: RunConfig, raw: dict[str, Any]) -> dict[str, Any]:
    p = resolve(raw, config.workers)
    rng = random.Random(0)
    config.start()
    chains = []
    for _ in range(p["rings"]):
        ring = tuple(boc.Cown(tuple(tuple(rng.random() for _ in range(MATRIX)) for _ in range(MATRIX)))
                     for _ in range(p["ring_size"]))
        spacing = max(1, p["ring_size"] // p["chains"])
        chains += [(boc.Cown(0), ring, k * spacing % p["ring_size"]) for k in range(p["chains"])]
    t0 = time.perf_counter()
    for state, ring, head in chains:
        _schedule_hop(state, ring, head, p)
    boc.quiesce()
    elapsed = time.perf_counter() - t0
    report = boc.wait()
    hops = sum(state.value for state, _, _ in chains)
    return {
        "throughput": hops / elapsed,
        "elapsed_s": elapsed,
        "items": hops,
        "expected": p["rings"] * p["chains"] * p["hops"],
        "params": p,
        "report": report,
    }


WORKLOAD = Workload(
    name="chain",
    metric="hops per second",
    add_arguments=add_arguments,
    check=check,
    measure=measure,
    params=params,
    size=Size("hops", start=20, quick=40),
)

if __name__ == "__main__":
    sys.exit(main(WORKLOAD, __file__))
