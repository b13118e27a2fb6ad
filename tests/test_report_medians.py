"""Median durations: stored when they end, read along an index, equal to
:func:`statistics.median`; and the report's and the message path's statements read
indexes, not whole tables (checked on SQLite's query plans, not timed).

Storage tests run on SQLite, and on PostgreSQL too when ``CIVIC_TEST_DATABASE_URL`` is
set.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import SQLModel

from civic import durations, staff
from civic import storage as db
from civic.engine import Engine
from civic.plugins import load_plugins
from civic.states import State
from tests.chat import MARIA, Chat
from tests.conftest import SECRET

START = dt.datetime(2021, 3, 1, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)


# -- what a conversation stores --------------------------------------------------------


def test_a_conversation_the_bot_served_is_measured_from_its_opening() -> None:
    new = {"opened_at": START, "first_response_at": START + 2.5 * SECOND}
    assert durations.durations({}, new) == {
        "first_response_seconds": 2.5,
        "resolution_seconds": None,
    }
    row = new | {"first_response_seconds": 2.5, "resolution_seconds": None}
    closed = durations.durations(row, {"closed_at": START + 90 * SECOND, "state": "closed"})
    assert closed == {"resolution_seconds": 90.0}  # only what changes is written


def test_a_hand_over_starts_the_teams_clock_again() -> None:
    row: dict[str, Any] = {
        "opened_at": START,
        "first_response_at": START + SECOND,
        "handed_over_at": None,
        "agent_first_response_at": None,
        "resolved_at": None,
        "closed_at": None,
        "first_response_seconds": 1.0,
        "resolution_seconds": None,
    }

    def apply(changes: dict[str, Any]) -> dict[str, float | None]:
        found = durations.durations(row, changes)
        row.update(changes, **found)
        return found

    handed = START + 60 * SECOND
    hand_over = {"handed_over_at": handed, "agent_first_response_at": None, "resolved_at": None}
    assert apply(hand_over) == {"first_response_seconds": None}  # the bot's reply is not the team's
    answer = handed + 30 * SECOND
    assert apply({"agent_first_response_at": answer}) == {"first_response_seconds": 30.0}
    transferred = START + 3600 * SECOND  # the next department's clock starts
    transfer = {"handed_over_at": transferred, "agent_first_response_at": None}
    assert apply(transfer) == {"first_response_seconds": None}
    answer = transferred + dt.timedelta(seconds=95, microseconds=7)
    assert apply({"agent_first_response_at": answer}) == {"first_response_seconds": 95.000007}
    assert apply({"resolved_at": transferred + 600 * SECOND}) == {"resolution_seconds": 600.0}
    assert apply({"closed_at": transferred + 700 * SECOND}) == {}  # the team's close counts


def test_changes_to_other_columns_leave_the_durations_alone() -> None:
    row = {"opened_at": START, "first_response_at": START + SECOND}
    assert durations.durations(row, {"state": "menu", "updated_at": START}) == {}


def test_the_engine_and_the_team_store_the_durations(storage: db.Storage) -> None:
    """Durations are written in the UPDATE that records their end, for the bot's path
    and the team's (the staff actions), and equal the times' differences."""
    now = [START]
    engine = Engine(storage, secret=SECRET, manager=load_plugins(), clock=lambda: now[0])

    def later(seconds: float) -> None:
        now[0] += dt.timedelta(seconds=seconds)

    chat = Chat(engine)
    for line in (MARIA, "2", "2", "não", "nota 9", "Muito bom"):
        chat.send(line)
        later(7.25)
    assert chat.state == State.CLOSED
    with storage.reading() as tx:
        (bot,) = tx.conversations()
    assert bot["first_response_seconds"] == 0.0  # the bot answers the first message
    closed_after = (bot["closed_at"] - bot["opened_at"]).total_seconds()
    assert bot["resolution_seconds"] == closed_after == 5 * 7.25

    team = Chat(engine, address="+5511999990001")
    team.send(MARIA)
    later(1)
    team.send("quero falar com uma pessoa")
    assert team.state == State.HUMAN
    conversation = team.last.conversation_id
    with storage.reading() as tx:
        handed = tx.conversation(conversation)
    assert handed is not None and handed["first_response_seconds"] is None
    later(120)
    staff.take(engine, conversation, "Ana")
    later(60.5)
    staff.reply(engine, conversation, "Ana", "Bom dia!")
    later(30)
    staff.close(engine, conversation, "Ana")
    with storage.reading() as tx:
        resolved = tx.conversation(conversation)
    assert resolved is not None
    assert resolved["first_response_seconds"] == 180.5
    assert resolved["resolution_seconds"] == 210.5


# -- medians against statistics.median -------------------------------------------------


@attrs.frozen
class Timed:
    """A conversation to seed: its opening, department, and the microseconds to each
    end (``None``: not reached); ``team`` holds the hand-over's offset and the team's
    ends when it was handed over."""

    opened: int
    department: str | None
    first_response: int | None
    closed: int | None
    team: tuple[int, int | None, int | None] | None


MICROSECONDS = st.one_of(st.none(), st.integers(0, 3 * 86400 * 10**6))
TIMED = st.builds(
    Timed,
    opened=st.integers(0, 20 * 86400),
    department=st.sampled_from(["cac", "procon", None]),
    first_response=MICROSECONDS,
    closed=MICROSECONDS,
    team=st.one_of(st.none(), st.tuples(st.integers(0, 3600), MICROSECONDS, MICROSECONDS)),
)


def rows(timed: Sequence[Timed]) -> list[dict[str, Any]]:
    """Conversation rows with the times of ``timed`` (durations left to storage)."""

    def at(base: dt.datetime, microseconds: int | None) -> dt.datetime | None:
        return None if microseconds is None else base + dt.timedelta(microseconds=microseconds)

    found = []
    for i, t in enumerate(timed, start=1):
        opened = START + t.opened * SECOND
        handed = at(opened, t.team[0] * 10**6) if t.team else None
        found.append(
            dict(
                id=i,
                channel="whatsapp",
                address=f"+55{i}",
                state="closed",
                department=t.department,
                context="{}",
                opened_at=opened,
                updated_at=opened,
                first_response_at=at(opened, t.first_response),
                closed_at=at(opened, t.closed),
                handed_over_at=handed,
                agent_first_response_at=at(handed, t.team[1]) if handed and t.team else None,
                resolved_at=at(handed, t.team[2]) if handed and t.team else None,
            )
        )
    return found


def seconds_to(t: Timed, end: str) -> float | None:
    """What the report should measure for ``t``: the team's time once handed over."""
    if t.team is not None:
        microseconds = t.team[1] if end == "first_response" else t.team[2]
    else:
        microseconds = t.first_response if end == "first_response" else t.closed
    return None if microseconds is None else microseconds / 10**6


def group_key(t: Timed, by: str) -> str:
    if by == "department":
        return t.department or db.NO_DEPARTMENT
    return (START + t.opened * SECOND).date().isoformat()  # by day, in UTC


def expected(timed: Sequence[Timed], end: str, by: str | None) -> dict[str, float]:
    """``{group: statistics.median}`` of the durations reached, per group."""
    groups: dict[str, list[float]] = {}
    for t in timed:
        value = seconds_to(t, end)
        if value is not None:
            groups.setdefault(group_key(t, by) if by else "", []).append(value)
    return {key: statistics.median(values) for key, values in groups.items()}


@pytest.fixture
def seeded(storage: db.Storage) -> Iterator[Callable[[Sequence[Timed]], db.Storage]]:
    """Seeds ``storage`` with conversations, emptied first (one per Hypothesis example)."""

    def seed(timed: Sequence[Timed]) -> db.Storage:
        with storage.transaction() as tx:
            tx.conn.execute(db.conversation_t.delete())
            db.insert_rows(tx, "conversation", rows(timed))
        return storage

    yield seed


@settings(max_examples=60)
@given(
    timed=st.lists(TIMED, max_size=30),
    end=st.sampled_from(sorted(db.DURATION_ENDS)),
    by=st.sampled_from([None, "department", "day"]),
    department=st.sampled_from([None, "procon"]),
    since=st.one_of(st.none(), st.integers(0, 20)),
)
def test_medians_equal_statistics_median(
    seeded: Callable[[Sequence[Timed]], db.Storage],
    timed: list[Timed],
    end: str,
    by: str | None,
    department: str | None,
    since: int | None,
) -> None:
    storage = seeded(timed)
    first_day = None if since is None else (START + since * 86400 * SECOND).date()
    only = db.ReportFilter(since=first_day, department=department)
    covered = [
        t
        for t in timed
        if (department is None or t.department == department)
        and (first_day is None or (START + t.opened * SECOND).date() >= first_day)
    ]
    with storage.reading() as tx:
        found = db.report_median_seconds(tx, end, by=(by,) if by else (), only=only)
    want = expected(covered, end, by)
    if by is None:
        assert found == [(want.get(""),)]
    else:
        assert dict(found) == want
        assert len(found) == len(want)  # no group twice


# -- the statements read indexes (SQLite's query plans) --------------------------------


@pytest.fixture
def plans(sqlite_storage: db.Storage) -> Iterator[Callable[[Callable[[], object]], list[str]]]:
    """Runs a call and returns SQLite's query plan of every SELECT it ran, one line per
    step (``SEARCH conversation USING INDEX ...``)."""
    statements: list[str] = []

    def trace(conn: Any, _record: Any) -> None:
        conn.set_trace_callback(statements.append)

    sqlite_storage.engine.dispose()  # every connection from now on is traced
    sa.event.listen(sqlite_storage.engine, "connect", trace)

    def run(call: Callable[[], object]) -> list[str]:
        statements.clear()
        call()
        selects = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]
        assert selects, "the call ran no SELECT"
        with sqlite_storage.engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.set_trace_callback(None)  # the plans are not statements of the call
            try:
                return [
                    str(row[-1])
                    for sql in selects
                    for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
                ]
            finally:
                raw.set_trace_callback(statements.append)

    try:
        yield run
    finally:
        sa.event.remove(sqlite_storage.engine, "connect", trace)


def scans_a_table(plan: list[str]) -> list[str]:
    """The steps that read a whole table of civic's, or sort, instead of walking an
    index (``SCAN conversation`` reads the table; ``SCAN conversation USING COVERING
    INDEX ...`` walks an index)."""
    tables = set(SQLModel.metadata.tables)
    return [
        step
        for step in plan
        if (step.startswith("SCAN ") and step.split()[1] in tables and " INDEX " not in step)
        or "TEMP B-TREE FOR ORDER BY" in step
    ]


def test_the_after_close_lookup_searches_an_index(
    sqlite_storage: db.Storage, plans: Callable[[Callable[[], object]], list[str]]
) -> None:
    def lookup() -> None:
        with sqlite_storage.transaction() as tx:
            tx.last_conversation("whatsapp", "+5511999990000")

    plan = plans(lookup)
    assert any("ix_conversation_address" in step for step in plan), plan
    assert scans_a_table(plan) == []


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("median first response", lambda tx: db.report_median_seconds(tx, "first_response")),
        ("median resolution", lambda tx: db.report_median_seconds(tx, "closed")),
        (
            "median per department",
            lambda tx: db.report_median_seconds(tx, "closed", by=("department",)),
        ),
        ("conversation counts", lambda tx: db.report_conversation_counts(tx)),
        ("score counts", lambda tx: db.report_score_counts(tx)),
        ("departments", db.report_departments),
    ],
)
def test_the_whole_reports_figures_walk_indexes(
    sqlite_storage: db.Storage,
    plans: Callable[[Callable[[], object]], list[str]],
    name: str,
    call: Callable[[db.Transaction], object],
) -> None:
    def report() -> None:
        with sqlite_storage.reading() as tx:
            call(tx)

    plan = plans(report)
    assert scans_a_table(plan) == [], (name, plan)


def test_the_plan_check_sees_a_scan(
    sqlite_storage: db.Storage, plans: Callable[[Callable[[], object]], list[str]]
) -> None:
    """The check above can fail: a median sorted as before is reported."""

    def sorted_median() -> None:
        with sqlite_storage.reading() as tx:
            tx.conn.execute(
                sa.select(db.conversation_t.c.closed_at - db.conversation_t.c.opened_at)
                .order_by(db.conversation_t.c.closed_at - db.conversation_t.c.opened_at)
                .limit(1)
            ).all()

    assert scans_a_table(plans(sorted_median)) != []
