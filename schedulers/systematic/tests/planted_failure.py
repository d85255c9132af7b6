"""A test that always fails, for test_systematic.py to check what a failing
seeded run prints. Not collected by the suite (its name is not test_*.py);
that test runs it by name."""

import boc


def test_fails_under_a_seed(scheduler: str) -> None:
    boc.start(scheduler, workers=1)
    boc.wait()
    assert False, "planted"
