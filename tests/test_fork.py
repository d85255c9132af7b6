"""fork() while a run is in flight: the child starts with no run of its own.

The parent's workers do not exist in a forked child, so the child must not
wait for them, must not run the parent's behaviours, and must be able to
start its own run, on the same cowns too. Each test runs in a fresh
interpreter (support.Script).

CPython cannot yet fork a process that has sub-interpreters (the child
crashes as CPython clears them), so under executor="subinterpreters" these
hold only for a fork outside a run: test_subinterpreters.py tests that.
"""

from __future__ import annotations

import pytest

from support import assert_clean_end, run_script

pytestmark = pytest.mark.executor("threads")

FORK_WHILE_BUSY = """
import os, sys, time, warnings, boc
warnings.simplefilter("ignore", DeprecationWarning)  # "use of fork() may lead to deadlocks"
scheduler = sys.argv[1]
boc.start(scheduler, workers=2)
busy = boc.Cown("parent")

@boc.when(busy)
def hold(busy):
    time.sleep(1.0)   # in flight, holding `busy`, when the parent forks
    busy.value = "parent done"

time.sleep(0.2)
"""


def test_forked_child_has_no_run_and_starts_its_own(scheduler: str) -> None:
    """In the child: quiesce() and wait() return at once, start() works, and a
    behaviour on a cown the parent's run held runs at once."""
    status, out, err = run_script(
        FORK_WHILE_BUSY
        + """
pid = os.fork()
if pid == 0:
    try:
        t0 = time.monotonic()
        boc.quiesce(timeout=5)
        report = boc.wait(timeout=5)
        assert time.monotonic() - t0 < 0.5, "the child waited for the parent's run"
        assert report.scheduler is None, report   # the parent's run is not the child's
        boc.start(scheduler, workers=2)
        @boc.when(busy)
        def mine(busy):
            busy.value = "child"
        boc.wait(timeout=10)
        os.write(1, f"child: {busy.value}\\n".encode())
        os._exit(0)
    except BaseException as e:
        os.write(1, f"child failed: {e!r}\\n".encode())
        os._exit(1)
_, status = os.waitpid(pid, 0)
boc.wait()
print("parent:", busy.value, "child status:", os.waitstatus_to_exitcode(status))
""",
        scheduler,
    )
    assert_clean_end(status, err)
    assert "child: child" in out
    assert "parent: parent done child status: 0" in out


def test_forked_child_that_ignores_boc_exits_normally(scheduler: str) -> None:
    """A child that never touches boc and ends normally (exit hooks and all) does
    not hang on the parent's run."""
    status, out, err = run_script(
        FORK_WHILE_BUSY
        + """
pid = os.fork()
if pid == 0:
    sys.exit(7)   # the normal way out: runs boc's exit hook in the child
_, status = os.waitpid(pid, 0)
boc.wait()
print("child status:", os.waitstatus_to_exitcode(status))
""",
        scheduler,
        timeout=30,
    )
    assert_clean_end(status, err)
    assert "child status: 7" in out


def test_multiprocessing_fork_child_uses_boc(scheduler: str) -> None:
    """multiprocessing with the fork method, forked while a run is busy: the
    child process runs behaviours of its own and hands back their result."""
    status, out, err = run_script(
        FORK_WHILE_BUSY
        + """
import multiprocessing

def child(queue, scheduler):
    boc.start(scheduler, workers=2)
    c = boc.Cown(0)
    for _ in range(50):
        boc.when(c)(lambda c: setattr(c, "value", c.value + 1))
    boc.wait()
    queue.put(c.value)

ctx = multiprocessing.get_context("fork")
queue = ctx.Queue()
p = ctx.Process(target=child, args=(queue, scheduler))
p.start()
print("child counted", queue.get(timeout=30))
p.join(30)
boc.wait()
print("exit code", p.exitcode)
""",
        scheduler,
    )
    assert_clean_end(status, err)
    assert "child counted 50" in out
    assert "exit code 0" in out
