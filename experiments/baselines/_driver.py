"""The driver every baseline script shares: read the harness's spec, warm up,
measure once, check the count, print the result line.

Imports only the standard library: bocpy re-executes the top level of a
baseline script in each of its sub-interpreters.
"""

import json
import sys


def measure(run, resolve, expected):
    """Run ``run(workers, params)`` as the spec in ``sys.argv[1]`` says.

    ``resolve(params, workers)`` fills in what the workload derives from its
    options (as the boc workload resolves them); ``expected(params)`` is the
    number of items a correct run completes. ``run`` returns
    ``(elapsed_s, items, per_worker_stats)``.
    """
    spec = json.loads(sys.argv[1])
    workers = spec["workers"]
    if spec.get("warmup_params"):
        run(workers, resolve(spec["warmup_params"], workers))
    p = resolve(spec["params"], workers)
    elapsed, items, stats = run(workers, p)
    want = expected(p)
    if items != want:
        print(f"count check failed: {items} ran, {want} expected", file=sys.stderr)
        sys.exit(3)
    result = {
        "throughput": items / elapsed,
        "elapsed_s": elapsed,
        "items": items,
        "expected": want,
        "params": p,
        "stats": stats,
        "options": {},
    }
    print("BOC-RESULT " + json.dumps(result), flush=True)
