"""Satisfaction reports: the seed figure, indicators against a pure-Python reference,
groupings, the hook, JSON/CSV/HTML output, the export and the CLI.

Storage tests run on SQLite, and on PostgreSQL too when ``CIVIC_TEST_DATABASE_URL`` is
set (in a schema of their own, so they never touch other tests' tables).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import statistics
import zoneinfo
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import attrs
import jsonschema
import pluggy
import pytest
import sqlalchemy as sa
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import SQLModel
from typer.testing import CliRunner

from civic import hookimpl, hookspecs
from civic import storage as db
from civic.config import parse_config
from civic.default_plugins import scoring
from civic.report import (
    Aggregate,
    ReportIndicator,
    ReportQuery,
    ReportScope,
    SurveyQuestion,
    answer_text,
    build_report,
    survey_questions,
)
from civic.report_render import (
    BAR_COLOUR,
    export_conversations,
    render_csv,
    render_html,
    render_json,
    render_table,
    report_to_dict,
)
from tests.conftest import POSTGRES_URL

SCHEMA = json.loads((Path(__file__).parents[1] / "schemas" / "report.schema.json").read_text())
START = dt.datetime(2021, 3, 1, tzinfo=dt.UTC)
BRAZIL = zoneinfo.ZoneInfo("America/Sao_Paulo")
KINDS = [pytest.param("sqlite", id="sqlite")]
if POSTGRES_URL:
    KINDS.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))


# -- seeding --------------------------------------------------------------------------


@attrs.frozen
class Conv:
    """A conversation to seed; ``rating`` is None (no survey), ``(None, lo, hi)`` (declined)
    or ``(score, lo, hi)``."""

    opened_at: dt.datetime
    department: str | None = None
    citizen: int | None = None
    rating: tuple[int | None, int, int] | None = None
    agent: str | None = None
    first_response_after: float | None = None
    closed_after: float | None = None
    answers: Mapping[str, Any] | None = None


def seed(storage: db.Storage, convs: Sequence[Conv]) -> None:
    """Insert citizens, conversations and ratings in bulk, in one transaction."""
    citizens = sorted({c.citizen for c in convs if c.citizen is not None})
    conversations, ratings = [], []
    for i, c in enumerate(convs, start=1):
        later = lambda s: None if s is None else c.opened_at + dt.timedelta(seconds=s)  # noqa: E731, B023
        conversations.append(
            dict(
                id=i,
                channel="whatsapp",
                address=f"+55{i}",
                citizen_id=c.citizen,
                state="closed",
                department=c.department,
                pinned_department=None,
                context="{}",
                opened_at=c.opened_at,
                updated_at=c.opened_at,
                first_response_at=later(c.first_response_after),
                closed_at=later(c.closed_after),
            )
        )
        if c.rating is not None:
            score, low, high = c.rating
            ratings.append(
                dict(
                    conversation_id=i,
                    department=c.department,
                    agent=c.agent,
                    score=score,
                    scale_min=low,
                    scale_max=high,
                    comment=None if score is None else f"nota {score}",
                    answers=json.dumps(c.answers or {}, ensure_ascii=False),
                    created_at=c.opened_at,
                )
            )
    with storage.transaction() as tx:
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
                for n in citizens
            ],
        )
        db.insert_rows(tx, "conversation", conversations)
        db.insert_rows(tx, "rating", ratings)


@pytest.fixture(scope="module")
def postgres_schema_url() -> Iterator[str | None]:
    """A URL whose search_path is a fresh schema of this module (None without PostgreSQL)."""
    if not POSTGRES_URL:
        yield None
        return
    schema = f"civic_report_test_{os.getpid()}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(scope="module")
def migrated(
    postgres_schema_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], db.Storage]]:
    """The module's database of each kind, migrated once (Alembic runs once per kind,
    not once per Hypothesis example)."""
    opened: dict[str, db.Storage] = {}
    folder = tmp_path_factory.mktemp("report")

    def get(kind: str) -> db.Storage:
        if kind not in opened:
            if kind == "postgres":
                assert postgres_schema_url
                storage = db.Storage(postgres_schema_url)
            else:
                storage = db.Storage(f"sqlite:///{folder / 'civic.db'}")
            storage.migrate()
            opened[kind] = storage
        return opened[kind]

    yield get
    for storage in opened.values():
        storage.close()


def emptied(storage: db.Storage) -> db.Storage:
    """``storage`` without a row in any table; the schema and its revision stay."""
    tables = [t for t in SQLModel.metadata.sorted_tables if t.name != db.setting_t.name]
    kept = db.setting_t.c.key == db.LEGACY_VERSION_KEY
    with storage.engine.begin() as conn:  # DELETE: cheaper than TRUNCATE on tiny tables
        for table in reversed(tables):
            conn.execute(table.delete())
        conn.execute(db.setting_t.delete().where(sa.not_(kept)))
    return storage


@pytest.fixture(params=KINDS)
def fresh_storage(
    request: pytest.FixtureRequest, migrated: Callable[[str], db.Storage]
) -> Callable[[], db.Storage]:
    """A factory of fresh, empty, migrated databases (one per Hypothesis example): the
    module's database of this kind, emptied."""
    return lambda: emptied(migrated(request.param))


@pytest.fixture
def manager() -> pluggy.PluginManager:
    """A plugin manager holding only the built-in scoring plugin."""
    pm = pluggy.PluginManager("civic")
    pm.add_hookspecs(hookspecs)
    pm.register(scoring, name="scoring")
    return pm


# -- the seed figure ------------------------------------------------------------------

# 329 scores summing to 3234: mean 9.8298... published as 9.83 and 98.3.
SEED_SCORES = [10] * 296 + [9] * 24 + [8] * 6 + [5] * 2 + [0]


def seed_convs() -> list[Conv]:
    """329 citizens rating between 16 and 26 March 2021 (days in Brazil), plus
    conversations to ignore."""
    first = dt.datetime(2021, 3, 16, tzinfo=BRAZIL)
    departments = ["cac", "procon", "jsm"]
    convs = [
        Conv(
            opened_at=first + dt.timedelta(minutes=48 * i),  # up to 26/03 ~22:55
            department=departments[i % 3],
            citizen=i + 1,
            rating=(score, 0, 10),
            agent=None if i % 4 else "ana",
            first_response_after=2 + i % 5,
            closed_after=60 * (3 + i % 7),
        )
        for i, score in enumerate(SEED_SCORES)
    ]
    outside = [
        Conv(dt.datetime(2021, 3, 15, 23, 59, 59, tzinfo=BRAZIL), "cac", 1000, (0, 0, 10)),
        Conv(dt.datetime(2021, 3, 27, tzinfo=BRAZIL), "cac", 1001, (0, 0, 10)),
    ]
    anonymous = [Conv(dt.datetime(2021, 3, 20, tzinfo=BRAZIL), "cac", None, None)]
    return convs + outside + anonymous


SEED_SCOPE = ReportScope(dt.date(2021, 3, 16), dt.date(2021, 3, 26), timezone="America/Sao_Paulo")


def test_seed_figure(fresh_storage: Callable[[], db.Storage], manager: pluggy.PluginManager):
    storage = fresh_storage()
    seed(storage, seed_convs())
    total = build_report(storage, SEED_SCOPE, manager=manager).total
    assert total.contacts == 329
    assert total.conversations == 330  # the anonymous one is a conversation, not a contact
    assert total.rated == 329
    assert total.mean_score == 9.83
    assert total.score_percent == 98.3
    assert total.csat_percent == round(320 / 329 * 100, 1)
    assert total.nps == round((320 - 3) / 329 * 100, 1)
    assert total.distribution == {
        "0": 1, "1": 0, "2": 0, "3": 0, "4": 0, "5": 2, "6": 0, "7": 0, "8": 6, "9": 24,
        "10": 296,
    }  # fmt: skip
    assert total.median_first_response_seconds == 4.0
    assert total.median_resolution_seconds == 360.0


@pytest.mark.parametrize("by", ["department", "day", "week", "month", "agent"])
def test_seed_groups_add_up(
    by: str, fresh_storage: Callable[[], db.Storage], manager: pluggy.PluginManager
):
    storage = fresh_storage()
    seed(storage, seed_convs())
    report = build_report(storage, attrs.evolve(SEED_SCOPE, by=by), manager=manager)
    groups = [g.indicators for g in report.groups]
    assert sum(g.conversations or 0 for g in groups) == 330
    assert sum(g.rated or 0 for g in groups) == 329
    assert sum(g.contacts or 0 for g in groups) == 329  # one conversation per citizen
    if by == "day":
        assert report.groups[0].key == "2021-03-16"
        assert len(report.groups) == 11
    if by == "week":
        assert [g.key for g in report.groups] == ["2021-03-15", "2021-03-22"]
    if by == "agent":
        assert {g.key for g in report.groups} == {"(bot)", "ana"}


# -- indicators against a pure-Python reference ---------------------------------------

RATINGS = st.one_of(
    st.none(),
    st.just((None, 0, 10)),
    st.tuples(st.integers(0, 10), st.just(0), st.just(10)),
    st.tuples(st.integers(1, 5), st.just(1), st.just(5)),
)


@st.composite
def conversations(draw: st.DrawFn, *, min_size: int = 0) -> list[Conv]:
    """Conversations over two months in three departments (one None), some anonymous,
    some unrated or declined, some on a 1-5 scale, some not answered or still open."""
    return draw(
        st.lists(
            st.builds(
                Conv,
                opened_at=st.integers(0, 60 * 86400).map(lambda s: START + dt.timedelta(seconds=s)),
                department=st.sampled_from(["procon", "jsm", None]),
                citizen=st.one_of(st.none(), st.integers(1, 8)),
                rating=RATINGS,
                agent=st.sampled_from([None, "ana", "bruno"]),
                first_response_after=st.one_of(st.none(), st.integers(0, 600)),
                closed_after=st.one_of(st.none(), st.integers(0, 90000)),
            ),
            min_size=min_size,
            max_size=25,
        )
    )


def half_up(value: Decimal, places: int) -> float:
    sign = -1 if value < 0 else 1
    return sign * float(abs(value).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP))


def reference(convs: Sequence[Conv]) -> dict[str, object]:
    """The indicators computed naively, independently of civic."""
    scored = [c.rating for c in convs if c.rating is not None and c.rating[0] is not None]
    scores = [s for s, _, _ in scored]
    ten = [s for s, low, high in scored if (low, high) == (0, 10)]
    n = len(scores)

    def median(values: list[float]) -> float | None:
        return round(statistics.median(values), 1) if values else None

    return {
        "contacts": len({c.citizen for c in convs if c.citizen is not None}),
        "conversations": len(convs),
        "rated": n,
        "response_rate_percent": half_up(Decimal(100 * n) / len(convs), 1) if convs else None,
        "mean_score": half_up(Decimal(sum(scores)) / n, 2) if n else None,
        "score_percent": half_up(
            sum(Decimal(s) / Decimal(high) for s, _, high in scored) * 100 / n, 1
        )
        if n
        else None,
        "nps": half_up(
            Decimal(100 * (sum(s >= 9 for s in ten) - sum(s <= 6 for s in ten))) / len(ten), 1
        )
        if ten
        else None,
        "csat_percent": half_up(Decimal(100 * sum(s >= high - 1 for s, _, high in scored)) / n, 1)
        if n
        else None,
        "median_first_response_seconds": median(
            [c.first_response_after for c in convs if c.first_response_after is not None]
        ),
        "median_resolution_seconds": median(
            [c.closed_after for c in convs if c.closed_after is not None]
        ),
    }


def in_scope(c: Conv, scope: ReportScope) -> bool:
    day = c.opened_at.date()
    return (
        (scope.since is None or day >= scope.since)
        and (scope.until is None or day <= scope.until)
        and (scope.department is None or c.department == scope.department)
    )


DATES = st.one_of(st.none(), st.dates(dt.date(2021, 2, 25), dt.date(2021, 5, 5)))


@settings(max_examples=40)
@given(
    convs=conversations(),
    since=DATES,
    until=DATES,
    department=st.sampled_from([None, "procon", "jsm"]),
)
def test_indicators_match_reference(
    fresh_storage: Callable[[], db.Storage],
    manager: pluggy.PluginManager,
    convs: list[Conv],
    since: dt.date | None,
    until: dt.date | None,
    department: str | None,
):
    if since and until and since > until:
        since, until = until, since
    storage = fresh_storage()
    seed(storage, convs)
    scope = ReportScope(since, until, department)
    total = build_report(storage, scope, manager=manager).total
    expected = reference([c for c in convs if in_scope(c, scope)])
    assert attrs.asdict(total, filter=lambda a, _: a.name in expected) == expected
    if total.nps is not None:
        assert -100 <= total.nps <= 100


@settings(max_examples=25)
@given(convs=conversations(), by=st.sampled_from(["department", "day", "week", "month", "agent"]))
def test_groups_add_up_to_the_total(
    fresh_storage: Callable[[], db.Storage],
    manager: pluggy.PluginManager,
    convs: list[Conv],
    by: str,
):
    storage = fresh_storage()
    seed(storage, convs)
    report = build_report(storage, ReportScope(by=by), manager=manager)
    total, groups = report.total, [g.indicators for g in report.groups]
    assert sum(g.conversations or 0 for g in groups) == total.conversations
    assert sum(g.rated or 0 for g in groups) == total.rated
    assert sum(g.contacts or 0 for g in groups) >= (total.contacts or 0)  # distinct per group
    for score, n in (total.distribution or {}).items():
        assert sum((g.distribution or {})[score] for g in groups) == n
    keys = [g.key for g in report.groups]
    assert keys == sorted(keys)
    if by == "department":  # each group equals the report filtered on it
        for group in report.groups:
            dept = None if group.key == db.NO_DEPARTMENT else group.key
            expected = reference([c for c in convs if c.department == dept])
            assert group.indicators.mean_score == expected["mean_score"]
            assert group.indicators.contacts == expected["contacts"]


@settings(max_examples=20)
@given(convs=conversations(min_size=1), unrated=st.integers(1, 10))
def test_unrated_conversations_change_response_rate_not_mean(
    fresh_storage: Callable[[], db.Storage],
    manager: pluggy.PluginManager,
    convs: list[Conv],
    unrated: int,
):
    before_storage = fresh_storage()
    seed(before_storage, convs)
    before = build_report(before_storage, ReportScope(), manager=manager).total
    after_storage = fresh_storage()  # the same database, emptied
    seed(after_storage, convs + [Conv(START, "procon")] * unrated)
    after = build_report(after_storage, ReportScope(), manager=manager).total
    assert after.mean_score == before.mean_score
    assert after.score_percent == before.score_percent
    assert after.nps == before.nps
    assert after.conversations == (before.conversations or 0) + unrated
    if before.rated:
        assert (after.response_rate_percent or 0) < (before.response_rate_percent or 0)


def test_empty_database(fresh_storage: Callable[[], db.Storage], manager: pluggy.PluginManager):
    report = build_report(fresh_storage(), ReportScope(by="day"), manager=manager)
    assert report.groups == ()
    assert report.total.conversations == 0
    assert report.total.mean_score is None
    assert report.total.distribution == {}
    jsonschema.Draft202012Validator(SCHEMA).validate(report_to_dict(report))


def test_the_reports_protocol_statuses_are_the_protocols():
    """The report keeps its own copy, so computing one does not import the team's actions."""
    from civic import protocols
    from civic.report import PROTOCOL_STATUSES

    assert PROTOCOL_STATUSES == protocols.STATUSES


def test_scope_rejects_bad_values():
    with pytest.raises(ValueError, match="grouping"):
        ReportScope(by="year")
    with pytest.raises(ValueError, match="after"):
        ReportScope(dt.date(2021, 3, 2), dt.date(2021, 3, 1))


# -- the hook -------------------------------------------------------------------------


class SubmissionsPlugin:
    """Adds the forms submitted, and shows a failing and a clashing indicator."""

    __name__ = "submissions_plugin"

    @hookimpl
    def register_report_indicators(self, register: Callable[[ReportIndicator], None]) -> None:
        register(ReportIndicator("submissions", "Protocolos", ReportQuery.submissions))
        register(ReportIndicator("broken", "Quebrado", lambda q: 1 / 0))
        register(ReportIndicator("not_aggregate", "Errado", lambda q: 42))
        register(ReportIndicator("mean_score", "Outra média", lambda q: Aggregate(0.0)))


def test_hook_register_report_indicators(
    fresh_storage: Callable[[], db.Storage],
    manager: pluggy.PluginManager,
    caplog: pytest.LogCaptureFixture,
):
    storage = fresh_storage()
    seed(storage, seed_convs()[:10])
    with storage.transaction() as tx:
        for n, protocol in enumerate(["PROCON-2021-000001", "JSM-2021-000001"], start=1):
            tx.add_submission(
                conversation_id=n,
                department="procon",
                form="f",
                protocol=protocol,
                data={},
                now=START,
            )
    manager.register(SubmissionsPlugin(), name="submissions_plugin")
    report = build_report(storage, ReportScope(by="department"), manager=manager)
    assert report.total.extra == {"submissions": 2}
    assert report.total.mean_score != 0.0  # the built-in registered first and wins
    assert report.labels["submissions"] == "Protocolos"
    assert sum(g.indicators.extra["submissions"] for g in report.groups) == 2
    assert "'broken' of plugin submissions_plugin failed" in caplog.text
    assert "'not_aggregate' of plugin submissions_plugin failed" in caplog.text
    assert "already registered by plugin scoring" in caplog.text
    jsonschema.Draft202012Validator(SCHEMA).validate(report_to_dict(report))
    assert "submissions" in render_csv(report).splitlines()[0].split(",")


def test_hook_failing_plugin_contributes_nothing(
    fresh_storage: Callable[[], db.Storage], manager: pluggy.PluginManager
):
    class Failing:
        __name__ = "failing"

        @hookimpl
        def register_report_indicators(self, register):  # type: ignore[no-untyped-def]
            register(ReportIndicator("half", "Metade", lambda q: Aggregate(1)))
            raise RuntimeError("boom")

    manager.register(Failing(), name="failing")
    report = build_report(fresh_storage(), ReportScope(), manager=manager)
    assert "half" not in report.total.extra
    assert report.total.conversations == 0


def test_without_scoring_plugin_figures_are_null(fresh_storage: Callable[[], db.Storage]):
    pm = pluggy.PluginManager("civic")
    pm.add_hookspecs(hookspecs)
    report = build_report(fresh_storage(), ReportScope(), manager=pm)
    assert report.total.mean_score is None
    jsonschema.Draft202012Validator(SCHEMA).validate(report_to_dict(report))


# -- rendering ------------------------------------------------------------------------


@pytest.fixture
def seed_storage(fresh_storage: Callable[[], db.Storage]) -> db.Storage:
    storage = fresh_storage()
    seed(storage, seed_convs())
    return storage


@pytest.mark.parametrize("by", [None, "department", "day", "agent"])
def test_json_validates_against_schema(
    seed_storage: db.Storage, manager: pluggy.PluginManager, by: str | None
):
    report = build_report(seed_storage, attrs.evolve(SEED_SCOPE, by=by), manager=manager)
    data = json.loads(render_json(report))
    jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(data)
    assert data["total"]["score_percent"] == 98.3
    assert data["scope"] == {
        "since": "2021-03-16",
        "until": "2021-03-26",
        "department": None,
        "by": by,
        "timezone": "America/Sao_Paulo",
    }
    assert len(data["groups"]) == len(report.groups)


def test_csv_has_one_row_per_group(seed_storage: db.Storage, manager: pluggy.PluginManager):
    report = build_report(seed_storage, attrs.evolve(SEED_SCOPE, by="day"), manager=manager)
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert [row["group"] for row in rows] == [g.key for g in report.groups]
    assert sum(int(row["conversations"]) for row in rows) == 330
    assert sum(int(row["score_10"]) for row in rows) == 296
    ungrouped = list(
        csv.DictReader(
            io.StringIO(render_csv(build_report(seed_storage, SEED_SCOPE, manager=manager)))
        )
    )
    assert len(ungrouped) == 1 and ungrouped[0]["mean_score"] == "9.83"


def test_table(seed_storage: db.Storage, manager: pluggy.PluginManager):
    report = build_report(seed_storage, attrs.evolve(SEED_SCOPE, by="department"), manager=manager)
    text = render_table(report)
    assert "9.83" in text and "98.3" in text
    assert {"cac", "procon", "jsm", "total"} <= {
        line.split()[0] for line in text.splitlines() if line.strip()
    }


def test_html_page(seed_storage: db.Storage, manager: pluggy.PluginManager):
    from civic.report import build_timeline

    scope = attrs.evolve(SEED_SCOPE, by="department")
    page = render_html(
        build_report(seed_storage, scope, manager=manager),
        "Araraquara",
        build_timeline(seed_storage, scope),
    )
    assert "<title>Araraquara" in page and "<h1>Araraquara</h1>" in page
    assert page.count("<svg") == 3
    assert page.count(f'fill="{BAR_COLOUR}"') == 11  # one bar per score 0..10
    assert page.count('class="bar"') == 11 + 11  # and one per day
    assert page.count("<polyline") == 3  # one line per department
    assert "98,3" in page and "9,83" in page and "Nota média" in page
    assert "http" not in page and "<script" not in page and "url(" not in page


# -- export ---------------------------------------------------------------------------


def test_export_csv_and_jsonl(seed_storage: db.Storage):
    with seed_storage.transaction() as tx:
        tx.add_submission(
            conversation_id=1,
            department="cac",
            form="f",
            protocol="CAC-2021-000001",
            data={},
            now=START,
        )
        tx.add_submission(
            conversation_id=1,
            department="cac",
            form="f",
            protocol="CAC-2021-000002",
            data={},
            now=START,
        )
    out = io.StringIO()
    count = export_conversations(
        seed_storage,
        out,
        format="csv",
        since=dt.date(2021, 3, 16),
        until=dt.date(2021, 3, 26),
        timezone="America/Sao_Paulo",
    )
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert count == len(rows) == 330
    assert sorted(rows[0]["protocols"].split()) == ["CAC-2021-000001", "CAC-2021-000002"]
    assert rows[0]["opened_at"] == "2021-03-16T03:00:00Z"  # midnight in Brazil
    assert rows[0]["first_response_seconds"] == "2.0" and rows[0]["resolution_seconds"] == "180.0"
    out = io.StringIO()
    export_conversations(seed_storage, out, format="jsonl")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 332
    first = next(line for line in lines if line["conversation_id"] == 1)
    assert first["protocols"] == ["CAC-2021-000001", "CAC-2021-000002"]
    assert first["score"] == 10 and first["comment"] == "nota 10"


# -- the CLI --------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    """A Typer app with the report commands, and the scoring plugin in the global manager."""
    from civic import cli_report, plugins

    pm = plugins.load_plugins()
    if pm.get_plugin("scoring") is None:
        pm.register(scoring, name="scoring")
        monkeypatch.setattr(plugins, "_report_test_cleanup", True, raising=False)
    app = typer.Typer()
    app.callback()(lambda: None)
    cli_report.register(app)
    yield app
    if getattr(plugins, "_report_test_cleanup", False):
        pm.unregister(name="scoring")


def test_cli_report_formats(cli: typer.Typer, seed_storage: db.Storage, tmp_path: Path):
    runner = CliRunner()
    base = [
        "report",
        "--database-url",
        seed_storage.url,
        "--since",
        "16/03/2021",
        "--until",
        "2021-03-26",
    ]
    result = runner.invoke(cli, base)
    assert result.exit_code == 0, result.output
    assert "98.3" in result.output
    result = runner.invoke(cli, [*base, "--format", "json", "--by", "department"])
    assert json.loads(result.output)["total"]["contacts"] == 329
    page = tmp_path / "report.html"
    result = runner.invoke(cli, [*base, "-f", "html", "-o", str(page), "--city", "Araraquara"])
    assert result.exit_code == 0, result.output
    assert "<h1>Araraquara</h1>" in page.read_text(encoding="utf-8")
    result = runner.invoke(cli, [*base, "-f", "csv", "--by", "week", "-d", "procon"])
    assert len(result.output.splitlines()) == 3  # header + two weeks


def test_cli_export(cli: typer.Typer, seed_storage: db.Storage):
    result = CliRunner().invoke(
        cli, ["export", "conversations", "--database-url", seed_storage.url, "-f", "jsonl"]
    )
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 332


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2021-13-01"], "is not a date"),
        (["--until", "9999-12-31"], "is not a date from 1900 to 2999"),
        (["--since", "01/01/0001"], "is not a date from 1900 to 2999"),
        (["--since", "2021-03-10", "--until", "01/03/2021"], "is after"),
        (["--department", "nope"], "unknown department 'nope'"),
    ],
)
def test_cli_errors(cli: typer.Typer, seed_storage: db.Storage, args: list[str], message: str):
    result = CliRunner().invoke(cli, ["report", "--database-url", seed_storage.url, *args])
    assert result.exit_code == 1
    assert message in result.stderr


def test_cli_unreachable_database(cli: typer.Typer, tmp_path: Path):
    runner = CliRunner()
    missing = runner.invoke(cli, ["report", "--database-url", f"sqlite:///{tmp_path}/none.db"])
    assert missing.exit_code == 1 and "no civic database" in missing.stderr
    assert not (tmp_path / "none.db").exists()
    refused = runner.invoke(
        cli,
        ["export", "conversations", "--database-url", "postgresql+psycopg://nobody@127.0.0.1:1/x"],
    )
    assert refused.exit_code == 1 and "cannot open database" in refused.stderr


def test_days_are_the_citys_days(
    fresh_storage: Callable[[], db.Storage], manager: pluggy.PluginManager
) -> None:
    storage = fresh_storage()
    late_evening = dt.datetime(2021, 3, 16, 1, 30, tzinfo=dt.UTC)  # 15/03 22:30 in Brazil
    seed(storage, [Conv(late_evening, "cac", 1, (10, 0, 10))])
    in_brazil = ReportScope(by="day", timezone="America/Sao_Paulo")
    assert [g.key for g in build_report(storage, in_brazil, manager=manager).groups] == [
        "2021-03-15"
    ]
    in_utc = ReportScope(by="day")
    assert [g.key for g in build_report(storage, in_utc, manager=manager).groups] == ["2021-03-16"]
    only_15th = ReportScope(dt.date(2021, 3, 15), dt.date(2021, 3, 15), timezone=in_brazil.timezone)
    assert build_report(storage, only_15th, manager=manager).total.conversations == 1


# -- the city's extra survey questions --------------------------------------------------

#: The example city's questions (gov.br dimensions), a choice and a free-text question.
QUESTIONS: dict[str, Any] = {
    "title": "Avaliação",
    "properties": {
        "clareza": {"title": "As informações foram claras?", "type": "integer", "minimum": 1,
                    "maximum": 5},
        "resolveu": {"title": "Seu pedido foi resolvido?", "type": "boolean"},
        "canal": {"title": "Como nos conheceu?", "oneOf": [
            {"const": "site", "title": "Pelo site"}, {"const": "amigo", "title": "Por um amigo"}]},
        "sugestao": {"title": "Uma sugestão?", "type": "string"},
        "espera": {"title": "Quantos minutos esperou?", "type": "number"},
    },
}  # fmt: skip
QUESTIONS_CONFIG = parse_config({"survey": {"questions": QUESTIONS}})
ANSWERED = [
    Conv(START, "cac", 1, (10, 0, 10), answers={"clareza": 5, "resolveu": True, "canal": "site",
                                                "sugestao": "Mais horários, CPF 529.982.247-25",
                                                "espera": 2.5, "declined": False}),
    Conv(START, "cac", 2, (9, 0, 10), answers={"clareza": 4, "resolveu": False, "declined": False}),
    Conv(START, "procon", 3, (7, 0, 10), answers={"clareza": 5, "resolveu": True, "espera": 10,
                                                  "sugestao": "Nada", "declined": False}),
    Conv(START, "procon", 4, (8, 0, 10), answers={"clareza": None, "declined": False}),
    Conv(START, "jsm", 5, (None, 0, 10), answers={"declined": True}),
    Conv(START, "jsm", 6, None),
]  # fmt: skip


def test_survey_questions_are_read_from_the_form() -> None:
    found = {q.key: q for q in survey_questions(QUESTIONS)}
    assert found["clareza"] == SurveyQuestion(
        "clareza", "As informações foram claras?", "number", {str(n): str(n) for n in range(1, 6)}
    )
    assert found["resolveu"].kind == "choice"
    assert found["resolveu"].options == {"true": "Sim", "false": "Não"}
    assert found["canal"].options == {"site": "Pelo site", "amigo": "Por um amigo"}
    assert not found["canal"].numeric and found["clareza"].numeric
    assert (found["sugestao"].kind, found["espera"].kind) == ("text", "number")
    assert found["espera"].options == {}  # unbounded: only the answers given are listed
    assert list(found) == list(QUESTIONS["properties"])  # in the order asked
    assert survey_questions(None) == ()


def test_questions_in_the_report(
    fresh_storage: Callable[[], db.Storage], manager: pluggy.PluginManager
):
    storage = fresh_storage()
    seed(storage, ANSWERED)
    scope = ReportScope(by="department")
    report = build_report(storage, scope, manager=manager, config=QUESTIONS_CONFIG)
    total = report.total.questions
    assert total is not None
    assert total["clareza"] == {
        "answered": 3, "mean": 4.67, "counts": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 2}
    }  # fmt: skip
    assert total["resolveu"] == {"answered": 3, "mean": None, "counts": {"true": 2, "false": 1}}
    assert total["canal"] == {"answered": 1, "mean": None, "counts": {"site": 1, "amigo": 0}}
    # Free text: how many answered, never what.
    assert total["sugestao"] == {"answered": 2, "mean": None, "counts": {}}
    assert total["espera"] == {"answered": 2, "mean": 6.25, "counts": {"10": 1, "2.5": 1}}
    groups = {g.key: g.indicators.questions for g in report.groups}
    assert groups["cac"]["clareza"]["counts"]["5"] == 1  # type: ignore[index]
    assert groups["jsm"]["clareza"] == {  # type: ignore[index]
        "answered": 0, "mean": None, "counts": dict.fromkeys("12345", 0)
    }  # fmt: skip
    for key in QUESTIONS["properties"]:
        assert sum(g[key]["answered"] for g in groups.values()) == total[key]["answered"]  # type: ignore[index]
    assert report.labels["questions"] == "Perguntas da pesquisa"
    only_cac = build_report(
        storage, ReportScope(department="cac"), manager=manager, config=QUESTIONS_CONFIG
    )
    assert only_cac.total.questions["clareza"]["answered"] == 2  # type: ignore[index]


def test_questions_without_a_survey_form(
    fresh_storage: Callable[[], db.Storage], manager: pluggy.PluginManager
):
    storage = fresh_storage()
    seed(storage, ANSWERED)
    report = build_report(storage, ReportScope(), manager=manager)
    assert report.total.questions == {} and report.questions == ()
    assert "Survey questions" not in render_table(report)
    assert not [c for c in next(csv.reader(io.StringIO(render_csv(report)))) if "question" in c]


def test_questions_in_every_output(
    fresh_storage: Callable[[], db.Storage], manager: pluggy.PluginManager
):
    from civic.report import build_timeline

    storage = fresh_storage()
    seed(storage, ANSWERED)
    scope = ReportScope(by="department")
    report = build_report(storage, scope, manager=manager, config=QUESTIONS_CONFIG)
    data = json.loads(render_json(report))
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    assert data["questions"]["resolveu"] == {
        "title": "Seu pedido foi resolvido?",
        "kind": "choice",
        "options": {"true": "Sim", "false": "Não"},
    }
    assert data["total"]["questions"]["clareza"]["mean"] == 4.67
    assert data["groups"][0]["indicators"]["questions"]["clareza"]["answered"] == 2
    rows = {row["group"]: row for row in csv.DictReader(io.StringIO(render_csv(report)))}
    assert rows["cac"]["question_clareza_mean"] == "4.5"
    assert rows["procon"]["question_resolveu_true"] == "1"
    assert rows["jsm"]["question_clareza_answered"] == "0"
    assert rows["cac"]["question_sugestao_answered"] == "1"
    table = render_table(report)
    assert "Survey questions (total):" in table
    assert "clareza: As informações foram claras? (3 answers, mean 4.67)" in table
    assert "Sim 2, Não 1" in table
    page = render_html(report, "Extrema", build_timeline(storage, scope))
    assert "<h2>Perguntas da pesquisa</h2>" in page
    assert "<h3>As informações foram claras?</h3>" in page and "3 respostas · média 4,67" in page
    assert "<td>Por um amigo</td><td>0</td>" in page
    assert "Mais horários" not in page and "529.982.247-25" not in page  # free text stays out


def test_export_has_the_answers(fresh_storage: Callable[[], db.Storage]):
    storage = fresh_storage()
    seed(storage, ANSWERED)
    keys = [q.key for q in survey_questions(QUESTIONS)]
    out = io.StringIO()
    export_conversations(storage, out, format="csv", questions=keys)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0])[-5:] == [f"answer_{key}" for key in keys]
    assert rows[0]["answer_clareza"] == "5" and rows[0]["answer_resolveu"] == "true"
    assert rows[0]["answer_espera"] == "2.5" and rows[1]["answer_resolveu"] == "false"
    assert rows[3]["answer_clareza"] == "" and rows[5]["answer_clareza"] == ""
    out = io.StringIO()
    export_conversations(storage, out, format="jsonl", questions=keys)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0]["answers"]["canal"] == "site" and lines[0]["answers"]["resolveu"] is True
    assert lines[4]["answers"] == {}  # declined: no answer (the mark is not an answer)
    assert lines[5]["answers"] is None  # no survey at all


def test_cli_reports_and_exports_the_example_city_s_questions(
    cli: typer.Typer, fresh_storage: Callable[[], db.Storage], tmp_path: Path
):
    storage = fresh_storage()
    seed(storage, ANSWERED)
    example = Path(__file__).parents[1] / "examples" / "civic.toml"
    runner = CliRunner()
    base = ["--database-url", storage.url, "--config", str(example)]
    result = runner.invoke(cli, ["report", *base, "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert list(data["questions"]) == ["clareza", "facilidade", "tempo", "resolveu"]
    assert data["total"]["questions"]["clareza"]["answered"] == 3
    result = runner.invoke(cli, ["export", "conversations", *base])
    assert result.exit_code == 0, result.output
    header = result.output.splitlines()[0].split(",")
    assert header[-4:] == ["answer_clareza", "answer_facilidade", "answer_tempo", "answer_resolveu"]


@settings(max_examples=25)
@given(
    answers=st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "clareza": st.integers(1, 5),
                "resolveu": st.booleans(),
                "canal": st.sampled_from(["site", "amigo"]),
                "espera": st.integers(0, 120)
                | st.floats(0, 120, allow_nan=False).map(lambda x: round(x, 1)),
            },
        ),
        max_size=12,
    )
)
def test_question_figures_match_a_reference(
    fresh_storage: Callable[[], db.Storage],
    manager: pluggy.PluginManager,
    answers: list[dict[str, Any]],
):
    storage = fresh_storage()
    seed(storage, [Conv(START, "cac", n, (9, 0, 10), answers=a) for n, a in enumerate(answers, 1)])
    total = build_report(storage, ReportScope(), manager=manager, config=QUESTIONS_CONFIG).total
    assert total.questions is not None
    for key in ("clareza", "resolveu", "canal", "espera"):
        given_ = [a[key] for a in answers if key in a]
        figures = total.questions[key]
        assert figures["answered"] == len(given_)
        assert sum(figures["counts"].values()) == len(given_)
        for value in set(map(answer_text, given_)):
            assert figures["counts"][value] == [answer_text(v) for v in given_].count(value)
        if key in ("clareza", "espera") and given_:
            mean = Decimal(sum(Decimal(str(v)) for v in given_)) / len(given_)
            assert figures["mean"] == half_up(mean, 2)
