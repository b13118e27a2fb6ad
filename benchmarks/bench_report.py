"""Benchmark ``civic report``: the whole command against loading every rating into Python.

    python benchmarks/run.py --only report [--rows N] [--database-url URL]

Fills a fresh database with N conversations, each with its closing survey (1,000,000
with the full sizes, 20,000 with ``--quick``): a tenth of the surveys declined, a tenth
of the citizens anonymous, one conversation in four handed to an attendant, one in
twenty abandoned. The rows are written by the database's own driver (``executemany`` on
``sqlite3``, ``COPY`` on psycopg), with the durations civic stores when a conversation
closes; on PostgreSQL the tables are then vacuumed and analysed, as autovacuum does on a
database in use (SQLite gets no ``ANALYZE``: civic never runs one). Then it times, in
the same run:

- the whole ``civic report`` command, as a user runs it: a new process
  (``python -m civic report --database-url URL --format json``, so its figures can be
  checked), which starts Python, loads the plugins, opens the database, computes every
  indicator and renders the report. Target: at most a second over 1,000,000 ratings;
- the same command over an empty database: what the command costs besides the
  database (start-up, plugins, rendering), given in the notes;
- :func:`civic.report.build_report` in this process, with every installed plugin's
  indicators, as the command calls it: the database's share of the command;
- the baseline: every conversation and rating row loaded into Python, and the same
  figures (mean, contacts, NPS, both median durations) computed there, from the times.

Each time is the median of three rounds (one with ``--quick``), the ways taking turns
so that a busy machine slows them alike. Peak memory of ``build_report`` and of the
baseline is measured in one more run each, under ``tracemalloc`` (which slows Python
down, so it is not timed); it sees Python's allocations only, not the database's own
memory. The figures of the command, of ``build_report`` and of the baseline must agree,
or a warning is printed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pluggy
import sqlalchemy as sa
from databases import fresh, libpq_url
from table import Row, faster, times

from civic import storage as db
from civic.report import ReportScope, build_report
from civic.testing import build_manager

BATCH = 20_000
START = dt.datetime(2021, 1, 1)  # UTC
YEAR = 365 * 86400
DEPARTMENTS = ("cac", "procon", "jsm", "saude", "obras")
AGENTS = ("ana", "bruno", "carla")
SCORE_WEIGHTS = (1, 0, 0, 0, 1, 2, 2, 3, 8, 20, 63)  # a realistic, very happy 0-10 spread
#: The ratings the target is set for, and the target (seconds, the whole command).
TARGET_ROWS = 1_000_000
TARGET_SECONDS = 1.0

CITIZEN = ("id", "name", "cpf_hash", "cpf_masked", "created_at", "last_seen_at")
CONVERSATION = (
    "id", "channel", "address", "citizen_id", "state", "department", "context",
    "opened_at", "updated_at", "first_response_at", "closed_at", "agent",
    "handed_over_at", "agent_first_response_at", "resolved_at", "close_reason",
    "first_response_seconds", "resolution_seconds",
)  # fmt: skip
RATING = (
    "conversation_id", "department", "agent", "score", "scale_min", "scale_max",
    "comment", "answers", "created_at",
)  # fmt: skip
Writer = Callable[[str, Sequence[str], Iterable[Sequence[Any]]], None]


def generate(url: str, rows: int, *, deadline: float, seed: int = 2021) -> int:
    """Insert ``rows`` conversations and ratings (and a citizen for every ten) in
    batches, or as many as fit before ``deadline`` (a ``time.perf_counter`` value);
    return how many."""
    rng = random.Random(seed)
    citizens = max(rows // 10, 1)
    started = time.perf_counter()
    done = 0
    spacing = YEAR / rows  # conversations open one after another over a year
    with writer(url) as write:
        stamp = _stamp(url)
        at = stamp(0)
        people = range(1, citizens + 1)
        write("citizen", CITIZEN, ((n, f"Cidadão {n}", f"{n:064d}", "***", at, at) for n in people))
        for first in range(1, rows + 1, BATCH):
            if time.perf_counter() > deadline:
                break
            last = min(first + BATCH, rows + 1) - 1
            numbers = range(first, last + 1)
            conversations, ratings = batch(rng, numbers, citizens, spacing, stamp)
            write("conversation", CONVERSATION, conversations)
            write("rating", RATING, ratings)
            done = last
            rate = done / (time.perf_counter() - started)
            progress = f"\r  report: inserted {done:,}/{rows:,} ({rate:,.0f} rows/s)"
            print(progress, end="", file=sys.stderr)
    print(file=sys.stderr)
    return done


def batch(
    rng: random.Random,
    numbers: range,
    citizens: int,
    spacing: float,
    stamp: Callable[[int], str],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The conversation and rating rows numbered ``numbers``: conversation ``n`` opens
    at a random moment of the ``n``-th slot of ``spacing`` seconds (so ids grow with
    time, as in a database in use); times are whole seconds after :data:`START`
    (``stamp`` writes them), durations as civic stores them."""
    conversations, ratings = [], []
    for n in numbers:
        department = DEPARTMENTS[n % len(DEPARTMENTS)]
        opened = int((n - 1 + rng.random()) * spacing)
        first_response = opened + rng.randint(1, 30)
        if n % 4 == 1:  # handed to an attendant: the team's times count
            handed = opened + rng.randint(60, 600)
            answered = handed + rng.randint(30, 1800)
            resolved = answered + rng.randint(60, 7200)
            closed = resolved + rng.randint(30, 600)
            agent: str | None = AGENTS[n % len(AGENTS)]
            durations = (answered - handed, resolved - handed)
            team = (stamp(handed), stamp(answered), stamp(resolved))
        else:
            closed = opened + rng.randint(60, 3600)
            agent = None
            durations = (first_response - opened, closed - opened)
            team = (None, None, None)
        abandoned = n % 20 == 3  # among the declined surveys (n % 10 == 3)
        conversations.append(
            (
                n, "whatsapp", f"+55{n}", None if n % 10 == 0 else rng.randint(1, citizens),
                "closed", department, "{}", stamp(opened), stamp(closed),
                stamp(first_response), stamp(closed), agent, *team,
                "abandoned" if abandoned else "completed", float(durations[0]),
                float(durations[1]),
            )
        )  # fmt: skip
        score = None if n % 10 == 3 else rng.choices(range(11), SCORE_WEIGHTS)[0]
        ratings.append((n, department, agent, score, 0, 10, None, "{}", stamp(closed)))
    return conversations, ratings


def _stamp(url: str) -> Callable[[int], str]:
    """How a time (seconds after :data:`START`) is written for the database at ``url``:
    as SQLAlchemy stores it on SQLite, as a UTC ``timestamptz`` on PostgreSQL."""
    suffix = ".000000" if url.startswith("sqlite") else "+00"

    def stamp(seconds: int) -> str:
        return f"{START + dt.timedelta(seconds=seconds)}{suffix}"

    return stamp


@contextmanager
def writer(url: str) -> Iterator[Writer]:
    """A function writing rows into a table of the database at ``url`` through its
    driver, committed at the end (PostgreSQL is then vacuumed and analysed)."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(sa.engine.make_url(url).database or "")
        conn.execute("PRAGMA cache_size = -262144")  # 256 MiB: the indexes stay in memory
        conn.execute("PRAGMA synchronous = OFF")  # a benchmark's data: no fsync per batch

        def write_sqlite(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
            marks = ", ".join("?" * len(columns))
            conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
            conn.commit()

        try:
            yield write_sqlite
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(libpq_url(url)) as pg:

        def write_postgres(
            table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
        ) -> None:
            with pg.cursor() as cursor:
                statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
                with cursor.copy(statement) as copy:
                    for row in rows:
                        copy.write_row(row)

        yield write_postgres
        for table in ("citizen", "conversation"):  # ids were given: move the sequences on
            pg.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
            )
    with psycopg.connect(libpq_url(url), autocommit=True) as pg:
        pg.execute("VACUUM ANALYZE")


FIGURES = ("mean", "contacts", "nps", "first_response", "resolution")


def sql_report(storage: db.Storage, manager: pluggy.PluginManager) -> dict[str, Any]:
    """The figures as ``civic report`` computes them (in the database)."""
    total = build_report(storage, ReportScope(), manager=manager).total
    return dict(
        zip(
            FIGURES,
            (
                total.mean_score,
                total.contacts,
                total.nps,
                total.median_first_response_seconds,
                total.median_resolution_seconds,
            ),
            strict=True,
        )
    )


def command_report(url: str) -> dict[str, Any]:
    """The figures of the whole ``civic report`` command, run in a new process."""
    with tempfile.TemporaryDirectory(prefix="civic-bench-home-") as home:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}
        environ["CIVIC_HOME"] = home  # nothing of the user's instance is read
        command = [sys.executable, "-m", "civic", "report", "--database-url", url]
        done = subprocess.run(
            [*command, "--format", "json"], capture_output=True, text=True, env=environ, check=True
        )
    total = json.loads(done.stdout)["total"]
    names = ("mean_score", "contacts", "nps")
    names += ("median_first_response_seconds", "median_resolution_seconds")
    return dict(zip(FIGURES, (total[name] for name in names), strict=True))


def naive_report(storage: db.Storage) -> dict[str, Any]:
    """The baseline: every row into Python, then count; durations from the times."""
    with storage.reading() as tx:
        conversations = tx.conversations()
        ratings = tx.ratings()
    scores = [r["score"] for r in ratings if r["score"] is not None]
    counts = Counter(scores)
    promoters = sum(n for s, n in counts.items() if s >= 9)
    detractors = sum(n for s, n in counts.items() if s <= 6)

    def median(bot_end: str, team_end: str) -> float | None:
        found = []
        for c in conversations:
            handed = c["handed_over_at"]
            end = c[bot_end] if handed is None else c[team_end]
            if end is not None:
                found.append((end - (handed or c["opened_at"])).total_seconds())
        return round(statistics.median(found), 1) if found else None

    return dict(
        zip(
            FIGURES,
            (
                round(sum(scores) / len(scores), 2),
                len({c["citizen_id"] for c in conversations if c["citizen_id"] is not None}),
                round(100 * (promoters - detractors) / len(scores), 1),
                median("first_response_at", "agent_first_response_at"),
                median("closed_at", "resolved_at"),
            ),
            strict=True,
        )
    )


def seconds(function: Callable[[], dict[str, Any]]) -> tuple[float, dict[str, Any]]:
    """Seconds of one run of ``function``, and its result."""
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def peak_mib(function: Callable[[], object]) -> float:
    """Peak MiB of Python allocations during one run under tracemalloc."""
    tracemalloc.start()
    try:
        function()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def timed(
    ways: dict[str, Callable[[], dict[str, Any]]], repeats: int
) -> dict[str, tuple[float, dict[str, Any]]]:
    """The median seconds of each way over ``repeats`` rounds, the ways alternating (so
    a busy machine slows them alike), and each way's result."""
    found: dict[str, list[float]] = {name: [] for name in ways}
    results: dict[str, dict[str, Any]] = {}
    for _ in range(repeats):
        for name, way in ways.items():
            spent, results[name] = seconds(way)
            found[name].append(spent)
    return {name: (statistics.median(found[name]), results[name]) for name in ways}


def run(
    *, rows: int, budget: float, repeats: int = 3, database_url: str | None = None
) -> tuple[list[Row], list[str]]:
    """Generate the ratings, time the four ways (the median of ``repeats`` alternating
    rounds), measure the peak memory of two; the table's rows and notes."""
    where = "PostgreSQL" if database_url else "SQLite"
    with fresh("report", database_url) as url, fresh("report_empty", database_url) as empty:
        storage = db.Storage(url)
        try:
            started = time.perf_counter()
            made = generate(url, rows, deadline=started + budget / 2)
            generated = time.perf_counter() - started
            manager = build_manager(installed=True)
            found = timed(
                {
                    "command": lambda: command_report(url),
                    "empty": lambda: command_report(empty),
                    "sql": lambda: sql_report(storage, manager),
                    "naive": lambda: naive_report(storage),
                },
                repeats,
            )
            sql_mib = peak_mib(lambda: sql_report(storage, manager))
            naive_mib = peak_mib(lambda: naive_report(storage))
        finally:
            storage.close()
    (command_s, command), (empty_s, _), (sql_s, sql), (naive_s, naive) = found.values()
    bench = f"report, {where}, {made:,} ratings"
    baseline = "naive: every row into Python"
    rows_found = [
        Row(
            bench,
            "`civic report` command, whole (s)",
            command_s,
            baseline,
            naive_s,
            ratio=faster(command_s, naive_s),
            target=f"≤ {TARGET_SECONDS:g} s at {TARGET_ROWS:,}",
            met=command_s <= TARGET_SECONDS if made >= TARGET_ROWS else None,
            unit="s",
        ),
        Row(
            bench,
            "build_report in-process (s)",
            sql_s,
            baseline,
            naive_s,
            ratio=faster(sql_s, naive_s),
            unit="s",
        ),
        Row(
            bench,
            "Python peak memory (MiB)",
            sql_mib,
            baseline,
            naive_mib,
            ratio=f"{times(naive_mib, max(sql_mib, 0.01)):,.0f}× less",
            unit="MiB",
        ),
    ]
    rounds = f"medians of {repeats} alternating rounds" if repeats > 1 else "one run each"
    analysed = "; tables vacuumed and analysed" if database_url else ""
    notes = [
        f"report, {where}: {made:,} conversations and ratings generated in {generated:.1f} s"
        f"{analysed}; times are {rounds}; figures {sql} (mean, contacts, NPS, median"
        f" seconds to first response and to resolution). The command over an empty database"
        f" (start-up, plugins, rendering) took {empty_s:.2f} s of its {command_s:.2f} s."
    ]
    if made < rows:
        notes.append(f"report, {where}: the time budget allowed {made:,} of {rows:,} ratings.")
    if not command == sql == naive:
        notes.append(
            f"WARNING report, {where}: the computations disagree:"
            f" command {command}, build_report {sql}, naive {naive}"
        )
    return rows_found, notes


if __name__ == "__main__":  # the command this file had: run.py --only report
    import run

    sys.exit(run.main(["--only", "report", *sys.argv[1:]]))
