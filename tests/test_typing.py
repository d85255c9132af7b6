"""Type checkers see boc: the stubs built with the extension (_core.pyi)
make ``Cown`` generic in its value, and ``mypy --strict`` accepts a typed
program that uses the API while rejecting one that misuses a value's type."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import boc

pytestmark = pytest.mark.executor("threads")

PACKAGE = Path(boc.__file__).resolve().parent

TYPED_PROGRAM = """
    import boc


    def main() -> None:
        boc.start(scheduler="central", workers=2)
        account: boc.Cown[int] = boc.Cown(100)
        log: boc.Cown[list[str]] = boc.Cown([])

        @boc.when(account, log)
        def deposit(a: boc.Cown[int], entries: boc.Cown[list[str]]) -> int:
            a.value += 10
            entries.value.append("deposit")
            return a.value

        @boc.when([account])
        def audit(group: list[boc.Cown[int]]) -> None:
            assert sum(c.value for c in group) == 110

        report: boc.RunReport = boc.wait()
        balance: int = account.value
        error: BaseException | None = deposit.exception
        print(balance, error, report.elapsed_s, report.total("behaviors_run"), boc.schedulers())
"""

MISUSE = """
    import boc

    account: boc.Cown[int] = boc.Cown(100)
    account.value = "a hundred"
"""


def _stub() -> Path:
    spec = importlib.util.find_spec("boc._core")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).with_name("_core.pyi")


def _mypy(tmp_path: Path, program: str) -> subprocess.CompletedProcess[str]:
    """mypy --strict on ``program``, seeing boc as installed: its Python
    sources and the stub that the build made next to the extension."""
    stub = _stub()
    if not stub.is_file():
        pytest.skip("this build made no stubs (sanitizer builds do not import the module they build)")
    pytest.importorskip("mypy")
    seen = tmp_path / "path" / "boc"
    shutil.copytree(PACKAGE, seen, ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__", "*.pyi"))
    shutil.copy(stub, seen / "_core.pyi")
    (tmp_path / "program.py").write_text(textwrap.dedent(program))
    env = dict(os.environ, MYPYPATH=str(tmp_path / "path"))
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull, "program.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env,
    )


def test_the_build_installs_stubs_that_make_cown_generic() -> None:
    stub = _stub()
    if not stub.is_file():
        pytest.skip("this build made no stubs (sanitizer builds do not import the module they build)")
    text = stub.read_text()
    assert "class Cown(Generic[T]):" in text
    assert "def value(self, /) -> T" in text


def test_mypy_strict_accepts_a_typed_program(tmp_path: Path) -> None:
    done = _mypy(tmp_path, TYPED_PROGRAM)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_rejects_a_value_of_the_wrong_type(tmp_path: Path) -> None:
    done = _mypy(tmp_path, MISUSE)
    assert done.returncode == 1, done.stdout + done.stderr
    assert 'Incompatible types in assignment (expression has type "str", variable has type "int")' in done.stdout
