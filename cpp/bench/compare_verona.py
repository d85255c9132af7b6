#!/usr/bin/env python3
"""boc against Verona-RT on the same native workloads, side by side.

    python cpp/bench/compare_verona.py --verona ~/src/verona-rt \\
        --snmalloc ~/src/snmalloc --cmake-utils ~/src/cmake_utils
    python cpp/bench/compare_verona.py ... --callgrind [--functions 15]

Builds both benchmarks in Release (boc's ``boc_native_bench`` and
``verona/verona_bench.cc``, the same shapes written against Verona-RT's
API; its header lists what differs), then:

* **time** (default): ``--rounds`` rounds; in each, every cell (shape x
  workers) runs once per runtime, each run a fresh process doing the same
  ``--behaviours``, the runtimes' order alternating from round to round.
  Prints the median ns per behaviour per cell, the range of the rounds, and
  boc's ratio to Verona-RT (below 1: boc is cheaper).
* **--callgrind**: at one worker, each shape under valgrind's callgrind at
  two sizes; the difference divided by the difference in behaviours is the
  instructions per behaviour, start-up and tear-down cancelled. The table
  splits them into the allocator (malloc and free, snmalloc, boc's
  recycler) and the rest (the runtime). ``--functions N`` prints each
  side's N costliest functions per behaviour.

Verona-RT fetches snmalloc and cmake_utils while it configures; this script
points it at local checkouts instead (the commits it wants are named in its
``src/CMakeLists.txt``; the error message repeats them). snmalloc reserves
more address space than valgrind allows, so callgrind counts a second
Verona build that allocates with the system's malloc; compare the runtime
column there.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
SHAPES = ("schedule", "banking", "dining_phil")
# Functions of the allocators, by "file:function": glibc's malloc.c and
# arena.c, snmalloc, boc's recycler (its fast path is inlined into the
# behaviour's constructor and destructor, which count as runtime).
ALLOCATOR = re.compile(r"malloc/|arena\.c|snmalloc|recycler|operator new|operator delete|:free$|:malloc$")


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def pinned_tag(verona: Path, name: str) -> str:
    text = (verona / "src" / "CMakeLists.txt").read_text()
    m = re.search(rf"FetchContent_Declare\(\s*{name}\s+GIT_REPOSITORY\s+(\S+)\s+GIT_TAG\s+(\S+)", text)
    return f"{m.group(1)} at {m.group(2)}" if m else "(see its src/CMakeLists.txt)"


def build(args: argparse.Namespace) -> dict[str, Path]:
    """Configures and builds both benchmarks; returns the binaries by name."""
    verona = args.verona.resolve()
    if not (verona / "src" / "rt" / "verona.h").exists():
        sys.exit(f"--verona {verona}: not a Verona-RT checkout (no src/rt/verona.h)")
    for flag, path, dep in (("--snmalloc", args.snmalloc, "snmalloc"), ("--cmake-utils", args.cmake_utils, "cmake_utils")):
        if path is None or not path.is_dir():
            sys.exit(f"{flag}: give a checkout of {pinned_tag(verona, dep)} (Verona-RT builds with it)")
    out = args.build_dir.resolve()
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    bins = {}

    def cmake(src: Path, build_dir: Path, *defs: str) -> None:
        print(f"building {build_dir.name} ...", flush=True)
        run(["cmake", "-S", str(src), "-B", str(build_dir), *generator, "-DCMAKE_BUILD_TYPE=Release", *defs])
        run(["cmake", "--build", str(build_dir), "-j", str(os.cpu_count() or 2)])

    boc_dir = out / f"boc-{args.allocator}"
    cmake(ROOT, boc_dir, "-DBOC_BUILD_BENCH=ON", "-DBOC_BUILD_TESTS=OFF", "-DBOC_BUILD_PYTHON=OFF",
          f"-DBOC_ALLOCATOR={args.allocator}")
    bins["boc"] = boc_dir / "cpp" / "bench" / "boc_native_bench"
    deps = [
        f"-DVERONA_RT_DIR={verona}",
        f"-DFETCHCONTENT_SOURCE_DIR_SNMALLOC={args.snmalloc.resolve()}",
        f"-DFETCHCONTENT_SOURCE_DIR_CMAKE_UTILS={args.cmake_utils.resolve()}",
    ]
    here = Path(__file__).resolve().parent / "verona"
    if args.callgrind:
        cmake(here, out / "verona-malloc", *deps, "-DVERONA_SYSTEM_ALLOCATOR=ON")
        bins["verona"] = out / "verona-malloc" / "verona_bench"
    else:
        cmake(here, out / "verona", *deps)
        bins["verona"] = out / "verona" / "verona_bench"
    return bins


def command(args: argparse.Namespace, bins: dict[str, Path], system: str, shape: str, workers: int,
            behaviours: int) -> list[str]:
    """One run of one cell: `system` is "verona" or a boc strategy."""
    if system == "verona":
        return [str(bins["verona"]), "--shape", shape, "--workers", str(workers), "--behaviours", str(behaviours)]
    options = [a for o in args.opt for a in ("--opt", o)] + (["--pin"] if args.pin else [])
    return [str(bins["boc"]), "--schedulers", system, "--shapes", shape, "--workers", str(workers),
            "--behaviours", str(behaviours), "--reps", "1", *options]


def ns_per_behaviour(stdout: str) -> float:
    # Both print ns per behaviour fifth on their last line: verona_bench
    # "shape workers behaviours seconds ns", boc "scheduler workers shape
    # behaviours ns ...".
    return float(stdout.strip().splitlines()[-1].split()[4])


def time_cells(args: argparse.Namespace, bins: dict[str, Path]) -> pd.DataFrame:
    systems = ["verona", *args.schedulers]
    rows = []
    cells = [(s, w) for s in args.shapes for w in args.workers]
    try:
        from tqdm import tqdm
        progress = tqdm(total=args.rounds * len(cells) * len(systems), unit="run")
    except ImportError:
        progress = None
    for r in range(args.rounds):
        order = systems if r % 2 == 0 else systems[::-1]
        for shape, workers in cells:
            for system in order:
                out = run(command(args, bins, system, shape, workers, args.behaviours)).stdout
                rows.append(dict(round=r, system=system, shape=shape, workers=workers,
                                 ns=ns_per_behaviour(out)))
                if progress:
                    progress.update()
    if progress:
        progress.close()
    runs = pd.DataFrame(rows)
    g = runs.groupby(["shape", "workers", "system"])["ns"]
    table = g.median().unstack("system")
    spread = (g.max() - g.min()).div(g.median()).unstack("system")
    out = pd.DataFrame(index=table.index)
    out["verona ns"] = table["verona"].round(1)
    out["verona range"] = (100 * spread["verona"]).round(0).astype(int).astype(str) + "%"
    for s in args.schedulers:
        out[f"{s} ns"] = table[s].round(1)
        out[f"{s} range"] = (100 * spread[s]).round(0).astype(int).astype(str) + "%"
        out[f"{s}/verona"] = (table[s] / table["verona"]).round(2)
    return out.reindex(args.shapes, level="shape")


def callgrind_profile(cmd: list[str]) -> tuple[int, dict[str, int]]:
    """Total instructions of a run, and instructions per function."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *cmd])
        text = run(["callgrind_annotate", "--threshold=100", str(out)]).stdout
    total, functions = 0, {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*)$", line)
        if not m:
            continue
        n, name = int(m.group(1).replace(",", "")), m.group(2).strip()
        if name.startswith("PROGRAM TOTALS"):
            total = n
        elif ":" in name:
            # "file:function [object]": keep the file (it tells the
            # allocator's functions apart), drop the object.
            name = re.sub(r"\s*\[[^\]]*\]$", "", name)
            functions[name] = functions.get(name, 0) + n
    return total, functions


def count_instructions(args: argparse.Namespace, bins: dict[str, Path]) -> pd.DataFrame:
    if not shutil.which("valgrind"):
        sys.exit("--callgrind needs valgrind (apt-get install valgrind)")
    small, large = args.behaviours // 8, args.behaviours // 2
    rows, tops = [], {}
    for shape in args.shapes:
        for system in ["verona", *args.schedulers]:
            t0, f0 = callgrind_profile(command(args, bins, system, shape, 1, small))
            t1, f1 = callgrind_profile(command(args, bins, system, shape, 1, large))
            per = {name: (f1.get(name, 0) - f0.get(name, 0)) / (large - small) for name in f1}
            alloc = sum(v for k, v in per.items() if ALLOCATOR.search(k))
            total = (t1 - t0) / (large - small)
            rows.append(dict(shape=shape, system=system, total=round(total), allocator=round(alloc),
                             runtime=round(total - alloc)))
            tops[(shape, system)] = sorted(per.items(), key=lambda kv: -kv[1])[: args.functions]
    table = pd.DataFrame(rows).set_index(["shape", "system"])
    if args.functions:
        for (shape, system), top in tops.items():
            print(f"\n{shape} / {system}: instructions per behaviour by function")
            for name, n in top:
                print(f"  {n:8.1f}  {name.split(':', 1)[1][:110]}")
    return table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--verona", type=Path, required=True, help="a Verona-RT checkout")
    p.add_argument("--snmalloc", type=Path, help="a snmalloc checkout at the commit Verona-RT pins")
    p.add_argument("--cmake-utils", type=Path, help="a cmake_utils checkout at the commit Verona-RT pins")
    p.add_argument("--build-dir", type=Path, default=ROOT / "build" / "compare-verona")
    p.add_argument("--schedulers", default="workstealing", help="boc strategies to compare (comma-separated)")
    p.add_argument("--shapes", default=",".join(SHAPES))
    p.add_argument("--workers", default="1,2")
    p.add_argument("--rounds", type=int, default=5, help="fresh processes per cell and runtime")
    p.add_argument("--behaviours", type=int, help="behaviours per run (default 4,000,000; with --callgrind the"
                   " two runs do an eighth and a half of 800,000)")
    p.add_argument("--opt", action="append", default=[], help="a boc strategy option, name=value")
    p.add_argument("--allocator", choices=("system", "mimalloc"), default="system",
                   help="where boc's recycler gets fresh blocks (mimalloc: found on the system, libmimalloc-dev)")
    p.add_argument("--pin", action="store_true", help="pin boc's workers to CPUs, as Verona-RT always does")
    p.add_argument("--callgrind", action="store_true", help="count instructions per behaviour at one worker")
    p.add_argument("--functions", type=int, default=0, help="with --callgrind: print the N costliest functions")
    args = p.parse_args()
    args.schedulers = [s for s in args.schedulers.split(",") if s]
    args.shapes = [s for s in args.shapes.split(",") if s]
    bad = [s for s in args.shapes if s not in SHAPES]
    if bad:
        p.error(f"unknown shape(s) {', '.join(bad)}; the shapes both runtimes have: {', '.join(SHAPES)}")
    args.workers = [int(w) for w in args.workers.split(",") if w]
    if args.behaviours is None:
        args.behaviours = 800_000 if args.callgrind else 4_000_000
    if args.rounds < 1 or args.behaviours < 1000 or not args.workers or min(args.workers) < 1:
        p.error("--rounds and --workers must be at least 1, --behaviours at least 1000")
    bins = build(args)
    if args.callgrind:
        print(count_instructions(args, bins).to_string())
        print("\ninstructions per behaviour at 1 worker (callgrind; Verona-RT with the system allocator)")
    else:
        table = time_cells(args, bins)
        pd.set_option("display.width", 200)
        print(table.to_string())
        print(f"\nns per behaviour, median of {args.rounds} fresh processes each ({args.behaviours:,} behaviours);"
              " range = (max - min) / median; ratio below 1: boc is cheaper")


if __name__ == "__main__":
    main()
