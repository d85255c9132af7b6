"""The CPU-bound shape on bocpy, as a baseline for experiments/cpu.py.

Run by the harness as ``python bocpy_cpu.py SPEC_JSON``; prints the same
result line as a boc measurement. bocpy runs behaviours in sub-interpreters
and re-executes this module's top level in each of them, so the top level
imports only bocpy and the driver sits under the main guard.
"""

from bocpy import Cown, quiesce, start, wait, when


def spin(n, x):
    for i in range(n):
        x = (x * 31 + i) & 0xFFFF
    return x


def schedule(c, spins):
    @when(c)
    def _body(c, spins=spins):
        v = c.value
        v[0] = spin(spins, v[0])


def run(workers, p):
    """One run from start to wait; bodies/s from the first when() to quiescence."""
    import time

    start(worker_count=workers)
    cowns = [Cown([i] * p["value_size"]) for i in range(p["cowns"])]
    t0 = time.perf_counter()
    for i in range(p["behaviours"]):
        schedule(cowns[i % len(cowns)], p["spins"])
    stats = quiesce(max(60.0, p["behaviours"] * p["body_us"] * 1e-5), stats=True)
    elapsed = time.perf_counter() - t0
    del cowns  # wait() acquires cowns still bound in this frame
    wait()
    # Every behaviour dispatched has run once quiesce() returns; these
    # counters count each dispatch exactly once.
    ran = sum(
        int(w.get("pushed_local", 0)) + int(w.get("dispatched_to_pending", 0)) + int(w.get("pushed_remote", 0))
        for w in stats
    )
    return elapsed, ran, [dict(w, worker=i) for i, w in enumerate(stats)]


def resolved(p, workers):
    """As experiments/cpu.py resolves them."""
    spins = max(1, round(p["body_us"] * p["spins_per_us"]))
    behaviours = max(p["cowns"], round(p["work_ms"] * 1000 / p["body_us"]))
    return dict(p, spins=spins, behaviours=behaviours)


if __name__ == "__main__":
    from _driver import measure

    measure(run, resolved, lambda p: p["behaviours"])
