"""Compare two results folders of one workload (say, before and after a
scheduler change): a table of median throughput side by side with the
ratio, and a figure overlaying both.

    python experiments/compare.py results/fanout-A results/fanout-B [--out compare.png] [--show]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness import plots, results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before", type=Path, help="the first results folder")
    p.add_argument("after", type=Path, help="the second results folder")
    p.add_argument("--out", type=Path, default=None,
                   help="where to write the figure (default: compare-<A>-vs-<B>.png beside the second folder)")
    p.add_argument("--show", action="store_true", help="also open the figure")
    args = p.parse_args(argv)
    try:
        a_runs, _, a_meta = results.read(args.before)
        b_runs, _, b_meta = results.read(args.after)
    except FileNotFoundError as e:
        p.error(str(e))
    if a_meta["workload"] != b_meta["workload"]:
        p.error(f"the folders hold different workloads: {a_meta['workload']} and {b_meta['workload']}")

    if results.point_columns(a_meta) != results.point_columns(b_meta):
        p.error("the folders sweep different axes: "
                f"{results.point_columns(a_meta)} and {results.point_columns(b_meta)}")
    keys = results.point_columns(a_meta)
    a = results.summarize(a_runs, a_meta).set_index(keys)["median"]
    b = results.summarize(b_runs, b_meta).set_index(keys)["median"]
    table = a.to_frame("before").join(b.to_frame("after"), how="outer")
    table["ratio"] = table["after"] / table["before"]
    print(f"median {a_meta['metric']}; before: {args.before}, after: {args.after}")
    print(table.to_string(float_format=lambda v: f"{v:,.2f}"))

    out = args.out or args.after.parent / f"compare-{args.before.name}-vs-{args.after.name}.png"
    plots.compare((a_runs, a_meta), (b_runs, b_meta), (args.before.name, args.after.name), out, show=args.show)
    print(f"figure: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
