"""The record of one run of the runtime, from start() to wait()."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas  # type: ignore[import-untyped,unused-ignore]  # typed only with pandas-stubs

    from boc.trace import Trace


def _install_hint(extra: str) -> str:
    """The pip command that adds boc's ``extra`` the way boc was installed:
    from a checkout (editable or not) the folder it came from, else PyPI."""
    from importlib import metadata
    from urllib.parse import unquote, urlparse

    try:
        origin = json.loads(metadata.distribution("boc").read_text("direct_url.json") or "{}")
    except (metadata.PackageNotFoundError, ValueError):
        origin = {}
    url = urlparse(origin.get("url", ""))
    if url.scheme == "file" and "dir_info" in origin:
        editable = "-e " if origin["dir_info"].get("editable") else ""
        return f'python -m pip install {editable}"{unquote(url.path)}[{extra}]"'
    return f"python -m pip install 'boc[{extra}]'"


@dataclass(frozen=True)
class RunReport:
    """What :func:`boc.wait` returns: the configuration and statistics of a run.

    Attributes:
        scheduler: name of the strategy that ran.
        workers: number of worker threads.
        executor: how Python bodies ran (see :func:`boc.executors`).
        options: every option of the strategy, defaults filled in.
        stats: one dict per worker, as :func:`boc.stats` returns them.
        errors: exceptions raised by behaviour bodies during the run.
        elapsed_s: seconds from start() to the end of wait().
        order: the ids of the behaviours in the order they ran (numbered
            as they became runnable), where the strategy decides and records
            that order (``systematic``); None under the others.
        trace: the run's timeline (:class:`boc.Trace`) if it was started
            with ``trace=True`` (or ``BOC_TRACE=1``); else None.
    """

    scheduler: str | None
    workers: int
    executor: str | None = None
    options: dict[str, int] = field(default_factory=dict)
    stats: list[dict[str, int]] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    elapsed_s: float = 0.0
    order: list[int] | None = None
    trace: Trace | None = None

    def to_frame(self) -> "pandas.DataFrame":
        """The per-worker statistics as a pandas DataFrame, one row per worker.

        Columns are ``scheduler``, ``executor``, ``workers``, then every
        counter of :attr:`stats` (``worker``, ``behaviors_run``, ``parks``, ...).
        Raises ImportError naming the ``experiments`` extra if pandas is missing.
        """
        try:
            import pandas
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(f"RunReport.to_frame() needs pandas; install it with {_install_hint('experiments')}") from e
        frame = pandas.DataFrame(self.stats)
        frame.insert(0, "workers", self.workers)
        frame.insert(0, "executor", self.executor)
        frame.insert(0, "scheduler", self.scheduler)
        return frame

    def total(self, counter: str) -> int:
        """The sum of one counter over all workers (0 for a report with no workers).

        Raises KeyError for a name that is not a counter of this run, naming
        the ones that are (:func:`boc.counters` describes them).
        """
        known = list(self.stats[0]) if self.stats else self._counter_names()
        if counter not in known:
            import difflib  # only for this message: it is slow to import

            close = difflib.get_close_matches(counter, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise KeyError(f"{counter!r} is not a counter of this run{hint}; its counters are: {', '.join(known)}")
        return sum(int(s[counter]) for s in self.stats)

    def _counter_names(self) -> list[str]:
        """Every counter this run's strategy reports (any strategy's if none ran)."""
        from boc import runtime  # imported here: boc.runtime imports this module

        names = [self.scheduler] if self.scheduler else sorted(runtime.schedulers())
        return list(dict.fromkeys(c for name in names for c in runtime.counters(name)))

