"""Benchmark the engine with 1, 2 and 4 worker processes on one PostgreSQL database.

    python benchmarks/run.py --only workers --database-url URL [--messages N]

Each worker is a process of its own (``multiprocessing``, forked) with its own
:class:`civic.engine.Engine` and connection, as each ``civic serve`` worker has; all of
them write to one database at once. Each plays the engine benchmark's mix
(``bench_engine.workload``: whole conversations, name and CPF, menu, a question, "não",
a score, a comment, one in eight a PROCON complaint to its protocol) on citizens of its
own (conversation numbers :data:`STRIDE` apart, so addresses and CPFs never meet), the
messages split evenly between the workers. Every worker plays a warm-up, then waits at
a barrier, so all start measuring together; each stops starting messages when its time
budget is spent.

The baseline is the engine benchmark's floor run by as many processes at once
(``bench_engine.floor_postgres``: raw ``psycopg``, the inbound message, one outbound
message with civic's own answer and an update of the conversation, one commit per
message, on civic's schema), each replaying exactly the steps its civic worker played,
on a fresh database of its own kind.

Throughput is the messages of all workers over the span from the first worker's first
measured message to the last one's end (each worker's measured span is its end minus the
sum of its per-message times, for civic and the floor alike). Latency is per message,
over every worker's messages. Without ``--database-url`` the benchmark is skipped (a
row says so): SQLite takes one writer at a time, so its figure would be the lock's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import multiprocessing
import sys
import time
from collections.abc import Sequence
from multiprocessing.context import ForkContext, SpawnContext
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

import bench_engine
from bench_engine import CivicRun, Step, Timings
from databases import fresh
from table import Row, times

from civic.engine import render
from civic.storage import Storage

WORKERS = (1, 2, 4)
#: Conversation numbers between two workers' first citizens.
STRIDE = 100_000
#: The first conversation number of the warm-ups (a day before the measured ones).
WARM_FIRST = 10**7
FLOOR = "raw psycopg (floor), as many processes"
#: The most seconds a worker may take to start (its engine, connection and warm-up).
START_TIMEOUT = 180.0

Result = tuple[list[Row], list[str]]


@dataclasses.dataclass
class Played:
    """What one worker process sends back: per-message wall nanoseconds, when its
    measured span ended (``time.monotonic()``, one clock for every process), and for
    civic the answers of every step it played (warm-up included)."""

    worker: int
    wall: list[int]
    end: float
    answers: dict[Step, tuple[str, str]] = dataclasses.field(default_factory=dict)
    steps: list[Step] = dataclasses.field(default_factory=list)

    @property
    def start(self) -> float:
        return self.end - sum(self.wall) / 1e9


def warm_steps(worker: int) -> list[Step]:
    """One group of conversations played before measuring, on the worker's own citizens."""
    start = bench_engine.START - dt.timedelta(days=1)
    return bench_engine.workload(1, first=WARM_FIRST + worker * STRIDE, start=start)


def measured_steps(worker: int, messages: int) -> list[Step]:
    return bench_engine.workload(messages, first=worker * STRIDE)[:messages]


def civic_worker(
    url: str, worker: int, messages: int, budget: float, barrier: Barrier, out: Queue[Any]
) -> None:
    """One civic worker: its own engine, the warm-up, the barrier, then its steps."""
    try:
        engine = bench_engine.build_engine(url)
        answers: dict[Step, tuple[str, str]] = {}
        for step in warm_steps(worker):
            outcome = engine.handle(bench_engine.inbound(step))
            answers[step] = ("\n\n".join(render(r) for r in outcome.replies), outcome.state)
        steps = measured_steps(worker, messages)
        barrier.wait(timeout=START_TIMEOUT)
        wall: list[int] = []
        clock = time.perf_counter_ns
        deadline = time.monotonic() + budget
        played: list[Step] = []
        for step in steps:
            begun = clock()
            outcome = engine.handle(bench_engine.inbound(step))
            wall.append(clock() - begun)
            answers[step] = ("\n\n".join(render(r) for r in outcome.replies), outcome.state)
            played.append(step)
            if time.monotonic() > deadline:
                break
        end = time.monotonic()
        engine.storage.close()
        out.put(Played(worker, wall, end, answers, played))
    except BaseException as exc:
        out.put(f"civic worker {worker}: {type(exc).__name__}: {exc}")
        raise


def floor_worker(
    url: str,
    worker: int,
    steps: list[Step],
    answers: dict[Step, tuple[str, str]],
    barrier: Barrier,
    out: Queue[Any],
) -> None:
    """One floor worker: bench_engine's raw psycopg floor over the steps civic played."""
    try:
        civic = CivicRun(Timings(), answers, {}, [])
        barrier.wait(timeout=START_TIMEOUT)
        timings = bench_engine.floor_postgres(url, warm_steps(worker), steps, civic)
        out.put(Played(worker, timings.wall, time.monotonic()))
    except BaseException as exc:
        out.put(f"floor worker {worker}: {type(exc).__name__}: {exc}")
        raise


def together(target: Any, arguments: Sequence[tuple[Any, ...]], budget: float) -> list[Played]:
    """Run ``target(*args, barrier, queue)`` in one process per ``arguments``, all
    released together by a barrier; their results by worker number. Processes are
    forked where the system can (this process holds no connection then: each worker
    opens its own), else spawned."""
    context: ForkContext | SpawnContext = (
        multiprocessing.get_context("fork")
        if "fork" in multiprocessing.get_all_start_methods()
        else multiprocessing.get_context("spawn")
    )
    barrier = context.Barrier(len(arguments))
    out: Queue[Any] = context.Queue()
    processes = [
        context.Process(target=target, args=(*args, barrier, out), daemon=True)
        for args in arguments
    ]
    for process in processes:
        process.start()
    found: list[Played] = []
    try:
        for _ in processes:
            got = out.get(timeout=START_TIMEOUT + budget + 60)
            if isinstance(got, str):
                raise RuntimeError(got)
            found.append(got)
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
                process.join()
    return sorted(found, key=lambda played: played.worker)


@dataclasses.dataclass(frozen=True)
class Aggregate:
    """Every worker's messages together."""

    messages: int
    span: float
    wall: list[int]

    @classmethod
    def of(cls, played: Sequence[Played]) -> Aggregate:
        span = max(p.end for p in played) - min(p.start for p in played)
        return cls(sum(len(p.wall) for p in played), span, [w for p in played for w in p.wall])

    @property
    def per_second(self) -> float:
        return self.messages / self.span if self.span > 0 else math.nan

    def percentiles(self) -> tuple[float, float]:
        timings = Timings(wall=self.wall)
        return timings.percentiles("wall")


def run(
    *,
    messages: int,
    budget: float,
    database_url: str | None,
    workers: Sequence[int] = WORKERS,
) -> Result:
    """civic and the floor with each number of ``workers`` processes; civic plays for
    at most ``budget / len(workers)`` seconds per number (the floor replays its steps)."""
    if not database_url:
        row = Row(
            "workers, PostgreSQL",
            "skipped: needs --database-url (PostgreSQL)",
            math.nan,
            FLOOR,
            math.nan,
            ratio="not run",
        )
        return [row], []
    share = budget / len(workers)
    rows: list[Row] = []
    notes: list[str] = []
    rates: dict[int, tuple[float, float]] = {}
    for count in workers:
        each = max(messages // count, 1)
        with fresh(f"workers{count}", database_url) as url:
            civic_played = together(
                civic_worker, [(url, n, each, share) for n in range(count)], share
            )
            storage = Storage(url)
            try:
                answers = {k: v for p in civic_played for k, v in p.answers.items()}
                problems = bench_engine.check_mix(storage, answers)
                written = bench_engine.count_rows(storage)
            finally:
                storage.close()
        with fresh(f"workersfloor{count}", database_url) as url:
            floor_played = together(
                floor_worker,
                [(url, p.worker, p.steps, p.answers) for p in civic_played],
                share,
            )
        civic, floor = Aggregate.of(civic_played), Aggregate.of(floor_played)
        rates[count] = (civic.per_second, floor.per_second)
        bench = f"workers, PostgreSQL, {count} process{'es' if count > 1 else ''}"
        rows += worker_rows(bench, count, civic, floor)
        notes += [f"WARNING {bench}: the mix drifted: {p}" for p in problems[:5]]
        if civic.messages < messages:
            notes.append(
                f"{bench}: the time budget allowed {civic.messages:,} of {messages:,} messages."
            )
        if count == max(workers):
            rows_written = ", ".join(f"{n:,} {table}" for table, n in written.items())
            notes.append(f"{bench}: civic's database afterwards: {rows_written}.")
    base = rates.get(1)
    if base:
        scaling = ", ".join(
            f"{count}: {times(civic, base[0]):.2f}× (floor {times(floor, base[1]):.2f}×)"
            for count, (civic, floor) in rates.items()
        )
        notes.append(f"workers, PostgreSQL: throughput against one process: {scaling}.")
    return rows, notes


def worker_rows(bench: str, count: int, civic: Aggregate, floor: Aggregate) -> list[Row]:
    """Throughput and latency of ``count`` civic workers beside as many floor ones."""
    share = 100 * times(civic.per_second, floor.per_second)
    target, met = ("≥ 80 % of floor", share >= 80) if count >= 4 else ("", None)
    mine, theirs = civic.percentiles(), floor.percentiles()
    return [
        Row(
            f"{bench}, {civic.messages:,} messages",
            "messages/s, all processes",
            civic.per_second,
            FLOOR,
            floor.per_second,
            ratio=f"{share:.1f} % of floor",
            target=target,
            met=met,
        ),
        Row(
            f"{bench}, {civic.messages:,} messages",
            "p50 / p99 wall ms per message",
            mine,
            FLOOR,
            theirs,
            ratio=" / ".join(f"{times(a, b):.1f}×" for a, b in zip(mine, theirs, strict=True))
            + " the time",
            unit="ms",
        ),
    ]


if __name__ == "__main__":  # run.py --only workers
    import run as runner

    sys.exit(runner.main(["--only", "workers", *sys.argv[1:]]))
