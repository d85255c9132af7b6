"""How much parallel CPU the machine delivers right now.

On shared virtual machines, N vCPUs sometimes deliver less than N cores'
worth of work (a noisy neighbour, a throttled host). The probe runs a
fixed spin loop in 1 and then in N processes at once and reports how much
more work N processes got done than one: about N on a healthy machine.
"""

from __future__ import annotations

import multiprocessing as mp
import time


def _spin(seconds: float, out: "mp.Queue[int]") -> None:
    end = time.perf_counter() + seconds
    count = 0
    while time.perf_counter() < end:
        for _ in range(1000):
            pass
        count += 1
    out.put(count)


def _work(processes: int, seconds: float) -> int:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_spin, args=(seconds, out)) for _ in range(processes)]
    for p in procs:
        p.start()
    total = sum(out.get() for _ in procs)
    for p in procs:
        p.join()
    return total


def cpu_capacity(processes: int, seconds: float = 0.5) -> dict[str, float]:
    """Spin in 1 process, then in ``processes`` at once.

    Returns ``{"processes": N, "speedup": work(N) / work(1)}``; a healthy
    machine gives a speedup close to N.
    """
    single = _work(1, seconds)
    many = _work(processes, seconds)
    return {"processes": processes, "speedup": round(many / single, 3) if single else 0.0}


def capacity_ok(probe: dict[str, float], tolerance: float = 0.8) -> bool:
    """True when N processes got at least ``tolerance`` x N of one's work done."""
    return probe["speedup"] >= tolerance * probe["processes"]
