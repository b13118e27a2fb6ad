"""The code base stays ruff clean (CI runs this with the rest of the suite)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(
    shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
    reason="ruff is not installed (pip install -e '.[test]' installs it)",
)
@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_ruff(command: list[str]) -> None:
    ruff = Path(sys.executable).parent / "ruff"
    executable = str(ruff) if ruff.exists() else "ruff"
    result = subprocess.run(
        [executable, *command, "core", "plugins", "tests", "benchmarks", "docs", "examples"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
