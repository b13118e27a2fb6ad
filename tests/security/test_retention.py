"""Retention (LGPD art. 16): the periods of ``civic.toml``, ``civic privacy purge`` and
the daily purge of ``civic serve``.

A purge anonymises what is older than its period in closed conversations only, per
department, says what it did, does nothing the second time, and leaves the report's
counts and mean as they were.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from civic import instance, report, retention, serve
from civic.channels import Host
from civic.cli import app
from civic.config import ConfigError, RetentionPeriods, parse_config
from civic.engine import Engine
from civic.plugins import load_plugins
from civic.storage import Storage, citizen_t
from tests.chat import Chat
from tests.test_webchat import CAC_REQUEST

runner = CliRunner()
T0 = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)
RETENTION = {
    "retention": {"messages_days": 30, "submissions_days": 90, "ratings_days": 60},
    "departments": {"procon": {"retention": {"messages_days": 365, "ratings_days": 365}}},
}
MARIA = "Maria José dos Santos 529.982.247-25"
JOAO = "João Pereira Lima 111.444.777-35"
ANA = "Ana Souza Prado 390.533.447-05"


# -- the configuration ------------------------------------------------------------------


def test_a_department_overrides_the_citys_periods() -> None:
    config = parse_config(RETENTION).retention
    assert config.periods("cac") == RetentionPeriods(messages=30, submissions=90, ratings=60)
    assert config.periods("procon") == RetentionPeriods(messages=365, submissions=90, ratings=365)
    assert config.periods(None) == config.city and config.daily and config.configured
    assert not parse_config({}).retention.configured


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ({"retention": {"messages_days": 0}}, "retention.messages_days"),
        ({"retention": {"messages_days": "30"}}, "retention.messages_days"),
        ({"retention": {"message_days": 30}}, "message_days"),
        ({"retention": {"daily": "yes"}}, "retention.daily"),
        ({"departments": {"cac": {"retention": {"ratings_days": -1}}}}, "cac.retention"),
        ({"departments": {"cac": {"retention": {"forever": True}}}}, "cac.retention"),
    ],
)
def test_wrong_periods_are_refused(raw: dict[str, Any], said: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(raw)
    assert said in str(raised.value)


def test_config_check_names_an_override_for_a_department_not_enabled(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        "[retention]\nmessages_days = 30\n[departments.procon.retention]\nratings_days = 365\n",
        encoding="utf-8",
    )
    assert runner.invoke(app, ["config", "check", str(good)]).exit_code == 0
    typo = tmp_path / "typo.toml"
    typo.write_text('enabled = ["cac"]\n[departments.procom.retention]\nmessages_days = 5\n')
    result = runner.invoke(app, ["config", "check", str(typo)])
    assert result.exit_code == 1
    assert "departments.procom.retention: department 'procom' is not enabled" in result.output


# -- purging ---------------------------------------------------------------------------


class Clock:
    """The engine's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


def story(engine: Engine) -> dict[str, Any]:
    """At T0: Maria files a CAC request and comments; João rates PROCON with a comment;
    Ana waits for a person at the CAC (still open)."""
    maria = Chat(engine, "5535999990001")
    maria.script("oi", MARIA, "1")
    for answer, _question in CAC_REQUEST:
        maria.send(answer)
    protocol = re.search(r"CAC-\d{4}-\d{6}", maria.send("confirmar"))
    assert protocol is not None
    maria.script("não", "9", "sim", "Gostei muito")
    joao = Chat(engine, "5535999990002")
    joao.script("oi", JOAO, "2", "encerrar", "7", "sim", "Demorou um pouco")
    ana = Chat(engine, "5535999990003")
    ana.script("oi", ANA, "1", "quero falar com um atendente")
    assert (maria.state, joao.state, ana.state) == ("closed", "closed", "waiting_human")
    return {
        "protocol": protocol.group(0),
        "maria": maria.conversations[-1],
        "joao": joao.conversations[-1],
        "ana": ana.conversations[-1],
    }


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(storage: Storage, clock: Clock) -> Engine:
    return Engine(
        storage,
        secret=b"test-secret",
        manager=load_plugins(),
        config=parse_config(RETENTION),
        clock=clock,
    )


def counts(lines: list[retention.Purged]) -> dict[tuple[str, str], int]:
    return {(line.department, line.kind): line.count for line in lines if line.count}


def figures(engine: Engine) -> Any:
    """The report's figures (counts, mean, NPS...), in total and per department."""
    built = report.build_report(
        engine.storage, report.ReportScope(by="department"), now=T0, config=engine.config
    )
    return built.total, built.groups


def texts_of(engine: Engine, conversation: int) -> list[str]:
    with engine.storage.reading() as tx:
        return [m["text"] for m in tx.messages(conversation)]


def test_each_kind_goes_when_its_period_ends(engine: Engine, clock: Clock) -> None:
    ids = story(engine)
    clock.now = T0 + dt.timedelta(days=10)
    assert counts(retention.purge(engine)) == {}
    clock.now = T0 + dt.timedelta(days=45)  # past the CAC's 30 days of messages
    assert counts(retention.purge(engine, dry_run=True)) == {("cac", "messages"): 1}
    assert any("Poste apagado" in text for text in texts_of(engine, ids["maria"]))
    assert counts(retention.purge(engine)) == {("cac", "messages"): 1}
    assert set(texts_of(engine, ids["maria"])) == {retention.PLACEHOLDER}
    assert "Ana Souza Prado" in " ".join(texts_of(engine, ids["ana"]))  # open: untouched
    assert "João Pereira Lima" in " ".join(texts_of(engine, ids["joao"]))  # PROCON: 365 days
    with engine.storage.reading() as tx:
        conversation = tx.conversation(ids["maria"])
        assert conversation is not None and "5535999990001" not in conversation["address"]
        assert json.loads(tx.submission(ids["protocol"])["data"])["bairro"] == "Centro"
    clock.now = T0 + dt.timedelta(days=100)  # past 60 days of ratings, 90 of protocols
    assert counts(retention.purge(engine)) == {("cac", "submissions"): 1, ("cac", "ratings"): 1}
    with engine.storage.reading() as tx:
        kept = tx.submission(ids["protocol"])
        comments = {r["conversation_id"]: r["comment"] for r in tx.ratings()}
    assert kept["data"] == "{}" and kept["status"] == "received"  # the record stays
    assert comments == {ids["maria"]: None, ids["joao"]: "Demorou um pouco"}  # PROCON: 365
    assert counts(retention.purge(engine)) == {}  # nothing twice


def test_citizens_go_after_the_longest_period(engine: Engine, clock: Clock) -> None:
    story(engine)
    clock.now = T0 + dt.timedelta(days=400)
    done = counts(retention.purge(engine))
    assert done[("(all)", "citizens")] == 2  # Ana still waits: her row stays
    assert done[("procon", "messages")] == 1
    with engine.storage.reading() as tx:
        names = set(tx.conn.execute(sa.select(citizen_t.c.name)).scalars())
    assert names == {retention.PLACEHOLDER, "Ana Souza Prado"}


def test_a_purge_keeps_the_reports_counts_and_mean(engine: Engine, clock: Clock) -> None:
    story(engine)
    before = figures(engine)
    clock.now = T0 + dt.timedelta(days=400)
    assert counts(retention.purge(engine))  # something was purged
    assert figures(engine) == before


# -- the command and the service ---------------------------------------------------------


def test_privacy_purge_by_command(tmp_path: Path) -> None:
    path = tmp_path / "civic.db"
    storage = Storage(f"sqlite:///{path}")
    storage.migrate()
    secret = instance.load_secret()
    instance.verify_secret(storage, secret)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    old = Engine(storage, secret=secret, manager=load_plugins(), clock=lambda: long_ago)
    Chat(old, "5535999990001").script("oi", MARIA, "encerrar", "9", "não")
    storage.close()
    config = tmp_path / "civic.toml"
    url = f"sqlite:///{path}"
    nothing = runner.invoke(app, ["privacy", "purge", "--database-url", url])
    assert nothing.exit_code == 0 and "No retention period" in nothing.output
    config.write_text("[retention]\nmessages_days = 30\n", encoding="utf-8")
    args = ["privacy", "purge", "--config", str(config), "--database-url", url]
    dry = runner.invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert re.search(r"\(none\)\s+messages\s+30\s+1", dry.output)
    assert "would be anonymised" in dry.output
    done = runner.invoke(app, args)
    assert re.search(r"\(none\)\s+messages\s+30\s+1", done.output)
    assert re.search(r"\(all\)\s+citizens\s+30\s+1", done.output)
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "0 item(s) anonymised" in again.output


def test_serve_purges_daily_and_stops(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[dt.datetime] = []
    stop = asyncio.Event()

    def purge(engine: Engine, *, dry_run: bool = False) -> list[retention.Purged]:
        runs.append(engine.clock())
        if len(runs) == 2:
            stop.set()
        return [retention.Purged("cac", "messages", 30, 1)]

    monkeypatch.setattr(retention, "purge", purge)
    host = Host(engine=engine, config=engine.config)
    loop = serve.retention_loop(
        host, stop, first=dt.timedelta(0), every=dt.timedelta(milliseconds=1)
    )
    asyncio.run(asyncio.wait_for(loop, timeout=30))
    assert len(runs) == 2


@pytest.mark.parametrize(
    ("daily", "periods", "runs"), [(True, 30, 1), (False, 30, 0), (True, None, 0)]
)
def test_serve_starts_the_daily_purge_only_when_asked(
    storage: Storage,
    monkeypatch: pytest.MonkeyPatch,
    daily: bool,
    periods: int | None,
    runs: int,
) -> None:
    """``civic serve`` runs the purge loop when a period is set, unless ``daily = false``."""
    import warnings

    from civic.config import Config, RetentionConfig
    from tests.test_webchat import make_app

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient

    started: list[Host] = []

    async def loop(host: Host, stop: asyncio.Event) -> None:
        started.append(host)
        await stop.wait()

    monkeypatch.setattr(serve, "retention_loop", loop)
    config = Config(retention=RetentionConfig(city=RetentionPeriods(messages=periods), daily=daily))
    engine = Engine(storage, secret=b"test-secret", manager=load_plugins(), config=config)
    with TestClient(make_app(Host(engine=engine, config=config))) as client:
        assert client.get("/healthz").status_code == 200
    assert len(started) == runs
