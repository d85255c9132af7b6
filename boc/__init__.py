"""boc: Behaviour-Oriented Concurrency for Python, with swappable schedulers.

Wrap shared state in :class:`Cown` objects and run code on them with
:func:`when`; a behaviour runs once it holds every cown it names, so no two
behaviours ever touch one cown at once and no locks are needed.

>>> import boc
>>> boc.start(scheduler="central", workers=2)
>>> account = boc.Cown(100)
>>> @boc.when(account)
... def deposit(account):
...     account.value += 10
>>> report = boc.wait()
>>> account.value
110
"""

from boc._core import Cown
from boc.report import RunReport
from boc.runtime import (
    counters,
    executors,
    options,
    quiesce,
    schedulers,
    sequential,
    sources,
    start,
    stats,
    unavailable_executors,
    wait,
    when,
)
from boc.trace import Trace

__all__ = [
    "Cown",
    "__version__",
    "RunReport",
    "Trace",
    "counters",
    "executors",
    "options",
    "quiesce",
    "schedulers",
    "sequential",
    "sources",
    "start",
    "stats",
    "unavailable_executors",
    "wait",
    "when",
]


def __getattr__(name: str) -> str:
    """``boc.__version__``: the installed distribution's version (pyproject.toml
    is its one source), looked up on first use, as reading metadata is slow."""
    if name != "__version__":
        raise AttributeError(f"module 'boc' has no attribute {name!r}")
    from importlib import metadata

    try:
        version = metadata.version("boc")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        version = "0+unknown"
    globals()["__version__"] = version
    return version
