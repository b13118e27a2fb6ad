"""Run civic's benchmarks and print one table, each figure beside its baseline.

    python benchmarks/run.py [--quick] [--database-url URL] [--only NAME] [--json]

Every benchmark measures civic and its baselines in the same run (so a busy or slow
machine slows both) and is bounded in time. The table says what ran on which machine;
``docs/benchmarks.md`` holds a full run and explains each row. Targets are shown for
information, never asserted.

- ``engine``: whole conversations through ``Engine.handle``, beside raw ``sqlite3`` (the
  floor) and a plain SQLModel ``Session`` per message (``bench_engine.py``);
- ``report``: ``civic report`` over N ratings, beside loading every row into Python
  (``bench_report.py``);
- ``startup``: ``civic --help``, beside ``python -c pass`` and a bare Typer app
  (``bench_startup.py``);
- ``reading``: reading a message (``civic.reading.read``), beside the old CPF redaction
  (``bench_reading.py``).

With ``--database-url postgresql+psycopg://...`` the engine and report benchmarks run
on PostgreSQL too, each in a database of its own created on that server and dropped at
the end. ``--quick`` uses sizes small enough for CI (under a minute in all).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench_* modules

import bench_engine
import bench_reading
import bench_report
import bench_startup
import databases
import machine
from table import Row, as_json, markdown

NAMES = ("engine", "report", "startup", "reading")


@dataclass(frozen=True)
class Sizes:
    """How much each benchmark does, and the most seconds it may take (per database)."""

    messages: int
    engine_budget: float
    rows: int
    report_budget: float
    repeats: int
    runs: int
    startup_budget: float
    rounds: int
    line: int


FULL = Sizes(20_000, 600, 1_000_000, 400, 3, 20, 60, 2_000, 250_000)
QUICK = Sizes(1_500, 15, 20_000, 15, 1, 5, 6, 100, 25_000)

Result = tuple[list[Row], list[str]]


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI sizes (under a minute)")
    parser.add_argument(
        "--database-url",
        help="PostgreSQL to run the engine and report benchmarks on too"
        " (postgresql+psycopg://user@host/db; a database is created beside it and dropped)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=NAMES,
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(NAMES)}",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--messages", type=int, help="engine: inbound messages to play")
    parser.add_argument("--rows", type=int, help="report: ratings to generate")
    parser.add_argument("--runs", type=int, help="startup: runs of each command")
    parser.add_argument(
        "--startup-baseline",
        metavar="PYTHON",
        help="startup: also time the civic --help of another checkout's interpreter",
    )
    return parser.parse_args(argv)


def plan(options: argparse.Namespace) -> dict[str, list[tuple[str, Callable[[], Result]]]]:
    """The runs of each chosen benchmark, by name, with their labels."""
    sizes = QUICK if options.quick else FULL
    messages = options.messages or sizes.messages
    rows = options.rows or sizes.rows
    urls: list[str | None] = [None, *([options.database_url] if options.database_url else [])]

    def where(url: str | None) -> str:
        return "PostgreSQL" if url else "SQLite"

    engine, report, startup, reading = (
        bench_engine.run,
        bench_report.run,
        bench_startup.run,
        bench_reading.run,
    )
    runs: dict[str, list[tuple[str, Callable[[], Result]]]] = {
        "engine": [
            (
                f"engine, {where(url)}",
                functools.partial(
                    engine, messages=messages, budget=sizes.engine_budget, database_url=url
                ),
            )
            for url in urls
        ],
        "report": [
            (
                f"report, {where(url)}",
                functools.partial(
                    report,
                    rows=rows,
                    budget=sizes.report_budget,
                    repeats=sizes.repeats,
                    database_url=url,
                ),
            )
            for url in urls
        ],
        "startup": [
            (
                "startup",
                functools.partial(
                    startup,
                    runs=options.runs or sizes.runs,
                    budget=sizes.startup_budget,
                    baseline=options.startup_baseline,
                ),
            )
        ],
        "reading": [("reading", functools.partial(reading, rounds=sizes.rounds, size=sizes.line))],
    }
    chosen = options.only or list(NAMES)
    return {name: runs[name] for name in NAMES if name in chosen}


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(argv)
    version = databases.postgres_version(options.database_url) if options.database_url else None
    described = machine.describe(version)
    described["sizes"] = "quick (--quick)" if options.quick else "full"
    rows: list[Row] = []
    notes: list[str] = []
    started = time.perf_counter()
    for runs in plan(options).values():
        for label, run in runs:
            print(f"running {label}...", file=sys.stderr, flush=True)
            begun = time.perf_counter()
            found, said = run()
            rows += found
            notes += said
            print(f"  {label}: {time.perf_counter() - begun:.1f} s", file=sys.stderr)
    described["total time"] = f"{time.perf_counter() - started:.1f} s"
    if options.json:
        print(as_json(described, rows, notes))
    else:
        print("Machine:\n" + machine.markdown(described) + "\n")
        print(markdown(rows))
        if notes:
            print("\nNotes:\n" + "\n".join(f"- {note}" for note in notes))
    return 1 if any(note.startswith("WARNING") for note in notes) else 0


if __name__ == "__main__":
    sys.exit(main())
