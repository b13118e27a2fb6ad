"""Benchmark the per-message path: whole conversations through ``Engine.handle``.

    python benchmarks/run.py --only engine [--messages N] [--database-url URL]

Plays a realistic mix of whole conversations through :meth:`civic.engine.Engine.handle`
(the city of ``examples/civic.toml``, every built-in department), one transaction per
inbound message as a channel delivers them, several conversations in flight at once:
name and CPF typed three ways, the menu by number and by words (``procon``, ``junta
militar``, ``quero reclamar da loja``), a question answered, "não" to further help, a
score, a comment or "não"; and one conversation in eight a PROCON complaint through the
whole form to its protocol (every other one asked for at the menu in the citizen's own
words). Per message it records wall and CPU time (this process's
CPU: on PostgreSQL the server's work is not in it).

Two baselines run in the same process on the same steps, each on a fresh database with
civic's own schema (civic's migrations, every index present), storing for each inbound
message what civic's ``message`` and ``conversation`` tables must hold at the least:
the inbound message, one outbound message (the text civic answered, every reply joined)
and an update of the conversation row (state, context, times), one commit per message
(SQLite in WAL mode with ``synchronous=NORMAL`` and foreign keys on, as civic opens it);
a conversation's first message also inserts its row.

- **the floor**: raw ``sqlite3`` (raw ``psycopg`` on PostgreSQL), statements written by
  hand: the cheapest way to store the traffic;
- **the ORM**: plain SQLModel, a ``Session`` per message on civic's table classes,
  adding two ``Message`` objects and changing the ``Conversation`` it loaded.

civic does more per message than either (it looks for a duplicate, reads and locks the
open conversation, writes an outbox row per reply, events, the citizen, the rating, the
protocol); the counts of rows it wrote are printed as a note.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import statistics
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from databases import fresh, libpq_url
from sqlmodel import Session
from sqlmodel import create_engine as sqlmodel_engine
from table import Row, times

from civic import cpf as civic_cpf
from civic import tables
from civic.config import Config, parse_config
from civic.crypto import Vault, new_key
from civic.engine import Engine, render
from civic.storage import Storage
from civic.testing import build_manager
from civic.values import Inbound

ROOT = Path(__file__).resolve().parent.parent
#: The clock of the first message: Monday 23 November 2026, 10:00 in Brasília.
START = dt.datetime(2026, 11, 23, 13, 0, tzinfo=dt.UTC)
#: Time between two messages of the benchmark (the clock comes in with each message).
STEP = dt.timedelta(seconds=7)
#: The ORM baseline's name in the table.
ORM = "SQLModel ORM, Session per message"
#: Conversations in flight at once: their messages are interleaved, as a channel's are.
IN_FLIGHT = 8
#: Conversations played before measuring (caches, compiled statements), not counted.
WARM_UP = 8

NAMES = (
    "Maria José dos Santos",
    "João Pereira da Silva",
    "Ana Paula Souza",
    "Carlos Eduardo Lima",
    "Francisca das Chagas Oliveira",
    "Pedro Henrique Alves",
    "Luciana Ferreira",
    "José Antônio da Costa",
)
#: How citizens type their name and CPF.
IDENTIFY = ("{name} {formatted}", "meu nome é {lower}, cpf {digits}", "{name}, CPF {digits}")
#: After the name and CPF: a department by number or by words, a question, "não" to
#: further help, a score, a comment (or "não").
SHORT = (
    ("1", "6", "não", "9", "Muito bom o atendimento, obrigada"),
    ("procon", "o produto quebrou, qual o prazo?", "não", "nota 8", "não"),
    ("3", "perdi meu certificado de reservista, o que faço?", "não", "10", "Rápido e claro"),
    ("junta militar", "como faço o alistamento?", "não", "10", "não"),
    ("2", "2", "não", "7", "Poderia ser mais rápido"),
    ("cac", "qual o horário de atendimento?", "não", "10", "não"),
    ("1", "7", "não", "9", "Obrigado pela ajuda"),
)
#: A PROCON complaint through the whole form, confirmed, then the survey. Every other
#: one skips "procon": "quero reclamar da loja" at the menu goes straight to the form.
COMPLAINT = (
    "procon",
    "quero reclamar da loja",
    "Magazine Exemplo",
    "12.ABC.345/01DE-35",
    "www.magazineexemplo.com.br",
    "Geladeira frost free",
    "produto com defeito ou serviço mal feito",
    "NF 123456",
    "20/09/2026",
    "R$ 2.499,90",
    "sim",
    "ATD-99812",
    "25/09/2026",
    "20/11/2026",
    "Parou de gelar em dois meses e a loja não troca.",
    "troca do produto",
    "Extrema",
    "1",
    "não",
    "10",
    "Fui bem atendida, obrigada",
)
#: The conversations of one cycle of the mix: seven short ones, one complaint.
KINDS = (*SHORT, COMPLAINT)


@dataclass(frozen=True)
class Step:
    """One inbound message of the workload."""

    conversation: int
    position: int
    text: str
    at: dt.datetime

    @property
    def first(self) -> bool:
        return self.position == 0

    @property
    def address(self) -> str:
        return f"55359{self.conversation:08d}"


@dataclass
class Timings:
    """Per-message wall and CPU nanoseconds of one run, and its totals."""

    wall: list[int] = field(default_factory=list)
    cpu: list[int] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def messages(self) -> int:
        return len(self.wall)

    @property
    def per_second(self) -> float:
        return self.messages / self.elapsed if self.elapsed else float("nan")

    def percentiles(self, which: str) -> tuple[float, float]:
        """p50 and p99 of ``wall`` or ``cpu``, in milliseconds."""
        values = getattr(self, which)
        if len(values) < 2:
            return float("nan"), float("nan")
        p99 = statistics.quantiles(values, n=100, method="inclusive")[98]
        return statistics.median(values) / 1e6, p99 / 1e6


def cpf(number: int) -> str:
    """A valid, fictitious CPF made from ``number``."""
    return civic_cpf.complete(f"{100_000_000 + number * 7919:09d}"[-9:])


def conversation(index: int) -> list[str]:
    """The lines of the ``index``-th conversation of the mix."""
    name = NAMES[index % len(NAMES)]
    digits = cpf(index)
    formatted = f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"
    pattern = IDENTIFY[index % len(IDENTIFY)]
    first = pattern.format(name=name, lower=name.lower(), digits=digits, formatted=formatted)
    lines = KINDS[index % len(KINDS)]
    if lines is COMPLAINT and index // len(KINDS) % 2:
        lines = lines[1:]  # every other complaint starts at the menu with its own words
    return [first, *lines]


def workload(messages: int, *, first: int = 0, start: dt.datetime = START) -> list[Step]:
    """At least ``messages`` steps: whole conversations from the ``first``-th on,
    :data:`IN_FLIGHT` at a time, their messages interleaved; the clock moves :data:`STEP`
    per message from ``start``."""
    steps: list[Step] = []
    index = first
    while len(steps) < messages:
        group = {index + offset: conversation(index + offset) for offset in range(IN_FLIGHT)}
        index += IN_FLIGHT
        longest = max(len(lines) for lines in group.values())
        for position in range(longest):
            for number, lines in group.items():
                if position < len(lines):
                    at = start + STEP * len(steps)
                    steps.append(Step(number, position, lines[position], at))
    return steps


def city() -> Config:
    """The city of ``examples/civic.toml``, without its extra survey questions (the
    survey is the score and a comment)."""
    with (ROOT / "examples" / "civic.toml").open("rb") as handle:
        raw = tomllib.load(handle)
    raw.get("survey", {}).pop("questions", None)
    return parse_config(raw, source="examples/civic.toml")


def build_engine(url: str) -> Engine:
    """civic's engine over ``url``: every built-in department, the example city, fresh
    keys; no environment variable is read."""
    storage = Storage(url)
    storage.migrate()
    return Engine(
        storage,
        secret=b"civic-benchmark",
        config=city(),
        manager=build_manager(installed=True),
        clock=lambda: START,
        vault=Vault([new_key()], source="the benchmark's key"),
    )


def inbound(step: Step) -> Inbound:
    return Inbound(
        channel="whatsapp",
        address=step.address,
        text=step.text,
        channel_message_id=f"bench-{step.conversation}-{step.position}",
        received_at=step.at,
    )


@dataclass
class CivicRun:
    """civic's timings, and for every step played (warm-up included) the text civic
    answered (every reply joined: the baselines store the same) and the state the
    message left its conversation in."""

    timings: Timings
    answers: dict[Step, tuple[str, str]]
    rows: dict[str, int]
    problems: list[str]


def warm_up() -> list[Step]:
    """Conversations played before measuring (caches, compiled statements, the ORM's
    mappers), a day before the measured ones, on addresses of their own."""
    return workload(1, first=10**7, start=START - dt.timedelta(days=1))


def run_civic(url: str, warm: list[Step], steps: list[Step], budget: float) -> CivicRun:
    """``warm``, then every step through ``Engine.handle``, measured, until the budget
    is spent."""
    engine = build_engine(url)
    answers: dict[Step, tuple[str, str]] = {}

    def play(step: Step) -> None:
        outcome = engine.handle(inbound(step))
        answers[step] = ("\n\n".join(render(r) for r in outcome.replies), outcome.state)

    for step in warm:
        play(step)
    timings = Timings()
    wall, cpu = time.perf_counter_ns, time.process_time_ns
    started = time.perf_counter()
    for step in steps:
        wall_0, cpu_0 = wall(), cpu()
        outcome = engine.handle(inbound(step))
        cpu_1, wall_1 = cpu(), wall()
        timings.wall.append(wall_1 - wall_0)
        timings.cpu.append(cpu_1 - cpu_0)
        answers[step] = ("\n\n".join(render(r) for r in outcome.replies), outcome.state)
        if time.perf_counter() - started > budget:
            break
    timings.elapsed = sum(timings.wall) / 1e9
    rows = count_rows(engine.storage)
    problems = check_mix(engine.storage, answers)
    engine.storage.close()
    return CivicRun(timings, answers, rows, problems)


def count_rows(storage: Storage) -> dict[str, int]:
    """Rows per table after the run (warm-up included)."""
    names = ("conversation", "message", "outbox", "event", "citizen", "rating", "submission")
    with storage.reading() as tx:
        return {
            name: int(tx.conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one())
            for name in names
        }


def check_mix(storage: Storage, answers: dict[Step, tuple[str, str]]) -> list[str]:
    """What went otherwise than the mix intends (empty when every conversation played
    to its end closed, and every complaint played to its end filed a protocol)."""
    whole: dict[int, str] = {}
    for step, (_, state) in answers.items():
        if step.position == len(conversation(step.conversation)) - 1:
            whole[step.conversation] = state
    problems = [
        f"conversation {number} ended {state!r}, not closed"
        for number, state in whole.items()
        if state != "closed"
    ]
    complaints = sum(1 for number in whole if KINDS[number % len(KINDS)] is COMPLAINT)
    with storage.reading() as tx:
        filed = int(tx.conn.execute(sa.text("SELECT count(*) FROM submission")).scalar_one())
    if filed < complaints:
        problems.append(f"{complaints} complaints played to the end, {filed} protocols filed")
    return problems


# -- the baselines ------------------------------------------------------------------------

#: The conversation's context as a baseline stores it (the size of civic's in a form).
CONTEXT = json.dumps(
    {
        "form": {
            "name": "reclamacao",
            "progress": {"stage": "field", "field": "produto", "answers": {"fornecedor": "X"}},
        },
        "identified": True,
    }
)


def measured(warm: list[Step], steps: list[Step], store: Callable[[Step], None]) -> Timings:
    """``store`` each of ``warm``, then per-step wall and CPU time of ``store``."""
    for step in warm:
        store(step)
    timings = Timings()
    wall, cpu = time.perf_counter_ns, time.process_time_ns
    for step in steps:
        wall_0, cpu_0 = wall(), cpu()
        store(step)
        cpu_1, wall_1 = cpu(), wall()
        timings.wall.append(wall_1 - wall_0)
        timings.cpu.append(cpu_1 - cpu_0)
    timings.elapsed = sum(timings.wall) / 1e9
    return timings


def sqlite_time(moment: dt.datetime) -> str:
    """A time as civic's columns hold it on SQLite (SQLAlchemy's format, UTC)."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def floor_sqlite(url: str, warm: list[Step], steps: list[Step], civic: CivicRun) -> Timings:
    """The floor on SQLite: raw ``sqlite3``, two inserts and an update, one commit."""
    path = sa.engine.make_url(url).database
    conn = sqlite3.connect(str(path), isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    ids: dict[int, int] = {}
    answers = civic.answers

    def store(step: Step) -> None:
        now = sqlite_time(step.at)
        conn.execute("BEGIN IMMEDIATE")
        if step.first:
            ids[step.conversation] = conn.execute(
                "INSERT INTO conversation (channel, address, state, context, opened_at,"
                " updated_at) VALUES ('whatsapp', ?, 'identifying', '{}', ?, ?)",
                (step.address, now, now),
            ).lastrowid  # type: ignore[assignment]
        conversation_id = ids[step.conversation]
        conn.execute(
            "INSERT INTO message (conversation_id, direction, author, text, channel,"
            " channel_message_id, created_at) VALUES (?, 'in', 'citizen', ?, 'whatsapp', ?, ?)",
            (conversation_id, step.text, f"{step.conversation}-{step.position}", now),
        )
        conn.execute(
            "INSERT INTO message (conversation_id, direction, author, text, channel,"
            " created_at) VALUES (?, 'out', 'bot', ?, 'whatsapp', ?)",
            (conversation_id, answers[step][0], now),
        )
        conn.execute(
            "UPDATE conversation SET state = ?, context = ?, updated_at = ?,"
            " last_citizen_at = ? WHERE id = ?",
            (answers[step][1], CONTEXT, now, now, conversation_id),
        )
        conn.execute("COMMIT")

    try:
        return measured(warm, steps, store)
    finally:
        conn.close()


def floor_postgres(url: str, warm: list[Step], steps: list[Step], civic: CivicRun) -> Timings:
    """The floor on PostgreSQL: raw ``psycopg``, two inserts and an update, one commit."""
    import psycopg

    conn = psycopg.connect(libpq_url(url))
    ids: dict[int, int] = {}
    answers = civic.answers

    def store(step: Step) -> None:
        with conn.cursor() as cur:
            if step.first:
                cur.execute(
                    "INSERT INTO conversation (channel, address, state, context, opened_at,"
                    " updated_at) VALUES ('whatsapp', %s, 'identifying', '{}', %s, %s)"
                    " RETURNING id",
                    (step.address, step.at, step.at),
                )
                ids[step.conversation] = cur.fetchone()[0]  # type: ignore[index]
            conversation_id = ids[step.conversation]
            cur.execute(
                "INSERT INTO message (conversation_id, direction, author, text, channel,"
                " channel_message_id, created_at)"
                " VALUES (%s, 'in', 'citizen', %s, 'whatsapp', %s, %s)",
                (conversation_id, step.text, f"{step.conversation}-{step.position}", step.at),
            )
            cur.execute(
                "INSERT INTO message (conversation_id, direction, author, text, channel,"
                " created_at) VALUES (%s, 'out', 'bot', %s, 'whatsapp', %s)",
                (conversation_id, answers[step][0], step.at),
            )
            cur.execute(
                "UPDATE conversation SET state = %s, context = %s, updated_at = %s,"
                " last_citizen_at = %s WHERE id = %s",
                (answers[step][1], CONTEXT, step.at, step.at, conversation_id),
            )
        conn.commit()

    try:
        return measured(warm, steps, store)
    finally:
        conn.close()


@contextmanager
def orm_engine(url: str) -> Iterator[sa.Engine]:
    """A plain SQLModel engine; on SQLite with civic's pragmas (WAL, synchronous=NORMAL,
    foreign keys), so both write with the same durability."""
    engine = sqlmodel_engine(url)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

    try:
        yield engine
    finally:
        engine.dispose()


def orm_baseline(url: str, warm: list[Step], steps: list[Step], civic: CivicRun) -> Timings:
    """The plain ORM way: a SQLModel ``Session`` per message, civic's table classes."""
    ids: dict[int, int] = {}
    answers = civic.answers
    with orm_engine(url) as engine:

        def store(step: Step) -> None:
            with Session(engine) as session:
                if step.first:
                    row = tables.Conversation(
                        channel="whatsapp",
                        address=step.address,
                        state="identifying",
                        opened_at=step.at,
                        updated_at=step.at,
                    )
                    session.add(row)
                    session.flush()
                else:
                    found = session.get(tables.Conversation, ids[step.conversation])
                    assert found is not None
                    row = found
                assert row.id is not None
                ids[step.conversation] = row.id
                session.add(
                    tables.Message(
                        conversation_id=row.id,
                        direction="in",
                        author="citizen",
                        text=step.text,
                        channel="whatsapp",
                        channel_message_id=f"{step.conversation}-{step.position}",
                        created_at=step.at,
                    )
                )
                session.add(
                    tables.Message(
                        conversation_id=row.id,
                        direction="out",
                        author="bot",
                        text=answers[step][0],
                        channel="whatsapp",
                        created_at=step.at,
                    )
                )
                row.state = answers[step][1]
                row.context = CONTEXT
                row.updated_at = step.at
                row.last_citizen_at = step.at
                session.commit()

        return measured(warm, steps, store)


# -- the rows of the table ----------------------------------------------------------------


def run(
    *, messages: int, budget: float, database_url: str | None = None
) -> tuple[list[Row], list[str]]:
    """civic and both baselines on one database kind; the table's rows and notes.

    civic plays for at most a third of ``budget`` seconds (the baselines then replay the
    messages it played: the floor takes far less, the ORM about as long)."""
    where = "PostgreSQL" if database_url else "SQLite"
    floor_name = "raw psycopg (floor)" if database_url else "raw sqlite3 (floor)"
    warm, steps = warm_up(), workload(messages)[:messages]
    with fresh("engine", database_url) as url:
        civic = run_civic(url, warm, steps, budget / 3)
    steps = steps[: civic.timings.messages]
    with fresh("floor", database_url) as url:
        floor = (floor_postgres if database_url else floor_sqlite)(url, warm, steps, civic)
    with fresh("orm", database_url) as url:
        orm = orm_baseline(url, warm, steps, civic)
    bench = f"engine, {where}, {len(steps):,} messages"
    said = notes(where, steps, civic)
    if len(steps) < messages:
        said.append(f"engine, {where}: the time budget allowed {len(steps):,} of {messages:,}.")
    return rows(bench, floor_name, civic.timings, floor, orm), said


def rows(bench: str, floor_name: str, civic: Timings, floor: Timings, orm: Timings) -> list[Row]:
    """Throughput beside each baseline, then p50 / p99 wall and CPU beside each."""
    share = 100 * times(civic.per_second, floor.per_second)
    orm_times = times(civic.per_second, orm.per_second)
    found = [
        Row(
            bench,
            "messages/s",
            civic.per_second,
            floor_name,
            floor.per_second,
            ratio=f"{share:.1f} % of floor",
            target="≥ 45 % of floor",
            met=share >= 45,
        ),
        Row(
            bench,
            "messages/s",
            civic.per_second,
            ORM,
            orm.per_second,
            ratio=f"{orm_times:.2f}× ORM",
            target="≥ 6× ORM",
            met=orm_times >= 6,
        ),
    ]
    for which, label in (("wall", "wall"), ("cpu", "CPU")):
        mine = civic.percentiles(which)
        for name, baseline in ((floor_name, floor), (ORM, orm)):
            theirs = baseline.percentiles(which)
            ratio = " / ".join(f"{times(a, b):.1f}×" for a, b in zip(mine, theirs, strict=True))
            target, met = "", None
            if which == "cpu" and name == floor_name:
                target, met = "p99 ≤ 2 ms CPU", mine[1] <= 2
            found.append(
                Row(
                    bench,
                    f"p50 / p99 {label} ms per message",
                    mine,
                    name,
                    theirs,
                    ratio=f"{ratio} the time",
                    target=target,
                    met=met,
                    unit="ms",
                )
            )
    return found


def notes(where: str, steps: list[Step], civic: CivicRun) -> list[str]:
    """What the engine rows measured, and any drift of the mix."""
    conversations = len({step.conversation for step in steps})
    written = ", ".join(f"{count:,} {table}" for table, count in civic.rows.items())
    found = [
        f"engine, {where}: {len(steps):,} inbound messages in {conversations:,} conversations"
        f" ({civic.timings.elapsed:.1f} s of civic); civic's database afterwards"
        f" (warm-up included): {written}."
    ]
    found += [f"WARNING engine, {where}: the mix drifted: {p}" for p in civic.problems[:5]]
    return found


if __name__ == "__main__":  # the command this file had: run.py --only engine
    import run

    sys.exit(run.main(["--only", "engine", *sys.argv[1:]]))
