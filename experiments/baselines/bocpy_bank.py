"""The bank-transfer shape on bocpy, as a baseline for experiments/bank.py.

Run by the harness as ``python bocpy_bank.py SPEC_JSON``; prints the same
result line as a boc measurement. bocpy runs behaviours in sub-interpreters
and re-executes this module's top level in each of them, so the top level
imports only bocpy and the standard library, and the driver sits under the
main guard.
"""

import random

from bocpy import Cown, quiesce, start, wait, when

BALANCE = 1_000


def plan(accounts, transfers):
    """As experiments/bank.py draws them."""
    rng = random.Random(1)
    out = []
    for _ in range(transfers):
        src, dst = rng.sample(range(accounts), 2)
        out.append((src, dst, rng.randint(1, 50)))
    return out


def transfer(src, dst, amount):
    @when(src, dst)
    def _transfer(src, dst, amount=amount):
        if src.value >= amount:
            src.value -= amount
            dst.value += amount


def run(workers, p):
    """One run from start to wait; transfers/s from the first when() to quiescence."""
    import time

    moves = plan(p["accounts"], p["transfers"])
    start(worker_count=workers)
    accounts = [Cown(BALANCE) for _ in range(p["accounts"])]
    t0 = time.perf_counter()
    for src, dst, amount in moves:
        transfer(accounts[src], accounts[dst], amount)
    stats = quiesce(max(60.0, p["transfers"] * 0.001), stats=True)
    elapsed = time.perf_counter() - t0
    total = sum(a.unwrap() for a in accounts)
    del accounts  # wait() acquires cowns still bound in this frame
    wait()
    if total != BALANCE * p["accounts"]:
        raise AssertionError(f"the audit found {total}, not {BALANCE * p['accounts']}")
    # Every behaviour dispatched has run once quiesce() returns; these
    # counters count each dispatch exactly once.
    ran = sum(
        int(w.get("pushed_local", 0)) + int(w.get("dispatched_to_pending", 0)) + int(w.get("pushed_remote", 0))
        for w in stats
    )
    return elapsed, ran, [dict(w, worker=i) for i, w in enumerate(stats)]


if __name__ == "__main__":
    from _driver import measure

    measure(run, lambda p, workers: p, lambda p: p["transfers"])
