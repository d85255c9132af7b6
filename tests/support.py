"""Helpers for the tests: events every interpreter can use, a gate that
holds cowns, a self-rescheduling chain, and programs run in a fresh
interpreter. The fixtures and options of the suite are in the root
conftest.py; strategy tests under schedulers/<name>/tests/ import these too.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Iterator

import pytest

import boc


class PipeEvent:
    """An event any interpreter of this process can set and wait for: a pipe
    (its file descriptors are plain ints, so bodies under every executor
    capture them)."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()

    def set(self) -> None:
        os.write(self.write_fd, b"x")

    def wait(self, timeout: float | None = None) -> bool:
        return bool(select.select([self.read_fd], [], [], timeout)[0])

    def is_set(self) -> bool:
        return self.wait(0)

    def close(self) -> None:
        os.close(self.read_fd)
        os.close(self.write_fd)


class Gate:
    """Schedules behaviours that hold their cowns until the gate opens.

    The body polls the gate with a short timeout, so it never blocks the
    worker for long in one call and the test thread can always open it.
    """

    def __init__(self) -> None:
        self._open = PipeEvent()
        self.entered = PipeEvent()  # set once a held body has started

    def hold(self, *cowns: boc.Cown) -> boc.Cown:
        """Schedule a behaviour on ``cowns`` that runs until :meth:`open`."""
        opened, entered = self._open.read_fd, self.entered.write_fd

        @boc.when(*cowns)
        def held(*_: boc.Cown) -> None:
            import os
            import select

            os.write(entered, b"x")
            while not select.select([opened], [], [], 0.002)[0]:
                pass

        return held

    def open(self) -> None:
        self._open.set()


@contextlib.contextmanager
def endless_chain() -> Iterator[boc.Cown]:
    """A Python behaviour that reschedules itself until the block ends.

    Yields the cown counting its steps; on leaving the block (also on a
    failed assertion) a behaviour on its flag cown stops it.
    """
    counter, flag = boc.Cown(0), boc.Cown(False)

    def spin() -> None:
        @boc.when(counter, flag)
        def step(counter: boc.Cown, flag: boc.Cown) -> None:
            counter.value += 1
            if not flag.value:
                spin()

    spin()
    try:
        yield counter
    finally:

        @boc.when(flag)
        def stop(flag: boc.Cown) -> None:
            flag.value = True


class Script:
    """A Python program run in a fresh interpreter, its output read as it comes.

    For what cannot be tested inside the test process: signals, interpreter
    exit, fork, and anything that might crash. ``code`` is dedented; the
    program's ``sys.argv[1:]`` are ``args``.
    """

    def __init__(self, code: str, *args: str, env: dict[str, str] | None = None) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self._out: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(name, getattr(self._proc, name)), daemon=True)
            for name in self._out
        ]
        for r in self._readers:
            r.start()

    def _read(self, name: str, stream) -> None:
        for line in stream:
            with self._changed:
                self._out[name].append(line)
                self._changed.notify_all()

    @property
    def stdout(self) -> str:
        with self._changed:
            return "".join(self._out["stdout"])

    @property
    def stderr(self) -> str:
        with self._changed:
            return "".join(self._out["stderr"])

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        """Block until ``text`` appears on stdout or stderr; fail the test if the
        program ends first or ``timeout`` s pass."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(text in "".join(lines) for lines in self._out.values()):
                ended = self._proc.poll() is not None and not any(r.is_alive() for r in self._readers)
                if ended or time.monotonic() > deadline:
                    self._proc.kill()
                    pytest.fail(f"the program never printed {text!r}; it printed:\n{self._dump()}", pytrace=False)
                self._changed.wait(0.1)

    def send(self, signum: int = signal.SIGINT) -> None:
        self._proc.send_signal(signum)

    def finish(self, timeout: float = 60.0) -> int:
        """The exit status once the program ends (negative: killed by that signal);
        fails the test, killing the program, if it runs past ``timeout`` s."""
        try:
            code = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
            for r in self._readers:
                r.join(5)
            pytest.fail(f"the program did not end within {timeout} s; it printed:\n{self._dump()}", pytrace=False)
        for r in self._readers:
            r.join(5)
        return code

    def _dump(self) -> str:
        return "".join(f"--- {name}\n{''.join(lines)}" for name, lines in self._out.items())

    def __enter__(self) -> "Script":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()


def run_script(code: str, *args: str, timeout: float = 60.0, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``code`` in a fresh interpreter to its end: (exit status, stdout, stderr)."""
    with Script(code, *args, env=env) as script:
        code_ = script.finish(timeout)
        return code_, script.stdout, script.stderr


def assert_clean_end(status: int, stderr: str, expected: int = 0) -> None:
    """The program ended with ``expected`` and without the marks of a crash."""
    for mark in ("FATAL", "Fatal Python error", "Segmentation fault", "AddressSanitizer", "leaked", "Aborted"):
        assert mark not in stderr, f"{mark!r} in the program's stderr:\n{stderr}"
    assert status == expected, f"exit status {status}, expected {expected}; stderr:\n{stderr}"
