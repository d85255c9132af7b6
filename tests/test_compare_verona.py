"""cpp/bench/compare_verona.py refuses what it cannot build from, saying why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "cpp" / "bench" / "compare_verona.py"


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=60)


def test_a_folder_that_is_not_verona_rt_is_refused(tmp_path: Path) -> None:
    r = _run("--verona", tmp_path)
    assert r.returncode != 0
    assert "not a Verona-RT checkout" in r.stderr


def test_a_missing_dependency_names_the_commit_verona_rt_pins(tmp_path: Path) -> None:
    (tmp_path / "src" / "rt").mkdir(parents=True)
    (tmp_path / "src" / "rt" / "verona.h").write_text("")
    (tmp_path / "src" / "CMakeLists.txt").write_text(
        "FetchContent_Declare(\n  snmalloc\n  GIT_REPOSITORY https://example.invalid/snmalloc\n"
        "  GIT_TAG        0123abcd\n)\n"
    )
    r = _run("--verona", tmp_path)
    assert r.returncode != 0
    assert "--snmalloc" in r.stderr and "0123abcd" in r.stderr


def test_an_unknown_shape_is_refused_with_the_shapes_both_have(tmp_path: Path) -> None:
    r = _run("--verona", tmp_path, "--shapes", "fanout64")
    assert r.returncode == 2
    assert "fanout64" in r.stderr and "schedule, banking, dining_phil" in r.stderr
