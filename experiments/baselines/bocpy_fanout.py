"""The fan-out / fan-in shape on bocpy, as a baseline for experiments/fanout.py.

Run by the harness as ``python bocpy_fanout.py SPEC_JSON``; prints the same
result line as a boc measurement. bocpy runs behaviours in sub-interpreters
and re-executes this module's top level in each of them, so the top level
imports only bocpy (numpy does not load in sub-interpreters; the payload is
bocpy's own 16x16 float64 Matrix) and the driver sits under the main guard.
"""

from bocpy import Cown, Matrix, quiesce, start, wait, when

MATRIX = 16


class ProducerState:
    """A producer's counters; crosses interpreters with its cown."""

    def __init__(self, children, child_iters, steps):
        self.children = children
        self.child_iters = child_iters
        self.target = steps
        self.steps = 0


def schedule_child(consumer, child_iters):
    @when(consumer)
    def _child(c, child_iters=child_iters):
        for _ in range(child_iters):
            c.value = c.value @ c.value


def schedule_step(state):
    @when(state)
    def _step(state):
        producer = state.value
        for _ in range(producer.children):
            schedule_child(Cown(Matrix.uniform(0.0, 1.0, (MATRIX, MATRIX))), producer.child_iters)
        producer.steps += 1
        if producer.steps < producer.target:
            schedule_step(state)


def run(workers, producers, children, steps, child_iters):
    """One run from start to wait; children/s from first dispatch to quiescence."""
    start(worker_count=workers)
    states = [Cown(ProducerState(children, child_iters, steps)) for _ in range(producers)]
    import time

    t0 = time.perf_counter()
    for state in states:
        schedule_step(state)
    stats = quiesce(max(60.0, producers * children * steps * 0.001), stats=True)
    elapsed = time.perf_counter() - t0
    producer_steps = sum(s.unwrap().steps for s in states)
    del states, state  # wait() acquires cowns still bound in this frame
    wait()
    # Every behaviour dispatched has run once quiesce() returns; these
    # counters count each dispatch exactly once.
    dispatched = sum(
        int(w.get("pushed_local", 0)) + int(w.get("dispatched_to_pending", 0)) + int(w.get("pushed_remote", 0))
        for w in stats
    )
    return elapsed, dispatched - producer_steps, [dict(w, worker=i) for i, w in enumerate(stats)]


if __name__ == "__main__":
    import json
    import sys

    spec = json.loads(sys.argv[1])
    workers = spec["workers"]

    def resolved(p):
        return dict(p, producers=p["producers"] or max(1, workers // 4), children=p["children"] or 4 * workers)

    if spec.get("warmup_params"):
        w = resolved(spec["warmup_params"])
        run(workers, w["producers"], w["children"], w["steps"], w["child_iters"])
    p = resolved(spec["params"])
    elapsed, children_run, stats = run(workers, p["producers"], p["children"], p["steps"], p["child_iters"])
    expected = p["producers"] * p["children"] * p["steps"]
    if children_run != expected:
        print(f"count check failed: {children_run} ran, {expected} expected", file=sys.stderr)
        sys.exit(3)
    result = {
        "throughput": children_run / elapsed,
        "elapsed_s": elapsed,
        "items": children_run,
        "expected": expected,
        "params": p,
        "stats": stats,
        "options": {},
    }
    print("BOC-RESULT " + json.dumps(result), flush=True)
