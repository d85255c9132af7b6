"""Chain rings: long dependency chains, several running side by side.

R rings of L cowns, each holding a 16x16 float64 matrix. On every ring run C
chains; a chain is a behaviour on its own state cown plus a window of G
adjacent ring cowns that multiplies the window's matrices into its first
(--iters times), moves its window --stride cowns along the ring, and
reschedules itself until it has made --hops hops. Chains on one ring
contend for its cowns; rings are independent. Throughput is hops (chain
behaviours) per second, from the first dispatch to quiescence.

    python experiments/chain.py --plot
    python experiments/chain.py --quick
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import boc
from harness.cli import main
from harness.workload import Workload

MATRIX = 16


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rings", type=int, default=None, help="R rings (default 4 x workers)")
    p.add_argument("--ring-size", type=int, default=128, help="L cowns per ring (default 128)")
    p.add_argument("--chains", type=int, default=None,
                   help="C chains per ring (default ring size / (8 x group x stride), at least 1)")
    p.add_argument("--group", type=int, default=2, help="G ring cowns each step holds (default 2)")
    p.add_argument("--stride", type=int, default=1, help="cowns a chain moves per hop (default 1)")
    p.add_argument("--iters", type=int, default=1, help="passes of products over the window per hop (default 1)")
    p.add_argument("--hops", type=int, default=500, help="hops each chain makes (default 500)")


def check(args: argparse.Namespace) -> None:
    for name in ("rings", "chains"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name} must be >= 1, got {value}")
    for name in ("ring_size", "group", "stride", "hops"):
        if getattr(args, name) < 1:
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


class Chain:
    """A chain's state: where its window starts, and how many hops it made."""

    def __init__(self, ring: list[boc.Cown], head: int) -> None:
        self.ring = ring
        self.head = head
        self.hops = 0


def _window(chain: Chain, group: int, stride: int) -> list[boc.Cown]:
    size = len(chain.ring)
    return [chain.ring[(chain.head + i * stride) % size] for i in range(group)]


def _schedule_hop(state: boc.Cown, window: list[boc.Cown], p: dict[str, Any]) -> None:
    @boc.when(state, window)
    def hop(state: boc.Cown, window: list[boc.Cown]) -> None:
        chain = state.value
        first = window[0]
        for _ in range(p["iters"]):
            m = first.value
            for c in window:
                m = m.dot(c.value)
            # Keep the values bounded (products of uniform matrices grow fast).
            first.value = m / m.max()
        chain.hops += 1
        chain.head = (chain.head + p["stride"]) % len(chain.ring)
        if chain.hops < p["hops"]:
            _schedule_hop(state, _window(chain, p["group"], p["stride"]), p)


def measure(scheduler: str, workers: int, raw: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    p = resolve(raw, workers)
    rng = np.random.default_rng(0)
    boc.start(scheduler, workers=workers)
    states = []
    for _ in range(p["rings"]):
        ring = [boc.Cown(m) for m in rng.random((p["ring_size"], MATRIX, MATRIX))]
        spacing = max(1, p["ring_size"] // p["chains"])
        states += [boc.Cown(Chain(ring, k * spacing % p["ring_size"])) for k in range(p["chains"])]
    windows = [_window(s.value, p["group"], p["stride"]) for s in states]
    t0 = time.perf_counter()
    for state, window in zip(states, windows):
        _schedule_hop(state, window, p)
    boc.quiesce()
    elapsed = time.perf_counter() - t0
    report = boc.wait()
    hops = sum(s.value.hops for s in states)
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
    quick={"hops": 40},
    measure=measure,
    params=params,
    warmup=lambda p: {**p, "hops": max(1, p["hops"] // 10)},
)

if __name__ == "__main__":
    sys.exit(main(WORKLOAD, __file__))
