"""The systematic strategy from Python: a run is a function of its seed
(across processes, under every executor), seeds differ, BOC_SEED replays a
run without changing the program, an ordering bug is found by trying seeds
and replayed from the one that found it, and pytest's --seeds/--seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import boc
from support import run_script

pytestmark = pytest.mark.skipif("systematic" not in boc.schedulers(), reason="systematic is not compiled in")

HERE = Path(__file__).resolve().parent

# Independent behaviours on 8 cowns, some scheduling a child: prints the
# recorded order and how many each worker ran.
MANY = """
import json, sys
import boc
boc.start("systematic", workers=3, seed=int(sys.argv[1]))
cowns = [boc.Cown(i) for i in range(8)]
for i in range(40):
    @boc.when(cowns[i % 8])
    def step(c, i=i):
        c.value += 1
        if i % 4 == 0:
            @boc.when(c)
            def child(c):
                c.value += 100
report = boc.wait()
print(json.dumps({"order": report.order, "runs": [s["runs"] for s in report.stats]}))
"""


def _many(seed: int) -> dict[str, list[int]]:
    status, out, err = run_script(MANY, str(seed))
    assert status == 0, err
    return json.loads(out)


def test_the_same_seed_gives_the_same_run_in_fresh_processes() -> None:
    first, second = _many(11), _many(11)
    assert first == second
    assert sorted(first["order"]) == list(range(50))  # 40 steps and 10 children, each once


def test_different_seeds_give_different_orders() -> None:
    orders = {tuple(_many(seed)["order"]) for seed in range(4)}
    assert len(orders) == 4


def test_boc_seed_is_the_default_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOC_SEED", "5")
    boc.start("systematic", workers=1)
    assert boc.wait().options["seed"] == 5
    boc.start("systematic", workers=1, seed=6)  # given: the environment does not override it
    assert boc.wait().options["seed"] == 6
    monkeypatch.setenv("BOC_SEED", "five")
    with pytest.raises(ValueError, match="BOC_SEED must be an integer seed such as 42, got 'five'"):
        boc.start("systematic", workers=1)


def test_other_strategies_record_no_order() -> None:
    boc.start("central", workers=1)
    assert boc.wait().order is None


# An ordering bug: `use` reads what `load` leaves in a module global, and
# nothing orders the two (they share no cown). Under a FIFO scheduler `load`,
# scheduled first, nearly always runs first and the bug hides.
PLANTED = """
import os, sys
import boc
shared = {}
seeds = range(int(sys.argv[1]), int(sys.argv[2]))
for seed in seeds:
    kw = {} if os.environ.get("BOC_SEED") else {"seed": seed}
    boc.start("systematic", workers=2, **kw)
    config, result = boc.Cown(None), boc.Cown(None)
    shared.clear()

    @boc.when(config)
    def load(config):
        shared["ready"] = True

    @boc.when(result)
    def use(result):
        result.value = shared.get("ready", False)

    report = boc.wait()
    if result.value is False:
        print("bug", report.options["seed"], report.order)
        break
else:
    print("none")
"""


@pytest.mark.executor("threads")  # the bug lives in a module global the bodies share
def test_a_planted_ordering_bug_is_found_and_replayed_from_its_seed() -> None:
    status, out, err = run_script(PLANTED, "0", "32", env={"BOC_SEED": ""})
    assert status == 0, err
    assert out.startswith("bug "), f"no seed in 0 .. 31 ran use() before load(): {out}"
    _, seed, order = out.strip().split(" ", 2)
    # A fresh process told only the seed, through the environment, fails alike.
    status, replay, err = run_script(PLANTED, "0", "1", env={"BOC_SEED": seed})
    assert status == 0, err
    assert replay.strip() == f"bug {seed} {order}"


def _pytest(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BOC_SEED"}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=HERE.parents[2],
                          capture_output=True, text=True, timeout=300, env=env)


def test_pytest_seeds_runs_each_runtime_test_under_each_seed() -> None:
    done = _pytest("--collect-only", "-q", "--scheduler", "systematic", "--executor", "threads", "--seeds", "3",
                   "tests/test_ordering.py")
    assert done.returncode == 0, done.stdout + done.stderr
    ids = [line for line in done.stdout.splitlines() if "::" in line]
    per_seed = [sum(f"[systematic-seed{seed}-threads]" in line for line in ids) for seed in range(3)]
    assert per_seed[0] > 0 and per_seed == [per_seed[0]] * 3, per_seed


def test_a_failing_run_names_its_seed_and_how_to_replay_it() -> None:
    done = _pytest("-q", "--scheduler", "systematic", "--executor", "threads", "--seed", "7",
                   str(HERE / "planted_failure.py"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "systematic ran with seed 7; replay it: BOC_SEED=7 pytest" in done.stdout
    assert "planted_failure.py::test_fails_under_a_seed[systematic-seed7-threads]" in done.stdout
