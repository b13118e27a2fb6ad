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
- ``startup``: ``civic --help`` and ``civic run``'s first prompt, beside ``python -c
  pass`` and a bare Typer app (``bench_startup.py``);
- ``reading``: reading a message (``civic.reading.read``), beside the old CPF redaction
  (``bench_reading.py``);
- ``webhook``: signed WhatsApp deliveries end to end through ``civic serve`` (1 and 2
  workers; two processes round-robin too, except with ``--quick``), replies counted at a
  fake Graph API, and its peak memory, beside a bare Starlette webhook on the same
  loopback (``bench_webhook.py``);
- ``workers``: the engine in 1, 2 and 4 processes on one PostgreSQL, beside raw psycopg
  in as many (``bench_workers.py``; PostgreSQL only, a row says it was skipped without
  ``--database-url``).

With ``--database-url postgresql+psycopg://...`` the engine, report and webhook
benchmarks run on PostgreSQL too, and the workers benchmark runs, each in a database of
its own created on that server and dropped at the end. ``--quick`` uses sizes small
enough for CI (under a minute in all on SQLite; about two with ``--database-url``).
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
import bench_webhook
import bench_workers
import databases
import machine
from table import Row, as_json, markdown

NAMES = ("engine", "report", "startup", "reading", "webhook", "workers")


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
    deliveries: int
    webhook_budget: float
    layouts: tuple[bench_webhook.Layout, ...]
    worker_messages: int
    workers_budget: float


FULL = Sizes(
    messages=20_000,
    engine_budget=600,
    rows=1_000_000,
    report_budget=400,
    repeats=3,
    runs=20,
    startup_budget=60,
    rounds=2_000,
    line=250_000,
    deliveries=10_000,
    webhook_budget=300,
    layouts=bench_webhook.LAYOUTS,
    worker_messages=20_000,
    workers_budget=300,
)
QUICK = Sizes(
    messages=1_500,
    engine_budget=15,
    rows=20_000,
    report_budget=15,
    repeats=1,
    runs=5,
    startup_budget=6,
    rounds=100,
    line=25_000,
    deliveries=300,
    webhook_budget=30,
    layouts=bench_webhook.LAYOUTS[:2],
    worker_messages=600,
    workers_budget=15,
)

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
        "--deliveries", type=int, help="webhook: deliveries per run (each layout, each server)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=bench_webhook.CONCURRENCY,
        help=f"webhook: deliveries in flight (default {bench_webhook.CONCURRENCY})",
    )
    parser.add_argument(
        "--worker-messages", type=int, help="workers: messages per run, split between workers"
    )
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

    engine, report, startup, reading, webhook, workers = (
        bench_engine.run,
        bench_report.run,
        bench_startup.run,
        bench_reading.run,
        bench_webhook.run,
        bench_workers.run,
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
        "webhook": [
            (
                f"webhook, {where(url)}",
                functools.partial(
                    webhook,
                    deliveries=options.deliveries or sizes.deliveries,
                    budget=sizes.webhook_budget,
                    database_url=url,
                    concurrency=options.concurrency,
                    layouts=sizes.layouts,
                ),
            )
            for url in urls
        ],
        "workers": [
            (
                "workers, PostgreSQL",
                functools.partial(
                    workers,
                    messages=options.worker_messages or sizes.worker_messages,
                    budget=sizes.workers_budget,
                    database_url=options.database_url,
                ),
            )
        ],
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
