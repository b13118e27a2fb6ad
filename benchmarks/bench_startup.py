"""Benchmark start-up: ``civic --help``, ``civic run``'s first prompt, and imports.

    python benchmarks/run.py --only startup [--runs N] [--startup-baseline PYTHON]

Runs ``python -m civic --help`` N times in fresh processes (plugin loading included),
``.pyc`` files cached as in an installed civic, and takes the median. ``civic run`` is
timed twice over: to its first prompt (``você>``, on a pseudo-terminal as a citizen at a
keyboard sees it: the engine is open, the plugins loaded, the database checked; then
Ctrl-D), and whole as ``echo oi | civic run`` (the first reply included, then exit),
both in an instance folder of their own whose database exists already. The baselines
run in the same loop, alternating with civic so that a busy machine slows all alike:

- ``python -c pass``: the interpreter alone, the floor of any command (and of
  ``civic run``'s first prompt, which is also shown beside ``civic --help``);
- a two-command Typer application's ``--help``, with civic's Typer settings (no Rich,
  no completion): what the CLI framework costs at best;
- with ``--startup-baseline PYTHON``, the interpreter of another checkout (a
  ``git worktree`` of an older commit with its own venv) running its ``civic --help``.

A note gives ``-X importtime``'s self time per top-level package of ``civic --help`` and
which heavy packages (the database stack, jsonschema) it imported at all.
"""

from __future__ import annotations

import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from table import Row, times

HEAVY = ("alembic", "cryptography", "jsonschema", "psycopg", "sqlalchemy", "sqlmodel")
HELP = ["-m", "civic", "--help"]
#: What ``civic run`` shows a citizen at a terminal when it is ready for a message.
PROMPT = "você> ".encode()
#: The most seconds ``civic run`` may take to show its prompt, or to exit after Ctrl-D.
PROMPT_TIMEOUT = 60.0
RUN_PROMPT = "`civic run` to its first prompt, wall (ms)"
RUN_PIPED = "`civic run`, one message piped in: first reply and exit, wall (ms)"
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


def once(command: list[str], env: dict[str, str] = ENV) -> float:
    """Seconds for one run of ``command`` in a new process."""
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def piped(command: list[str], env: dict[str, str]) -> float:
    """Seconds for ``echo oi | command``, which must answer (``civic>``)."""
    start = time.perf_counter()
    done = subprocess.run(command, input=b"oi\n", check=True, capture_output=True, env=env)
    elapsed = time.perf_counter() - start
    if b"civic>" not in done.stdout:
        raise RuntimeError(f"civic run did not answer: {done.stdout[-300:]!r}")
    return elapsed


def first_prompt(command: list[str], env: dict[str, str]) -> float:
    """Seconds until ``command`` (``civic run``) shows its prompt on a pseudo-terminal;
    then Ctrl-D ends it, and it must exit cleanly."""
    import pty
    import select

    master, slave = pty.openpty()
    start = time.perf_counter()
    try:
        process = subprocess.Popen(
            command, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
        )
    finally:
        os.close(slave)
    assert process.stdout is not None
    try:
        seen = b""
        while PROMPT not in seen:
            readable, _, _ = select.select([process.stdout], [], [], PROMPT_TIMEOUT)
            chunk = os.read(process.stdout.fileno(), 4096) if readable else b""
            if not chunk:
                raise RuntimeError(f"civic run showed no prompt: {seen[-300:]!r}")
            seen += chunk
        elapsed = time.perf_counter() - start
        os.write(master, b"\x04")  # Ctrl-D at the prompt: the citizen leaves
        if process.wait(timeout=PROMPT_TIMEOUT):
            raise RuntimeError(f"civic run exited with {process.returncode} after Ctrl-D")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        os.close(master)
    return elapsed


def run_environment(folder: Path) -> dict[str, str]:
    """``civic run``'s environment: an instance folder of its own, no other settings."""
    env = {k: v for k, v in ENV.items() if not k.startswith("CIVIC_")}
    env["CIVIC_HOME"] = str(folder / "home")
    return env


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
    with tempfile.TemporaryDirectory(prefix="civic-bench-startup-") as name:
        folder = Path(name)
        app = folder / "app.py"
        app.write_text(TYPER_APP)
        commands = {
            "civic": [sys.executable, *HELP],
            "python -c pass": [sys.executable, "-c", "pass"],
            "Typer app, two commands, --help": [sys.executable, str(app), "--help"],
        }
        if baseline:
            commands[f"civic --help of {baseline}"] = [baseline, *HELP]
        civic_run = [sys.executable, "-m", "civic", "run"]
        env = run_environment(folder)
        timed: dict[str, Callable[[], float]] = {
            name: functools.partial(once, command) for name, command in commands.items()
        }
        timed[RUN_PROMPT] = functools.partial(first_prompt, civic_run, env)
        timed[RUN_PIPED] = functools.partial(piped, civic_run, env)
        for measure in timed.values():
            measure()  # warm the file cache, write the .pyc files, create the database
        found: dict[str, list[float]] = {name: [] for name in timed}
        started = time.perf_counter()
        for _ in range(runs):
            for name, measure in timed.items():
                found[name].append(measure() * 1000)
            if time.perf_counter() - started > budget:
                break
    medians = {name: statistics.median(values) for name, values in found.items()}
    done = len(found["civic"])
    bench = f"startup, median of {done}"
    civic = medians.pop("civic")
    prompt, whole = medians.pop(RUN_PROMPT), medians.pop(RUN_PIPED)
    rows = [
        Row(
            bench,
            "`civic --help` wall (ms)",
            civic,
            name,
            value,
            ratio=f"{times(civic, value):.1f}× the time",
            target="≤ 300 ms" if name == "python -c pass" else "",
            met=civic <= 300 if name == "python -c pass" else None,
            unit="ms",
        )
        for name, value in medians.items()
    ]
    rows += [
        Row(
            bench,
            figure,
            mine,
            name,
            value,
            ratio=f"{times(mine, value):.1f}× the time",
            unit="ms",
        )
        for figure, mine in ((RUN_PROMPT, prompt), (RUN_PIPED, whole))
        for name, value in (
            ("`civic --help`", civic),
            ("python -c pass", medians["python -c pass"]),
        )
    ]
    own, total = import_breakdown(sys.executable)
    heaviest = ", ".join(
        f"{package} {micros / 1000:.0f} ms" for package, micros in own.most_common(6)
    )
    loaded = ", ".join(sorted(set(own) & set(HEAVY))) or "none"
    notes = [
        f"startup: `civic --help` imports take {total:.0f} ms (-X importtime self times;"
        f" heaviest: {heaviest}); heavy packages imported: {loaded}. `civic run` is timed"
        " in an instance whose database exists (its first run, which creates it, is not"
        " counted)."
    ]
    return rows, notes


if __name__ == "__main__":  # the command this file had: run.py --only startup
    import run as runner

    given = ["--startup-baseline" if a == "--baseline" else a for a in sys.argv[1:]]
    sys.exit(runner.main(["--only", "startup", *given]))
