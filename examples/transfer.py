"""Bank transfers with behaviours: no locks, no lost updates.

Run: python examples/transfer.py [--scheduler NAME] [--workers N]
"""

import argparse
import random

import boc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", default=None, choices=sorted(boc.schedulers()))
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--transfers", type=int, default=10_000)
    args = parser.parse_args()

    boc.start(args.scheduler, workers=args.workers)
    accounts = [boc.Cown(1_000) for _ in range(10)]
    rng = random.Random(1)

    for _ in range(args.transfers):
        src, dst = rng.sample(accounts, 2)
        amount = rng.randint(1, 50)

        @boc.when(src, dst)
        def transfer(src, dst, amount=amount):  # runs holding both accounts
            if src.value >= amount:
                src.value -= amount
                dst.value += amount

    @boc.when(accounts)  # a group: holds every account at once
    def audit(accounts):
        return sum(a.value for a in accounts)

    report = boc.wait()
    print(f"total after {args.transfers} transfers: {audit.value} (started with {1_000 * len(accounts)})")
    print(f"scheduler={report.scheduler} workers={report.workers} elapsed={report.elapsed_s:.3f}s")
    for s in report.stats:
        print(f"  worker {s['worker']}: ran {s['behaviors_run']} behaviours, parked {s['parks']} times")


if __name__ == "__main__":
    main()
