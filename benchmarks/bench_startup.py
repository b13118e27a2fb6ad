"""Benchmark start-up: wall time of ``civic --help``, and what its imports cost.

    python benchmarks/run.py --only startup [--runs N] [--startup-baseline PYTHON]

Runs ``python -m civic --help`` N times in fresh processes (plugin loading included),
``.pyc`` files cached as in an installed civic, and takes the median. The baselines run
in the same loop, alternating with civic so that a busy machine slows all alike:

- ``python -c pass``: the interpreter alone, the floor of any command;
- a two-command Typer application's ``--help``, with civic's Typer settings (no Rich,
  no completion): what the CLI framework costs at best;
- with ``--startup-baseline PYTHON``, the interpreter of another checkout (a
  ``git worktree`` of an older commit with its own venv) running its ``civic --help``.

A note gives ``-X importtime``'s self time per top-level package of ``civic --help`` and
which heavy packages (the database stack, jsonschema) it imported at all.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from table import Row, times

HEAVY = ("alembic", "cryptography", "jsonschema", "psycopg", "sqlalchemy", "sqlmodel")
HELP = ["-m", "civic", "--help"]
#: As an installed civic runs: modules compiled once to ``__pycache__``, then reused.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
#: The smallest Typer application with civic's settings.
TYPER_APP = '''
import typer

app = typer.Typer(rich_markup_mode=None, add_completion=False, pretty_exceptions_enable=False)


@app.command()
def hello(name: str = "Maria") -> None:
    """Say hello."""
    typer.echo(f"Olá, {name}!")


@app.command()
def bye() -> None:
    """Say goodbye."""


app()
'''


def once(command: list[str]) -> float:
    """Seconds for one run of ``command`` in a new process."""
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=ENV)
    return time.perf_counter() - start


def import_breakdown(python: str) -> tuple[Counter[str], float]:
    """Microseconds of import time per top-level package, and the total, in ms."""
    done = subprocess.run(
        [python, "-X", "importtime", *HELP], check=True, capture_output=True, text=True, env=ENV
    )
    own: Counter[str] = Counter()
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        own[name.strip().split(".")[0]] += int(self_us)
    return own, sum(own.values()) / 1000


def run(*, runs: int, budget: float, baseline: str | None = None) -> tuple[list[Row], list[str]]:
    """The medians of ``runs`` alternating runs (fewer when the budget is spent)."""
    with tempfile.TemporaryDirectory(prefix="civic-bench-typer-") as folder:
        app = Path(folder) / "app.py"
        app.write_text(TYPER_APP)
        commands = {
            "civic": [sys.executable, *HELP],
            "python -c pass": [sys.executable, "-c", "pass"],
            "Typer app, two commands, --help": [sys.executable, str(app), "--help"],
        }
        if baseline:
            commands[f"civic --help of {baseline}"] = [baseline, *HELP]
        for command in commands.values():
            once(command)  # warm the file cache and write the .pyc files
        found: dict[str, list[float]] = {name: [] for name in commands}
        started = time.perf_counter()
        for _ in range(runs):
            for name, command in commands.items():
                found[name].append(once(command) * 1000)
            if time.perf_counter() - started > budget:
                break
    civic = statistics.median(found.pop("civic"))
    done = len(next(iter(found.values())))
    rows = [
        Row(
            f"startup, median of {done}",
            "`civic --help` wall (ms)",
            civic,
            name,
            statistics.median(values),
            ratio=f"{times(civic, statistics.median(values)):.1f}× the time",
            unit="ms",
        )
        for name, values in found.items()
    ]
    own, total = import_breakdown(sys.executable)
    heaviest = ", ".join(
        f"{package} {micros / 1000:.0f} ms" for package, micros in own.most_common(6)
    )
    loaded = ", ".join(sorted(set(own) & set(HEAVY))) or "none"
    notes = [
        f"startup: `civic --help` imports take {total:.0f} ms (-X importtime self times;"
        f" heaviest: {heaviest}); heavy packages imported: {loaded}."
    ]
    return rows, notes


if __name__ == "__main__":  # the command this file had: run.py --only startup
    import run

    given = ["--startup-baseline" if a == "--baseline" else a for a in sys.argv[1:]]
    sys.exit(run.main(["--only", "startup", *given]))
