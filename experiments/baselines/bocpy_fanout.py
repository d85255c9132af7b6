"""The fan-out / fan-in shape on bocpy, as a baseline for experiments/fanout.py.

Run by the harness as ``python bocpy_fanout.py SPEC_JSON``; prints the same
result line as a boc measurement. The bodies are those of fanout.py: a
16x16 matrix of floats as a tuple of tuples, squared in pure Python.
bocpy runs behaviours in sub-interpreters and re-executes this module's top
level in each of them, so the top level imports only bocpy and the
standard library, and the driver sits under the main guard.
"""

import random
from operator import mul

from bocpy import Cown, quiesce, start, wait, when

MATRIX = 16


def draw(seed):
    rng = random.Random(seed)
    return tuple(tuple(rng.random() for _ in range(MATRIX)) for _ in range(MATRIX))


def square(m):
    columns = tuple(zip(*m))
    return tuple(tuple(sum(map(mul, row, column)) for column in columns) for row in m)


def schedule_child(consumer, child_iters):
    @when(consumer)
    def _child(c, child_iters=child_iters):
        m = c.value
        for _ in range(child_iters):
            m = square(m)
        c.value = m


def schedule_step(state, children, steps, child_iters):
    @when(state)
    def _step(state, children=children, steps=steps, child_iters=child_iters):
        matrix, done = state.value
        for _ in range(children):
            schedule_child(Cown(matrix), child_iters)
        state.value = (matrix, done + 1)
        if done + 1 < steps:
            schedule_step(state, children, steps, child_iters)


def run(workers, p):
    """One run from start to wait; children/s from first dispatch to quiescence."""
    import time

    producers, children, steps, child_iters = p["producers"], p["children"], p["steps"], p["child_iters"]
    start(worker_count=workers)
    states = [Cown((draw(seed), 0)) for seed in range(producers)]
    t0 = time.perf_counter()
    for state in states:
        schedule_step(state, children, steps, child_iters)
    stats = quiesce(max(60.0, producers * children * steps * 0.001), stats=True)
    elapsed = time.perf_counter() - t0
    producer_steps = sum(s.unwrap()[1] for s in states)
    del states, state  # wait() acquires cowns still bound in this frame
    wait()
    # Every behaviour dispatched has run once quiesce() returns; these
    # counters count each dispatch exactly once.
    dispatched = sum(
        int(w.get("pushed_local", 0)) + int(w.get("dispatched_to_pending", 0)) + int(w.get("pushed_remote", 0))
        for w in stats
    )
    return elapsed, dispatched - producer_steps, [dict(w, worker=i) for i, w in enumerate(stats)]


def resolved(p, workers):
    """As experiments/fanout.py resolves them."""
    return dict(p, producers=p["producers"] or max(1, workers // 4), children=p["children"] or 4 * workers)


if __name__ == "__main__":
    from _driver import measure

    measure(run, resolved, lambda p: p["producers"] * p["children"] * p["steps"])
