"""Compare two results folders of one workload (say, before and after a
scheduler change): a table of median throughput side by side with the
ratio, and a figure overlaying both on one y range.

Every setting in which the folders differ (workload options, duration,
repeats, interpreter, machine, revision) is printed and written on the
figure. Folders of different body kinds (Python against native) measure
different things: they are refused unless --force is given.

    python experiments/compare.py results/fanout-A results/fanout-B [--out compare.png] [--show] [--force]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness import plots, results

# Settings of meta.json worth naming when they differ, besides the workload's params.
SETTINGS = ("duration_s", "repeats", "max_repeats", "max_spread", "quick", "python", "gil", "platform", "cpu_count",
            "git_revision", "boc_version", "executors", "schedulers", "baselines")


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """'name: A -> B' for every workload option and setting that differs."""
    out = []
    params_a, params_b = a.get("params", {}), b.get("params", {})
    for name in sorted(set(params_a) | set(params_b)):
        if params_a.get(name) != params_b.get(name):
            out.append(f"{name}: {params_a.get(name)} -> {params_b.get(name)}")
    for name in SETTINGS:
        if a.get(name) != b.get(name):
            out.append(f"{name}: {a.get(name)} -> {b.get(name)}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before", type=Path, help="the first results folder")
    p.add_argument("after", type=Path, help="the second results folder")
    p.add_argument("--out", type=Path, default=None,
                   help="where to write the figure (default: compare-<A>-vs-<B>.png beside the second folder)")
    p.add_argument("--show", action="store_true", help="also open the figure")
    p.add_argument("--force", action="store_true", help="compare folders of different body kinds all the same")
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
    body_a, body_b = a_meta.get("params", {}).get("body", "python"), b_meta.get("params", {}).get("body", "python")
    if body_a != body_b:
        if not args.force:
            p.error(f"the folders ran different bodies ({body_a} and {body_b}): their figures measure different "
                    "things; pass --force to compare them anyway")
        print(f"WARNING: comparing {body_a} bodies with {body_b} bodies (--force)", file=sys.stderr)

    changed = differences(a_meta, b_meta)
    if changed:
        print("settings that differ (before -> after):")
        for line in changed:
            print(f"  {line}")
    keys = results.point_columns(a_meta)
    a = results.summarize(a_runs, a_meta).set_index(keys)["median"]
    b = results.summarize(b_runs, b_meta).set_index(keys)["median"]
    table = a.to_frame("before").join(b.to_frame("after"), how="outer")
    table["ratio"] = table["after"] / table["before"]
    print(f"median {a_meta['metric']}; before: {args.before}, after: {args.after}")
    print(table.to_string(float_format=lambda v: f"{v:,.2f}"))

    out = args.out or args.after.parent / f"compare-{args.before.name}-vs-{args.after.name}.png"
    plots.compare((a_runs, a_meta), (b_runs, b_meta), (args.before.name, args.after.name), out, changed,
                  show=args.show)
    print(f"figure: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
