"""Start-up loads only what a command needs: no database stack and no jsonschema for
``civic --help`` or ``civic plugins`` (see the module docstring of ``civic.cli``).

Each case runs the real console entry point, plugin loading included, in a fresh
interpreter, and reports which heavy packages ended up in ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: Packages a command that does not touch the database or check a form must not load.
HEAVY = (
    "alembic", "cryptography", "jsonschema", "psycopg", "sqlalchemy", "sqlmodel",
    "starlette", "uvicorn", "httpx",
)  # fmt: skip

PROBE = """
import contextlib, io, json, sys
heavy = set(json.loads(sys.argv[2]))
sys.argv = ["civic", *json.loads(sys.argv[1])]
from civic.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main()
    except SystemExit as exc:
        code = exc.code or 0
    else:
        code = 0
loaded = sorted({name.split(".")[0] for name in sys.modules} & heavy)
print(json.dumps({"code": code, "output": out.getvalue(), "loaded": loaded}))
"""


def start(*args: str) -> dict[str, object]:
    """Run ``civic ARGS`` in a new interpreter: exit code, output and heavy packages."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["--help"], "protocols"),
        (["report", "--help"], "--since"),
        (["run", "--help"], "--database-url"),
        (["plugins", "--all", "--json"], '"name": "cac"'),
    ],
    ids=["help", "report-help", "run-help", "plugins"],
)
def test_commands_that_need_no_database_load_none(args: list[str], shown: str) -> None:
    started = start(*args)
    assert started["code"] == 0
    assert shown in str(started["output"])
    assert started["loaded"] == []


def test_a_command_that_opens_the_database_does_load_it(tmp_path: Path) -> None:
    """The probe sees heavy imports when they happen (so the test above can fail)."""
    url = f"sqlite:///{tmp_path / 'none.db'}"
    started = start("protocols", "show", "PROCON-2026-000001", "--database-url", url)
    assert started["code"] == 1
    assert "sqlalchemy" in started["loaded"]
