"""Bank transfers from the main thread: many small two-cown behaviours.

A accounts (cowns holding an int balance); the main thread schedules T
transfers, each a behaviour on two accounts drawn at random (seeded) that
moves an amount if the source can pay. Throughput is transfers per
second, from the first when() to quiescence; a final audit checks that no
money was made or lost. Short bodies and a single producer: what it
measures is the cost of scheduling and running a behaviour, and (under
"subinterpreters") of moving small values between interpreters.

    python experiments/bank.py --plot
    python experiments/bank.py --executors subinterpreters --baseline bocpy
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

import boc
from harness.cli import main
from harness.workload import RunConfig, Size, Workload

BALANCE = 1_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--accounts", type=int, default=64, help="A accounts (default 64)")
    p.add_argument("--transfers", type=int, default=None,
                   help="T transfers (default: as many as fill --duration)")


def check(args: argparse.Namespace) -> None:
    if args.accounts < 2:
        raise ValueError(f"--accounts must be >= 2, got {args.accounts}")
    if args.transfers is not None and args.transfers < 1:
        raise ValueError(f"--transfers must be >= 1, got {args.transfers}")


def params(args: argparse.Namespace) -> dict[str, Any]:
    return {"accounts": args.accounts, "transfers": args.transfers}


def plan(accounts: int, transfers: int) -> list[tuple[int, int, int]]:
    """(source, destination, amount) of every transfer; the baseline draws the same."""
    rng = random.Random(1)
    out = []
    for _ in range(transfers):
        src, dst = rng.sample(range(accounts), 2)
        out.append((src, dst, rng.randint(1, 50)))
    return out


def _transfer(src: boc.Cown, dst: boc.Cown, amount: int) -> None:
    @boc.when(src, dst)
    def transfer(src: boc.Cown, dst: boc.Cown) -> None:
        if src.value >= amount:
            src.value -= amount
            dst.value += amount


def measure(config: RunConfig, p: dict[str, Any]) -> dict[str, Any]:
    moves = plan(p["accounts"], p["transfers"])
    config.start()
    accounts = [boc.Cown(BALANCE) for _ in range(p["accounts"])]
    t0 = time.perf_counter()
    for src, dst, amount in moves:
        _transfer(accounts[src], accounts[dst], amount)
    boc.quiesce()
    elapsed = time.perf_counter() - t0
    report = boc.wait()
    total = sum(a.value for a in accounts)
    if total != BALANCE * p["accounts"]:
        raise AssertionError(f"the audit found {total}, not {BALANCE * p['accounts']}: money was made or lost")
    ran = report.total("behaviors_run")
    return {
        "throughput": ran / elapsed,
        "elapsed_s": elapsed,
        "items": ran,
        "expected": p["transfers"],
        "params": p,
        "report": report,
    }


WORKLOAD = Workload(
    name="bank",
    metric="transfers per second",
    add_arguments=add_arguments,
    check=check,
    measure=measure,
    params=params,
    size=Size("transfers", start=5_000, quick=2_000),
    baselines={"bocpy": Path(__file__).resolve().parent / "baselines" / "bocpy_bank.py"},
)

if __name__ == "__main__":
    sys.exit(main(WORKLOAD, __file__))
