"""Benchmark ``civic report``: SQL aggregates against loading every rating into Python.

    python benchmarks/run.py --only report [--rows N] [--database-url URL]

Generates N conversations with N ratings (1,000,000 by default, 20,000 with
``--quick``; a tenth of them declined, a tenth of the citizens anonymous) in a fresh
database, then times, in the same run:

- the whole ``civic report`` command, as a user runs it: a new process
  (``python -m civic report --database-url URL --format json``, so its figures can be
  checked), which starts Python, loads the plugins, opens the database, computes every
  indicator and renders the report; the start-up alone is the ``startup`` benchmark's;
- :func:`civic.report.build_report` in this process, with every installed plugin's
  indicators, as the command calls it: the database's share of the command;
- the baseline: every conversation and rating row loaded into Python, and the same
  figures (mean, contacts, NPS, median durations) computed there.

Each time is the median of three rounds (one with ``--quick``), the three ways taking
turns so that a busy machine slows them alike. Peak memory of ``build_report`` and of
the baseline is measured in one more run each, under ``tracemalloc`` (which slows Python
down, so it is not timed); it sees Python's
allocations only, not the database's own memory (SQLite's sorter, PostgreSQL's server).
The mean, the contacts and the NPS of all three must agree, or a warning is printed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from typing import Any

import pluggy
from databases import fresh
from table import Row, faster, times

from civic import storage as db
from civic.report import ReportScope, build_report
from civic.testing import build_manager

BATCH = 20_000
START = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)


def generate(storage: db.Storage, rows: int, *, deadline: float, seed: int = 2021) -> int:
    """Insert ``rows`` conversations and ratings (and citizens) in batches, or as many
    as fit before ``deadline`` (a ``time.perf_counter`` value); return how many."""
    rng = random.Random(seed)
    departments = ["cac", "procon", "jsm", "saude", "obras"]
    agents = [None, None, "ana", "bruno", "carla"]
    weights = [1, 0, 0, 0, 1, 2, 2, 3, 8, 20, 63]  # a realistic, very happy 0-10 spread
    citizens = max(rows // 10, 1)
    started = time.perf_counter()
    with storage.transaction() as tx:
        for first in range(1, citizens + 1, BATCH):
            db.insert_rows(
                tx,
                "citizen",
                [
                    dict(
                        id=n,
                        name=f"Cidadão {n}",
                        cpf_hash=f"{n:064d}",
                        cpf_masked="***.***.***-**",
                        created_at=START,
                        last_seen_at=START,
                    )
                    for n in range(first, min(first + BATCH, citizens + 1))
                ],
            )
    done = 0
    for first in range(1, rows + 1, BATCH):
        if time.perf_counter() > deadline:
            break
        ids = range(first, min(first + BATCH, rows + 1))
        conversations, ratings = [], []
        for n in ids:
            opened = START + dt.timedelta(seconds=rng.randrange(365 * 86400))
            department = departments[n % len(departments)]
            conversations.append(
                dict(
                    id=n,
                    channel="whatsapp",
                    address=f"+55{n}",
                    citizen_id=None if n % 10 == 0 else rng.randint(1, citizens),
                    state="closed",
                    department=department,
                    pinned_department=None,
                    context="{}",
                    opened_at=opened,
                    updated_at=opened,
                    first_response_at=opened + dt.timedelta(seconds=rng.randint(1, 30)),
                    closed_at=opened + dt.timedelta(seconds=rng.randint(60, 3600)),
                )
            )
            score = None if n % 10 == 3 else rng.choices(range(11), weights)[0]
            ratings.append(
                dict(
                    conversation_id=n,
                    department=department,
                    agent=agents[n % len(agents)],
                    score=score,
                    scale_min=0,
                    scale_max=10,
                    comment=None,
                    answers="{}",
                    created_at=opened,
                )
            )
        with storage.transaction() as tx:
            db.insert_rows(tx, "conversation", conversations)
            db.insert_rows(tx, "rating", ratings)
        done = ids[-1]
        rate = done / (time.perf_counter() - started)
        print(
            f"\r  report: inserted {done:,}/{rows:,} ({rate:,.0f} rows/s)", end="", file=sys.stderr
        )
    print(file=sys.stderr)
    return done


def sql_report(storage: db.Storage, manager: pluggy.PluginManager) -> dict[str, Any]:
    """The figures as ``civic report`` computes them (in the database)."""
    total = build_report(storage, ReportScope(), manager=manager).total
    return {"mean": total.mean_score, "contacts": total.contacts, "nps": total.nps}


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
    return {"mean": total["mean_score"], "contacts": total["contacts"], "nps": total["nps"]}


def naive_report(storage: db.Storage) -> dict[str, Any]:
    """The baseline: every row into Python, then count."""
    with storage.reading() as tx:
        conversations = tx.conversations()
        ratings = tx.ratings()
    scores = [r["score"] for r in ratings if r["score"] is not None]
    counts = Counter(scores)
    promoters = sum(n for s, n in counts.items() if s >= 9)
    detractors = sum(n for s, n in counts.items() if s <= 6)
    statistics.median(
        (c["closed_at"] - c["opened_at"]).total_seconds() for c in conversations if c["closed_at"]
    )
    statistics.median(
        (c["first_response_at"] - c["opened_at"]).total_seconds()
        for c in conversations
        if c["first_response_at"]
    )
    return {
        "mean": round(sum(scores) / len(scores), 2),
        "contacts": len({c["citizen_id"] for c in conversations if c["citizen_id"] is not None}),
        "nps": round(100 * (promoters - detractors) / len(scores), 1),
    }


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
    """Generate the ratings, time the three ways (the median of ``repeats`` alternating
    rounds), measure the peak memory of two; the table's rows and notes."""
    where = "PostgreSQL" if database_url else "SQLite"
    with fresh("report", database_url) as url:
        storage = db.Storage(url)
        try:
            started = time.perf_counter()
            made = generate(storage, rows, deadline=started + budget / 2)
            generated = time.perf_counter() - started
            manager = build_manager(installed=True)
            found = timed(
                {
                    "command": lambda: command_report(url),
                    "sql": lambda: sql_report(storage, manager),
                    "naive": lambda: naive_report(storage),
                },
                repeats,
            )
            sql_mib = peak_mib(lambda: sql_report(storage, manager))
            naive_mib = peak_mib(lambda: naive_report(storage))
        finally:
            storage.close()
    (command_s, command), (sql_s, sql), (naive_s, naive) = found.values()
    bench = f"report, {where}, {made:,} ratings"
    baseline = "naive: every row into Python"
    found = [
        Row(
            bench,
            "`civic report` command, whole (s)",
            command_s,
            baseline,
            naive_s,
            ratio=faster(command_s, naive_s),
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
    notes = [
        f"report, {where}: {made:,} conversations and ratings generated in {generated:.1f} s;"
        f" times are {rounds}; figures {sql} (mean, contacts, NPS)."
    ]
    if made < rows:
        notes.append(f"report, {where}: the time budget allowed {made:,} of {rows:,} ratings.")
    if not command == sql == naive:
        notes.append(
            f"WARNING report, {where}: the computations disagree:"
            f" command {command}, build_report {sql}, naive {naive}"
        )
    return found, notes


if __name__ == "__main__":  # the command this file had: run.py --only report
    import run

    sys.exit(run.main(["--only", "report", *sys.argv[1:]]))
