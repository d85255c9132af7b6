"""Redraw the figures of a results folder from its CSVs.

    python experiments/plot.py results/fanout-20260101-120000 [--show]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness import plots, results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path, help="a results folder (with runs.csv, workers.csv, meta.json)")
    p.add_argument("--show", action="store_true", help="also open the figures")
    args = p.parse_args(argv)
    try:
        runs, workers, meta = results.read(args.folder)
    except FileNotFoundError as e:
        p.error(str(e))
    for path in plots.draw(args.folder, runs, workers, meta, show=args.show):
        print(f"figure: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
