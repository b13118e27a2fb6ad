"""Schema upgrades: Alembic revisions applied by ``Storage.migrate()`` on start-up."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from civic import durations, migrations
from civic.storage import Storage, StorageError
from civic.tables import UtcDateTime
from tests.conftest import DATABASES, POSTGRES_URL

HEAD_NUMBER = migrations.revision_number(migrations.HEAD)
NEW_TABLES = ("outbox", "event", "agent", "audit")
NEW_COLUMNS = {
    "citizen": {"cpf_encrypted"},
    "conversation": {
        "citizen_name",
        "agent",
        "handed_over_at",
        "agent_first_response_at",
        "resolved_at",
        "last_citizen_at",
        "close_reason",
        "first_response_seconds",
        "resolution_seconds",
    },
    "submission": {"secret_data", "citizen_id", "citizen_name"},
}


@pytest.fixture(params=DATABASES)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database holding nothing: a new SQLite file, or a throw-away
    PostgreSQL database when CIVIC_TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'civic.db'}"
        return
    assert POSTGRES_URL
    name = f"civic_mig_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(
        sa.make_url(POSTGRES_URL).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def schema_differences(storage: Storage) -> list[object]:
    """What Alembic's autogenerate would change to make the database match the models."""
    with storage.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))


def stored_revisions(storage: Storage) -> list[str]:
    with storage.engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())


def test_upgraded_schema_matches_the_models(storage: Storage) -> None:
    assert schema_differences(storage) == []
    assert stored_revisions(storage) == [migrations.HEAD]


def test_drift_between_models_and_revisions_is_detected(storage: Storage) -> None:
    """The comparison above can fail: a column the revisions lack is reported."""
    with storage.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE audit DROP COLUMN reason")
    differences = schema_differences(storage)
    assert [(d[0], d[3].name) for d in differences] == [("add_column", "reason")]  # type: ignore[index]


def test_revisions_form_one_numbered_line_ending_at_head() -> None:
    script = ScriptDirectory.from_config(migrations.config())
    assert script.get_heads() == [migrations.HEAD]
    chain = [revision.revision for revision in script.walk_revisions()]
    expected = [
        migrations.revision_id(n) for n in range(migrations.revision_number(migrations.HEAD), 0, -1)
    ]
    assert chain == expected
    for revision in script.walk_revisions():
        number = migrations.revision_number(revision.revision)
        down = None if number == 1 else migrations.revision_id(number - 1)
        assert revision.down_revision == down


def test_first_start_creates_the_schema_then_finds_nothing_to_do(empty_url: str) -> None:
    storage = Storage(empty_url)
    try:
        assert storage.schema_version() == 0
        assert storage.migrate() == HEAD_NUMBER
        assert storage.schema_version() == HEAD_NUMBER
        assert storage.migrate() == 0
        assert stored_revisions(storage) == [migrations.HEAD]
        with storage.transaction() as tx:  # kept for civic before Alembic: it refuses 2
            assert tx.get_setting("schema_version") == str(HEAD_NUMBER)
    finally:
        storage.close()


def test_downgrade_to_nothing_and_upgrade_again(empty_url: str) -> None:
    storage = Storage(empty_url)
    try:
        storage.migrate()
        with storage.engine.begin() as conn:
            command.downgrade(migrations.config(conn), "base")
        with storage.engine.connect() as conn:
            assert set(sa.inspect(conn).get_table_names()) == {"alembic_version"}
        assert storage.schema_version() == 0
        assert storage.migrate() == HEAD_NUMBER
        assert schema_differences(storage) == []
    finally:
        storage.close()


# -- a database made by civic before Alembic (commit 190b72f) -------------------------


def old_runner_schema() -> sa.MetaData:
    """The tables civic's own runner created as schema version 1 (commit 190b72f)."""
    metadata = sa.MetaData()
    when = sa.DateTime(timezone=True)
    sa.Table(
        "civic_setting",
        metadata,
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    sa.Table(
        "citizen",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("cpf_hash", sa.String(64), nullable=False, unique=True, index=True),
        sa.Column("cpf_masked", sa.String(14), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("last_seen_at", when, nullable=False),
    )
    sa.Table(
        "conversation",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("address", sa.String(128), nullable=False),
        sa.Column("citizen_id", sa.Integer, sa.ForeignKey("citizen.id"), index=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("department", sa.String(64), index=True),
        sa.Column("pinned_department", sa.String(64)),
        sa.Column("context", sa.Text, nullable=False),
        sa.Column("opened_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.Column("first_response_at", when),
        sa.Column("closed_at", when),
        sa.Index(
            "ix_conversation_open_address",
            "channel",
            "address",
            unique=True,
            sqlite_where=sa.text("closed_at IS NULL"),
            postgresql_where=sa.text("closed_at IS NULL"),
        ),
        sa.Index("ix_conversation_opened_at", "opened_at"),
    )
    sa.Table(
        "message",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.Integer, sa.ForeignKey("conversation.id"), nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("author", sa.String(16), nullable=False),
        sa.Column("author_name", sa.String(128)),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("channel_message_id", sa.String(128)),
        sa.Column("created_at", when, nullable=False),
        sa.UniqueConstraint("channel", "channel_message_id"),
        sa.Index("ix_message_conversation_id", "conversation_id"),
    )
    sa.Table(
        "submission",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.Integer, sa.ForeignKey("conversation.id"), nullable=False),
        sa.Column("department", sa.String(64), nullable=False, index=True),
        sa.Column("form", sa.String(64), nullable=False),
        sa.Column("protocol", sa.String(64), nullable=False, unique=True, index=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.Index("ix_submission_conversation_id", "conversation_id"),
    )
    sa.Table(
        "protocol_counter",
        metadata,
        sa.Column("prefix", sa.String(32), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("value", sa.Integer, nullable=False),
    )
    sa.Table(
        "rating",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "conversation_id",
            sa.Integer,
            sa.ForeignKey("conversation.id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("department", sa.String(64), index=True),
        sa.Column("agent", sa.String(128)),
        sa.Column("score", sa.Integer),
        sa.Column("scale_min", sa.Integer, nullable=False),
        sa.Column("scale_max", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("answers", sa.Text, nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Index("ix_rating_created_at", "created_at"),
    )
    return metadata


def make_old_database(url: str) -> dict[str, list[dict[str, object]]]:
    """Create the pre-Alembic schema at ``url`` with some rows; return every row."""
    old = old_runner_schema()
    t = old.tables
    now = dt.datetime(2026, 3, 2, 12, 30, tzinfo=dt.UTC)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        old.create_all(conn)
        conn.execute(
            t["civic_setting"].insert(),
            [
                {"key": "schema_version", "value": "1"},
                {"key": "secret_fingerprint", "value": "ab" * 32},
            ],
        )
        conn.execute(
            t["citizen"].insert(),
            {
                "id": 1,
                "name": "Maria da Silva",
                "cpf_hash": "f" * 64,
                "cpf_masked": "***.456.789-**",
                "created_at": now,
                "last_seen_at": now,
            },
        )
        conn.execute(
            t["conversation"].insert(),
            {
                "id": 1,
                "channel": "whatsapp",
                "address": "+5511999990000",
                "citizen_id": 1,
                "state": "rating",
                "department": "procon",
                "pinned_department": None,
                "context": '{"form": "reclamacao"}',
                "opened_at": now,
                "updated_at": now,
                "first_response_at": now,
                "closed_at": None,
            },
        )
        conn.execute(
            t["message"].insert(),
            [
                {
                    "conversation_id": 1,
                    "direction": direction,
                    "author": author,
                    "author_name": None,
                    "text": text,
                    "channel": "whatsapp",
                    "channel_message_id": message_id,
                    "created_at": now,
                }
                for direction, author, text, message_id in [
                    ("in", "citizen", "Olá, quero reclamar", "wamid.1"),
                    ("out", "bot", "Qual é o seu nome?", None),
                    ("in", "citizen", "Maria da Silva", "wamid.2"),
                ]
            ],
        )
        conn.execute(
            t["submission"].insert(),
            {
                "conversation_id": 1,
                "department": "procon",
                "form": "reclamacao",
                "protocol": "PROCON-2026-000001",
                "status": "received",
                "data": '{"empresa": "ACME"}',
                "created_at": now,
                "updated_at": now,
            },
        )
        conn.execute(t["protocol_counter"].insert(), {"prefix": "PROCON", "year": 2026, "value": 1})
        conn.execute(
            t["rating"].insert(),
            {
                "conversation_id": 1,
                "department": "procon",
                "agent": None,
                "score": 9,
                "scale_min": 0,
                "scale_max": 10,
                "comment": "Muito bom",
                "answers": "{}",
                "created_at": now,
            },
        )
    rows = read_rows(engine, old)
    engine.dispose()
    return rows


def read_rows(engine: sa.Engine, metadata: sa.MetaData) -> dict[str, list[dict[str, object]]]:
    """Every row of ``metadata``'s tables, with only the columns ``metadata`` knows."""
    with engine.connect() as conn:
        return {
            name: [
                dict(row)
                for row in conn.execute(
                    table.select().order_by(*table.primary_key.columns)
                ).mappings()
            ]
            for name, table in metadata.tables.items()
        }


def test_a_database_of_the_old_runner_is_stamped_and_upgraded(empty_url: str) -> None:
    before = make_old_database(empty_url)
    storage = Storage(empty_url)
    try:
        assert storage.schema_version() == 1  # holds civic data: not 0
        assert storage.migrate() == HEAD_NUMBER - 1  # stamped 0001, upgraded to head
        assert stored_revisions(storage) == [migrations.HEAD]
        after = read_rows(storage.engine, old_runner_schema())
        after["civic_setting"] = [r for r in after["civic_setting"] if r["key"] != "schema_version"]
        before["civic_setting"] = [
            r for r in before["civic_setting"] if r["key"] != "schema_version"
        ]
        assert after == before
        assert len(after["message"]) == 3
        with storage.engine.connect() as conn:
            inspector = sa.inspect(conn)
            assert set(NEW_TABLES) <= set(inspector.get_table_names())
            for table, columns in NEW_COLUMNS.items():
                assert columns <= {c["name"] for c in inspector.get_columns(table)}
        assert schema_differences(storage) == []
        with storage.transaction() as tx:
            assert tx.get_setting("schema_version") == str(HEAD_NUMBER)
            assert tx.get_setting("secret_fingerprint") == "ab" * 32
            tx.update_conversation(1, agent="joana", citizen_name="Maria")
            assert tx.conversation(1)["agent"] == "joana"  # type: ignore[index]
        # The partial unique index survived: still one open conversation per address.
        second_open = {**before["conversation"][0], "id": 2, "citizen_id": None}
        with pytest.raises(sa.exc.IntegrityError), storage.engine.begin() as conn:
            conn.execute(old_runner_schema().tables["conversation"].insert(), second_open)
        assert storage.migrate() == 0
    finally:
        storage.close()


# -- revision 0006: durations of the conversations already stored ----------------------


def test_the_durations_of_stored_conversations_are_filled_in(empty_url: str) -> None:
    """0006 computes each conversation's durations from its times, to the microsecond,
    exactly as the engine computes them for new ones (:mod:`civic.durations`)."""
    storage = Storage(empty_url)
    try:
        with storage.engine.begin() as conn:
            command.upgrade(migrations.config(conn), "0005")
        opened = dt.datetime(2026, 3, 2, 12, 30, 0, 123456, tzinfo=dt.UTC)
        later = [
            dt.timedelta(microseconds=1),
            dt.timedelta(seconds=59, microseconds=999999),
            dt.timedelta(days=3, hours=7, microseconds=654321),
            dt.timedelta(0),
        ]
        conversations = []
        for i, (first, closed) in enumerate(zip(later, reversed(later), strict=True), start=1):
            handed = opened + dt.timedelta(minutes=5) if i % 2 else None
            conversations.append(
                {
                    "id": i,
                    "channel": "whatsapp",
                    "address": f"+55{i}",
                    "state": "closed",
                    "context": "{}",
                    "opened_at": opened,
                    "updated_at": opened,
                    "first_response_at": opened + first,
                    "closed_at": opened + closed + first,
                    "handed_over_at": handed,
                    "agent_first_response_at": handed + closed if handed else None,
                    "resolved_at": handed + first if handed and i > 2 else None,
                }
            )
        conversations.append({**conversations[0], "id": 9, "address": "+559", "closed_at": None})
        times = [
            sa.column(name, UtcDateTime()) for name in conversations[0] if name.endswith("_at")
        ]
        others = [sa.column(name) for name in conversations[0] if not name.endswith("_at")]
        with storage.engine.begin() as conn:
            conn.execute(sa.table("conversation", *others, *times).insert(), conversations)
        assert storage.migrate() == HEAD_NUMBER - 5
        with storage.reading() as tx:
            stored = tx.conversations()
        assert len(stored) == len(conversations)
        for row in stored:
            want = durations.durations({}, {name: row[name] for name in durations.INPUTS})
            assert {name: row[name] for name in want} == want, row["id"]
        unresolved = [row["id"] for row in stored if row["resolution_seconds"] is None]
        assert unresolved == [1, 9]  # handed over, and the team never closed them
        assert all(row["first_response_seconds"] is not None for row in stored)
    finally:
        storage.close()


# -- refusals and errors --------------------------------------------------------------


def test_a_database_newer_than_this_civic_asks_to_upgrade_civic(empty_url: str) -> None:
    storage = Storage(empty_url)
    try:
        storage.migrate()
        with storage.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
        assert storage.schema_version() == 99
        with pytest.raises(StorageError, match=r"schema revision 0099, newer .*: upgrade civic"):
            storage.migrate()
    finally:
        storage.close()


def test_an_old_runner_version_newer_than_this_civic_asks_to_upgrade_civic(
    empty_url: str,
) -> None:
    make_old_database(empty_url)
    storage = Storage(empty_url)
    try:
        with storage.engine.begin() as conn:
            newer = HEAD_NUMBER + 1
            conn.exec_driver_sql(
                f"UPDATE civic_setting SET value = '{newer}' WHERE key = 'schema_version'"
            )
        with pytest.raises(StorageError, match="upgrade civic"):
            storage.migrate()
        with storage.engine.connect() as conn:
            assert not sa.inspect(conn).has_table("outbox")  # nothing was changed
    finally:
        storage.close()


def test_another_applications_alembic_revision_is_refused(empty_url: str) -> None:
    storage = Storage(empty_url)
    try:
        with storage.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
            conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('3f1a2b4c5d6e')")
        with pytest.raises(StorageError, match="not civic's"):
            storage.migrate()
        with pytest.raises(StorageError, match="not civic's"):
            storage.schema_version()
    finally:
        storage.close()


def test_database_errors_hide_the_password() -> None:
    storage = Storage("postgresql+psycopg://civic:hunter2@127.0.0.1:1/civic")
    try:
        for call in (storage.migrate, storage.schema_version):
            with pytest.raises(StorageError) as raised:
                call()
            assert "hunter2" not in str(raised.value)
            assert "cannot open database postgresql+psycopg://civic:***@127.0.0.1:1/civic" in str(
                raised.value
            )
    finally:
        storage.close()


# -- several workers starting at once -------------------------------------------------


def _migrate_in_worker(url: str, barrier: object, results: object) -> None:
    """One worker's first start: wait for the others, then migrate."""
    barrier.wait(timeout=120)  # type: ignore[attr-defined]
    try:
        outcome: tuple[str, object] = ("ok", Storage(url).migrate())
    except Exception as exc:  # reported to the test, which fails on it
        outcome = ("error", repr(exc))
    results.put(outcome)  # type: ignore[attr-defined]


def test_concurrent_first_starts_migrate_once(empty_url: str) -> None:
    workers = 8
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers)
    results = context.Queue()
    processes = [
        context.Process(target=_migrate_in_worker, args=(empty_url, barrier, results))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=180) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert [kind for kind, _ in outcomes] == ["ok"] * workers, outcomes
    assert sorted(applied for _, applied in outcomes) == [0] * (workers - 1) + [HEAD_NUMBER]  # type: ignore[type-var]
    storage = Storage(empty_url)
    try:
        assert stored_revisions(storage) == [migrations.HEAD]
        assert schema_differences(storage) == []
    finally:
        storage.close()


# -- what start-up costs and says -----------------------------------------------------

_START = """
import logging, sys
if sys.argv[2] == "verbose":
    logging.basicConfig(level=logging.INFO)
from civic.storage import Storage
print(Storage(sys.argv[1]).migrate(), "alembic" in sys.modules)
"""


def run_start(url: str, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _START, url, mode], capture_output=True, text=True, check=True
    )


def test_alembic_is_quiet_unless_verbose_and_skipped_when_up_to_date(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'civic.db'}"
    first = run_start(url, "quiet")
    assert (first.stdout, first.stderr) == (f"{HEAD_NUMBER} True\n", "")
    again = run_start(url, "quiet")  # up to date: Alembic is not even imported
    assert (again.stdout, again.stderr) == ("0 False\n", "")
    verbose_url = f"sqlite:///{tmp_path / 'verbose.db'}"
    verbose = run_start(verbose_url, "verbose")
    assert "Running upgrade  -> 0001" in verbose.stderr
    assert "Running upgrade 0001 -> 0002" in verbose.stderr
