"""Behaviours with C++ bodies, for measuring the scheduler without Python.

Each call schedules work that then runs without the interpreter: the body is
native code and any behaviours it schedules are native too.
"""

from __future__ import annotations

from typing import Any

from boc import _core
from boc._core import Cown


_MOST = 2**64 - 1  # the native bodies' counts are unsigned 64-bit


def _check_count(name: str, value: int, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not least <= value <= _MOST:
        raise ValueError(f"{name} must be between {least} and {_MOST}, got {value}")


def _check_cowns(cowns: tuple[Cown[Any], ...]) -> list[Cown[Any]]:
    for i, c in enumerate(cowns, 1):
        if not isinstance(c, Cown):
            raise TypeError(f"argument {i} is a {type(c).__name__}; expected a Cown")
    return list(cowns)


def spin(*cowns: Cown[Any], ns: int = 0) -> None:
    """Schedule one behaviour on ``cowns`` whose body busy-waits ``ns`` nanoseconds."""
    _check_count("ns", ns, 0)
    _core.spin(_check_cowns(cowns), ns)


def loop(*cowns: Cown[Any], times: int, ns: int = 0) -> None:
    """Schedule a behaviour on ``cowns`` that spins ``ns`` and reschedules itself
    on the same cowns until it has run ``times`` times."""
    _check_count("times", times, 1)
    _check_count("ns", ns, 0)
    _core.loop(_check_cowns(cowns), times, ns)


def fanout(state: Cown[Any], *, steps: int, children: int, child_ns: int = 0) -> None:
    """Schedule a producer on ``state`` that, ``steps`` times, schedules
    ``children`` behaviours on fresh cowns (each spinning ``child_ns``) and
    then reschedules itself."""
    _check_count("steps", steps, 1)
    _check_count("children", children, 0)
    _check_count("child_ns", child_ns, 0)
    _core.fanout(_check_cowns((state,))[0], steps, children, child_ns)
