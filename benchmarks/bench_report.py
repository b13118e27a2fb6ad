"""Benchmark ``civic report``: SQL aggregates against loading every rating into Python.

    python benchmarks/bench_report.py [--rows N] [--database-url URL]

Generates N conversations with N ratings (default 1,000,000; a tenth of them declined,
a tenth of the citizens anonymous), then times the report exactly as ``civic report``
computes it (:func:`civic.report.build_report`) and a naive baseline that loads every
conversation and rating row and computes the same figures in Python. Peak memory of
each is measured in a second run under ``tracemalloc`` (which slows Python down, so it
is not timed); tracemalloc sees Python's allocations only, not the database's own memory
(SQLite's sorter, PostgreSQL's server). Runs on SQLite, and on PostgreSQL when ``--database-url`` or
``CIVIC_BENCH_POSTGRES_URL`` is given; there it works in a schema of its own
(``civic_bench``), dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pluggy
import sqlalchemy as sa

from civic import hookspecs
from civic import storage as db
from civic.default_plugins import scoring
from civic.report import ReportScope, build_report

BATCH = 20_000
SCHEMA = "civic_bench"
START = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)


def generate(storage: db.Storage, rows: int, *, seed: int = 2021) -> None:
    """Insert ``rows`` conversations and ratings (and citizens) in batches."""
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
    for first in range(1, rows + 1, BATCH):
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
        print(f"\r  inserted {done:,}/{rows:,} ({rate:,.0f} rows/s)", end="", flush=True)
    print()


def sql_report(storage: db.Storage, manager: pluggy.PluginManager) -> dict[str, Any]:
    """The figures as ``civic report`` computes them (in the database)."""
    total = build_report(storage, ReportScope(), manager=manager).total
    return {"mean": total.mean_score, "contacts": total.contacts, "nps": total.nps}


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


def measure(function: Callable[[], dict[str, Any]]) -> tuple[float, float, dict[str, Any]]:
    """Seconds of one run, peak MiB of a second run under tracemalloc, and the result."""
    started = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 2**20, result


def bench(name: str, url: str, rows: int) -> None:
    print(f"== {name}: {db._safe_url(url)}")
    storage = db.Storage(url)
    storage.migrate()
    started = time.perf_counter()
    generate(storage, rows)
    print(f"  generated in {time.perf_counter() - started:.1f}s")
    manager = pluggy.PluginManager("civic")
    manager.add_hookspecs(hookspecs)
    manager.register(scoring, name="scoring")
    sql_s, sql_mib, sql = measure(lambda: sql_report(storage, manager))
    naive_s, naive_mib, naive = measure(lambda: naive_report(storage))
    storage.close()
    print(f"  civic report (SQL): {sql_s:8.2f}s  peak {sql_mib:9.2f} MiB  {sql}")
    print(f"  naive (Python):     {naive_s:8.2f}s  peak {naive_mib:9.2f} MiB  {naive}")
    print(
        f"  SQL is {naive_s / sql_s:.1f}x faster; Python peak memory "
        f"{naive_mib / max(sql_mib, 0.01):.0f}x lower (tracemalloc: Python allocations only)"
    )
    if sql != naive:
        print("  WARNING: the two computations disagree")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="ratings to generate")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("CIVIC_BENCH_POSTGRES_URL"),
        help="a PostgreSQL URL to benchmark too (default: $CIVIC_BENCH_POSTGRES_URL)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        bench("SQLite", f"sqlite:///{Path(folder) / 'bench.db'}", args.rows)
    if not args.database_url:
        print("== PostgreSQL: skipped (give --database-url or set CIVIC_BENCH_POSTGRES_URL)")
        return
    admin = sa.create_engine(args.database_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
    separator = "&" if "?" in args.database_url else "?"
    try:
        bench(
            "PostgreSQL",
            f"{args.database_url}{separator}options=-csearch_path%3D{SCHEMA}",
            args.rows,
        )
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
