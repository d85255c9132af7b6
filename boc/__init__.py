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

from importlib import metadata

from boc._core import Cown
from boc.report import RunReport
from boc.runtime import (
    counters,
    options,
    quiesce,
    schedulers,
    sources,
    start,
    stats,
    wait,
    when,
)

try:
    __version__: str = metadata.version("boc")  # pyproject.toml is the one source
except metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "Cown",
    "__version__",
    "RunReport",
    "counters",
    "options",
    "quiesce",
    "schedulers",
    "sources",
    "start",
    "stats",
    "wait",
    "when",
]
