"""Protocols for the team (status changes, history, the citizen told on their own
channel, listing and search), canned responses, ``civic protocols``, and the report's
protocol figures: protocols by status and deadlines met (Lei 13.460/2017 art. 23).

Storage tests run on SQLite, and on PostgreSQL too when ``CIVIC_TEST_DATABASE_URL`` is set.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from civic import canned, cli_admin, protocols, staff
from civic.cli import app
from civic.config import Config, ConfigError, parse_config
from civic.engine import Engine
from civic.plugins import load_plugins
from civic.report import (
    ReportScope,
    build_report,
    build_timeline,
    declared_deadlines,
    latest_comments,
)
from civic.report_render import render_csv, render_html, render_json, render_table
from civic.storage import Storage, utcnow
from civic.values import Department
from tests.chat import MARIA, Chat
from tests.conftest import SECRET

BRAZIL = zoneinfo.ZoneInfo("America/Sao_Paulo")
START = dt.datetime(2026, 3, 2, 13, 0, tzinfo=dt.UTC)  # a Monday, 10:00 in Brasília
SCHEMA = json.loads((Path(__file__).parents[1] / "schemas" / "report.schema.json").read_text())
CAC_REQUEST = ["1", "1", "iluminação", "Poste apagado há uma semana.", "Centro", "1", "1"]
runner = CliRunner()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(storage: Storage, clock: Clock) -> Engine:
    return Engine(storage, secret=SECRET, manager=load_plugins(), clock=clock)


def file_request(engine: Engine, address: str = "5535999990000") -> tuple[Chat, str]:
    """Maria files a street-lighting request with the CAC; returns her chat and protocol."""
    chat = Chat(engine, address)
    answer = chat.script(MARIA, *CAC_REQUEST)
    with engine.storage.reading() as tx:
        (protocol,) = tx.submissions_of(chat.last.conversation_id)
    assert protocol["protocol"] in answer
    return chat, protocol["protocol"]


def pending_texts(engine: Engine, chat: Chat) -> list[tuple[str, str | None, str]]:
    return [(d.author, d.agent, d.reply.text) for d in engine.pending("test", chat.address)]


def add_protocol(
    storage: Storage,
    *,
    address: str,
    department: str = "cac",
    at: dt.datetime = START,
    data: dict[str, Any] | None = None,
    citizen_name: str | None = "Maria José dos Santos",
    protocol: str | None = None,
) -> str:
    """A conversation of ``department`` opened at ``at`` that filed one protocol."""
    with storage.transaction() as tx:
        conversation = tx.create_conversation(
            channel="test", address=address, state="closed", pinned_department=department, now=at
        )
        tx.update_conversation(conversation, closed_at=at)
        number = protocol or f"{department.upper()}-{at.year}-{conversation:06d}"
        tx.add_submission(
            conversation_id=conversation,
            department=department,
            form="solicitacao",
            protocol=number,
            data=data or {"assunto": "Iluminação pública"},
            now=at,
            citizen_name=citizen_name,
        )
    return number


# -- transitions ----------------------------------------------------------------------


def test_allowed_next() -> None:
    assert protocols.allowed_next("received") == ("in_progress", "answered")
    assert protocols.allowed_next("in_progress") == ("answered",)
    assert protocols.allowed_next("answered") == ("closed",)
    assert protocols.allowed_next("closed") == ()
    assert protocols.allowed_next("answered", reopen=True) == ("closed", "in_progress")
    assert protocols.allowed_next("closed", reopen=True) == ("in_progress",)
    assert protocols.allowed_next("received", reopen=True) == ("in_progress", "answered")
    assert protocols.allowed_next("lost") == ()
    assert cli_admin.STATUSES == protocols.STATUSES  # the CLI's copy for its help text


def test_status_changes_tell_the_citizen_and_keep_the_history(
    engine: Engine, storage: Storage, clock: Clock
) -> None:
    chat, number = file_request(engine)
    conversation = chat.last.conversation_id
    clock.now = START + dt.timedelta(hours=1)
    protocols.set_status(engine, number.lower(), "in_progress", agent="Ana")
    assert pending_texts(engine, chat) == []  # no note: nothing to say yet
    clock.now = START + dt.timedelta(days=2)
    protocols.set_status(
        engine,
        number,
        "answered",
        agent="Ana",
        note="O poste foi consertado. Referência: CPF 529.982.247-25.",
        internal_note="Equipe de campo; contato 111.444.777-35",
    )
    clock.now = START + dt.timedelta(days=3)
    protocols.set_status(engine, number, "closed", agent="Bia")
    assert pending_texts(engine, chat) == [
        (
            "agent",
            "Ana",
            f"Seu protocolo {number} foi respondido: O poste foi consertado. "
            "Referência: CPF ***.982.247-**.",
        ),
        ("agent", "Bia", f"Seu protocolo {number} foi encerrado."),
    ]
    assert {d.conversation_id for d in engine.pending("test", chat.address)} == {conversation}
    summary, answers, history = protocols.protocol_detail(engine, number)
    assert summary.status == "closed" and summary.conversation_id == conversation
    assert summary.updated_at == START + dt.timedelta(days=3)
    assert summary.citizen_name == "Maria José dos Santos"
    assert answers["bairro"] == "Centro"
    assert [(e.actor, e.from_status, e.to_status) for e in history] == [
        ("Ana", "received", "in_progress"),
        ("Ana", "in_progress", "answered"),
        ("Bia", "answered", "closed"),
    ]
    assert history[1].at == START + dt.timedelta(days=2)
    assert history[1].note_to_citizen.endswith("CPF ***.982.247-**.")
    assert history[1].internal_note == "Equipe de campo; contato ***.444.777-**"
    assert history[0].note_to_citizen is None and history[2].internal_note is None
    with storage.reading() as tx:
        assert tx.agent("Bia") is not None  # recorded on their first action
        messages = [m for m in tx.messages(conversation) if m["author"] == "agent"]
    assert [m["author_name"] for m in messages] == ["Ana", "Bia"]
    # The citizen who asks sees the new status.
    assert "encerrado" in chat.send(f"qual o status do protocolo {number}?")


def test_a_note_reaches_the_filing_conversation_even_after_it_closed(
    engine: Engine, storage: Storage, clock: Clock
) -> None:
    chat, number = file_request(engine)
    filed_in = chat.last.conversation_id
    chat.script("2", "10", "não")  # no more help; rates; no comment
    assert chat.state == "closed"
    other = Chat(engine, "5535999990099")  # the same citizen, elsewhere
    other.send(MARIA)
    protocols.set_status(engine, number, "in_progress", agent="Ana", note="Equipe a caminho.")
    (delivery,) = engine.pending("test", chat.address)
    assert delivery.conversation_id == filed_in
    assert delivery.reply.text == (
        f"Seu protocolo {number} foi colocado em análise pela equipe: Equipe a caminho."
    )
    assert engine.pending("test", other.address) == []


def test_illegal_moves_are_refused_and_change_nothing(
    engine: Engine, storage: Storage, clock: Clock
) -> None:
    chat, number = file_request(engine)
    with pytest.raises(staff.StaffError, match="cannot go from received to closed"):
        protocols.set_status(engine, number, "closed", agent="Ana", note="pronto")
    with pytest.raises(staff.StaffError, match="already received"):
        protocols.set_status(engine, number, "received", agent="Ana")
    with pytest.raises(staff.StaffError, match="unknown status 'done'"):
        protocols.set_status(engine, number, "done", agent="Ana")
    with pytest.raises(staff.NotFound, match="CAC-1999-000001"):
        protocols.set_status(engine, "cac-1999-000001", "answered", agent="Ana")
    with pytest.raises(staff.StaffError, match="name is empty"):
        protocols.set_status(engine, number, "answered", agent=" ")
    with pytest.raises(staff.StaffError, match="longer than"):
        protocols.set_status(engine, number, "answered", agent="Ana", note="x" * 4001)
    _, _, history = protocols.protocol_detail(engine, number)
    assert history == [] and pending_texts(engine, chat) == []
    protocols.set_status(engine, number, "answered", agent="Ana", note="Feito.")
    with pytest.raises(staff.StaffError, match="needs --reopen"):
        protocols.set_status(engine, number, "in_progress", agent="Ana")
    protocols.set_status(engine, number, "closed", agent="Ana")
    with pytest.raises(staff.StaffError, match=r"allowed: none"):
        protocols.set_status(engine, number, "answered", agent="Ana")
    protocols.set_status(
        engine, number, "in_progress", agent="Bia", note="Vamos verificar de novo.", reopen=True
    )
    assert pending_texts(engine, chat)[-1][2] == (
        f"Seu protocolo {number} foi reaberto e está de novo em análise pela equipe: "
        "Vamos verificar de novo."
    )
    summary, _, history = protocols.protocol_detail(engine, number)
    assert summary.status == "in_progress"
    assert [e.to_status for e in history] == ["answered", "closed", "in_progress"]
    with pytest.raises(staff.NotFound):
        protocols.protocol_detail(engine, "CAC-1999-000001")


def test_a_city_rewords_the_message(storage: Storage, clock: Clock) -> None:
    config = Config(texts={"protocol_status_changed_plain": "{protocol}: {status}!"})
    engine = Engine(storage, secret=SECRET, manager=load_plugins(), clock=clock, config=config)
    chat, number = file_request(engine)
    protocols.set_status(engine, number, "answered", agent="Ana")
    assert pending_texts(engine, chat) == [("agent", "Ana", f"{number}: respondido!")]


# -- listing and search -----------------------------------------------------------------


def test_list_filters_newest_first(engine: Engine, storage: Storage) -> None:
    late_evening = dt.datetime(2026, 3, 3, 2, 30, tzinfo=dt.UTC)  # 02/03 23:30 in Brasília
    first = add_protocol(storage, address="a1", at=START)
    second = add_protocol(storage, address="a2", department="procon", at=late_evening)
    third = add_protocol(storage, address="a3", at=START + dt.timedelta(days=1))
    protocols.set_status(engine, third, "in_progress", agent="Ana")

    def numbers(**filters: Any) -> list[str]:
        return [p.protocol for p in protocols.list_protocols(engine, **filters)]

    assert numbers() == [third, second, first]
    listed = protocols.list_protocols(engine)[1]
    assert (listed.department, listed.form, listed.status) == ("procon", "solicitacao", "received")
    assert listed.created_at == late_evening and listed.citizen_name == "Maria José dos Santos"
    assert numbers(departments=["cac"]) == [third, first]
    assert numbers(departments=[" PROCON "]) == [second]
    assert numbers(departments=[]) == []
    assert numbers(status="in_progress") == [third]
    day = dt.date(2026, 3, 2)  # the city's day: the 23:30 protocol is of the 2nd
    assert numbers(since=day, until=day) == [second, first]
    assert numbers(since=dt.date(2026, 3, 3)) == [third]
    assert numbers(until=dt.date(2026, 3, 1)) == []
    assert numbers(limit=1) == [third]
    with pytest.raises(staff.StaffError, match="unknown status"):
        protocols.list_protocols(engine, status="done")
    with pytest.raises(staff.StaffError, match="after"):
        protocols.list_protocols(engine, since=day, until=day - dt.timedelta(days=1))


def test_text_search_ignores_case_and_accents(engine: Engine, storage: Storage) -> None:
    lighting = add_protocol(
        storage,
        address="b1",
        data={"assunto": "Iluminação pública", "descricao": "Poste apagado na Rua São João"},
        citizen_name="Maria José dos Santos",
    )
    discount = add_protocol(
        storage,
        address="b2",
        department="procon",
        data={"descricao": "Desconto de 50% não dado", "loja": "loja_exemplo"},
        citizen_name="JOÃO DA SILVA",
    )
    nameless = add_protocol(storage, address="b3", data={"x": "buraco"}, citizen_name=None)

    def found(text: str) -> set[str]:
        return {p.protocol for p in protocols.list_protocols(engine, text=text)}

    assert found("ILUMINACAO") == {lighting}
    assert found("sao joão") == {lighting}
    assert found("josé") == {lighting}
    assert found("joao") == {lighting, discount}  # his name, her street
    assert found(discount.lower()) == {discount}
    assert found("  50%  ") == {discount}
    assert found("%") == {discount}  # a literal percent sign, not a wildcard
    assert found("sao_joao") == set() and found("loja_") == {discount}  # a literal _
    assert found("buraco") == {nameless}
    assert found("nada disso") == set()
    assert found("   ") == {lighting, discount, nameless}


# -- canned responses -------------------------------------------------------------------


def test_canned_responses(engine: Engine, storage: Storage, clock: Clock) -> None:
    hours = canned.save_canned(
        engine, department="cac", title="  Horário ", text="Das 8h às 17h.", agent="Ana"
    )
    address = canned.save_canned(
        engine, department="CAC", title="Endereço", text="Rua Um, 10.", agent="Ana"
    )
    canned.save_canned(engine, department="procon", title="Prazo", text="30 dias.", agent="Bia")
    assert [c.title for c in canned.list_canned(engine, "cac")] == ["Endereço", "Horário"]
    clock.now = START + dt.timedelta(hours=1)
    assert (
        canned.save_canned(
            engine, department="cac", title="Horário", text="Das 8h às 16h.", agent="Bia",
            id=hours,
        )
        == hours
    )  # fmt: skip
    changed = next(c for c in canned.list_canned(engine, "cac") if c.id == hours)
    assert (changed.text, changed.updated_by, changed.updated_at) == (
        "Das 8h às 16h.",
        "Bia",
        START + dt.timedelta(hours=1),
    )
    canned.delete_canned(engine, address, "Carla")
    assert [c.id for c in canned.list_canned(engine, "cac")] == [hours]
    with storage.reading() as tx:
        (audit,) = tx.audits()
    assert (audit["actor"], audit["action"], audit["target"]) == (
        "Carla",
        "delete_canned",
        f"canned:{address}",
    )
    with pytest.raises(staff.NotFound):
        canned.delete_canned(engine, address, "Carla")
    with pytest.raises(staff.NotFound):
        canned.save_canned(engine, department="cac", title="T", text="x", agent="Ana", id=999)
    with pytest.raises(staff.StaffError, match="unknown department"):
        canned.list_canned(engine, "nowhere")
    with pytest.raises(staff.StaffError, match="title is empty"):
        canned.save_canned(engine, department="cac", title=" ", text="x", agent="Ana")
    with pytest.raises(staff.StaffError, match="text is empty"):
        canned.save_canned(engine, department="cac", title="T", text="\n", agent="Ana")
    with pytest.raises(staff.StaffError, match="title is longer"):
        canned.save_canned(engine, department="cac", title="T" * 121, text="x", agent="Ana")


# -- civic protocols ----------------------------------------------------------------------


def test_cli_list_show_and_set_status(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"

    def civic(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*args, "--database-url", url])
        assert result.exit_code == code, result.output
        return result.stdout if code == 0 else result.stderr

    runner.invoke(app, ["run", "--database-url", url], input="\n".join([MARIA, *CAC_REQUEST]))
    number = f"CAC-{utcnow().astimezone(BRAZIL).year}-000001"  # the city's year
    (listed,) = json.loads(civic("protocols", "list", "--format", "json"))
    assert listed["protocol"] == number and listed["status"] == "received"
    assert listed["citizen_name"] == "Maria José dos Santos"
    assert number in civic("protocols", "list", "--text", "ILUMINACAO", "-d", "cac")
    assert civic("protocols", "list", "--department", "procon") == "No protocols.\n"
    assert civic("protocols", "list", "--status", "answered") == "No protocols.\n"
    today = utcnow().astimezone(BRAZIL)
    assert number in civic("protocols", "list", "--since", today.strftime("%d/%m/%Y"))
    assert "unknown status" in civic("protocols", "list", "--status", "done", code=2)
    assert "is not a date" in civic("protocols", "list", "--until", "31/02/2026", code=1)
    assert civic("protocols", "set-status", number.lower(), "in_progress") == (
        f"{number}: in_progress\n"
    )
    civic(
        "protocols", "set-status", number, "answered", "--agent", "Ana",
        "--note", "Poste consertado.", "--internal-note", "OS 123",
    )  # fmt: skip
    refused = civic("protocols", "set-status", number, "in_progress", code=1)
    assert "needs --reopen" in refused
    civic("protocols", "set-status", number, "in_progress", "--reopen", "--agent", "Bia")
    shown = json.loads(civic("protocols", "show", number))
    assert shown["status"] == "in_progress" and shown["data"]["bairro"] == "Centro"
    assert [(h["actor"], h["from_status"], h["to_status"]) for h in shown["history"]] == [
        ("operator", "received", "in_progress"),
        ("Ana", "in_progress", "answered"),
        ("Bia", "answered", "in_progress"),
    ]
    assert shown["history"][1]["note_to_citizen"] == "Poste consertado."
    assert shown["history"][1]["internal_note"] == "OS 123"
    missing = civic("protocols", "set-status", "CAC-1999-000001", "answered", code=1)
    assert "no protocol" in missing


# -- reports: protocols by status and deadlines met ---------------------------------------


def deadline_seed(engine: Engine, storage: Storage, clock: Clock) -> None:
    """Seven protocols filed in March 2026 (times in UTC; Brasília is UTC−3):

    - A, filed 02/03, answered 01/04 23:59 in Brasília (02/04 in UTC): the last day, met;
    - B, filed 02/03, answered 02/04 00:00 in Brasília: one day late;
    - C, filed 02/03, in analysis, never answered: over on 02/04, missed;
    - D, filed 20/03, unanswered, within its deadline on 02/04: not counted yet;
    - E, filed 02/03, answered on the 5th day, reopened, answered again late: met;
    - F, PROCON (no deadline declared), answered: not counted;
    - G, filed 02/03, answered the same day, then closed: met.
    """
    filed = {
        "A": ("cac", START), "B": ("cac", START), "C": ("cac", START),
        "D": ("cac", dt.datetime(2026, 3, 20, 13, tzinfo=dt.UTC)), "E": ("cac", START),
        "F": ("procon", START), "G": ("cac", START),
    }  # fmt: skip
    number = {
        key: add_protocol(storage, address=key, department=dept, at=at, protocol=f"X-{key}")
        for key, (dept, at) in filed.items()
    }

    def change(key: str, at: dt.datetime, status: str, reopen: bool = False) -> None:
        clock.now = at
        protocols.set_status(engine, number[key], status, agent="Ana", reopen=reopen)

    change("A", dt.datetime(2026, 4, 2, 2, 59, tzinfo=dt.UTC), "answered")
    change("B", dt.datetime(2026, 4, 2, 3, 0, tzinfo=dt.UTC), "answered")
    change("C", START + dt.timedelta(days=1), "in_progress")
    change("E", START + dt.timedelta(days=5), "answered")
    change("E", START + dt.timedelta(days=6), "in_progress", reopen=True)
    change("E", START + dt.timedelta(days=40), "answered")
    change("F", START + dt.timedelta(days=90), "answered")
    change("G", START + dt.timedelta(hours=2), "answered")
    change("G", START + dt.timedelta(hours=3), "closed")


REPORT_DAY = dt.datetime(2026, 4, 2, 15, 0, tzinfo=dt.UTC)  # 02/04 12:00 in Brasília
CITY = parse_config({"departments": {"cac": {"deadline_days": 30}}})


def test_deadline_day_counts_as_within(engine: Engine, storage: Storage, clock: Clock) -> None:
    """Lei 13.460/2017 art. 23 asks public services to publish their compliance with
    deadlines (art. 16 gives an ombudsman 30 days to answer). The deadline runs in the
    city's days and its last day counts as within, as Lei 9.784/1999 art. 66 counts
    (the first day excluded, the last included): a protocol filed on 02/03 with 30 days
    is on time when first answered on 01/04, Brasília time, and late on 02/04."""
    deadline_seed(engine, storage, clock)
    scope = ReportScope(by="department", timezone="America/Sao_Paulo")
    report = build_report(storage, scope, manager=load_plugins(), now=REPORT_DAY, config=CITY)
    total = report.total
    assert (total.deadline_due, total.deadline_met, total.deadline_met_percent) == (5, 3, 60.0)
    groups = {g.key: g.indicators for g in report.groups}
    assert (groups["cac"].deadline_due, groups["cac"].deadline_met) == (5, 3)
    assert (groups["procon"].deadline_due, groups["procon"].deadline_met) == (0, 0)
    assert groups["procon"].deadline_met_percent is None
    assert total.protocols == {"received": 1, "in_progress": 1, "answered": 4, "closed": 1}
    assert groups["cac"].protocols == {
        "received": 1, "in_progress": 1, "answered": 3, "closed": 1,
    }  # fmt: skip
    assert groups["procon"].protocols == {
        "received": 0, "in_progress": 0, "answered": 1, "closed": 0,
    }  # fmt: skip
    # A day earlier C's deadline is not over yet, so it is not counted; in UTC's days
    # A was answered on 02/04, one day late.
    earlier = REPORT_DAY - dt.timedelta(days=1)
    before = build_report(storage, scope, manager=load_plugins(), now=earlier, config=CITY)
    assert (before.total.deadline_due, before.total.deadline_met) == (4, 3)
    in_utc = build_report(
        storage, ReportScope(), manager=load_plugins(), now=REPORT_DAY, config=CITY
    )
    assert (in_utc.total.deadline_due, in_utc.total.deadline_met) == (5, 2)
    # Without a declared deadline nothing is due.
    undeclared = build_report(storage, scope, manager=load_plugins(), now=REPORT_DAY)
    assert (undeclared.total.deadline_due, undeclared.total.deadline_met) == (0, 0)
    assert undeclared.total.deadline_met_percent is None


def test_deadlines_declared_by_departments_and_the_city() -> None:
    departments = [
        Department(slug="ouvidoria", name="Ouvidoria", deadline_days=30),
        Department(slug="cac", name="CAC", deadline_days=10),
        Department(slug="jsm", name="Junta"),
    ]
    assert declared_deadlines(departments, Config()) == {"ouvidoria": 30, "cac": 10}
    city = parse_config({"departments": {"cac": {"deadline_days": 15}, "jsm": {"x": 1}}})
    assert declared_deadlines(departments, city) == {"ouvidoria": 30, "cac": 15}
    for wrong in ("30", 0, 3651, True, 1.5):
        city = parse_config({"departments": {"cac": {"deadline_days": wrong}}})
        with pytest.raises(ConfigError, match=r"departments\.cac\.deadline_days"):
            declared_deadlines(departments, city)


def test_report_outputs_carry_the_protocol_figures(
    engine: Engine, storage: Storage, clock: Clock
) -> None:
    deadline_seed(engine, storage, clock)
    scope = ReportScope(by="department", timezone="America/Sao_Paulo")
    report = build_report(storage, scope, manager=load_plugins(), now=REPORT_DAY, config=CITY)
    data = json.loads(render_json(report))
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    assert data["total"]["protocols"]["answered"] == 4
    assert data["total"]["deadline_met_percent"] == 60.0
    assert data["departments"]["cac"] == {"name": "CAC", "deadline_days": 30}
    assert data["departments"]["jsm"] == {"name": "Junta de Serviço Militar", "deadline_days": None}
    assert data["indicators"]["deadline_met"]["label"] == "Respondidos no prazo"
    header = render_csv(report).splitlines()[0]
    assert {"protocols_received", "protocols_closed", "deadline_met"} <= set(header.split(","))
    assert "Answered within the deadline: 3 of 5 (60.0%)" in render_table(report)


def test_html_shows_department_names_protocols_and_masked_comments(
    engine: Engine, storage: Storage, clock: Clock
) -> None:
    deadline_seed(engine, storage, clock)
    add_protocol(storage, address="j1", department="jsm", protocol="JSM-2026-000001")
    with storage.transaction() as tx:
        conversations = {row["address"]: row["id"] for row in tx.conversations()}
        for address, comment, day in [
            ("A", "Ótimo! Meu CPF é 529.982.247-25, liguem (35) 99999-1234.", 3),
            ("j1", "<script>alert(1)</script> demorou", 4),
        ]:
            tx.add_rating(
                conversation_id=conversations[address],
                department=None,
                score=9,
                scale_min=0,
                scale_max=10,
                comment=comment,
                answers={},
                now=START + dt.timedelta(days=day),
            )
    scope = ReportScope(by="department", timezone="America/Sao_Paulo")
    report = build_report(storage, scope, manager=load_plugins(), now=REPORT_DAY, config=CITY)
    comments = latest_comments(storage, scope)
    assert [c.department for c in comments] == ["jsm", "cac"]  # newest first
    assert comments[1].text == "Ótimo! Meu CPF é ***.982.247-**, liguem (**) *****-1234."
    page = render_html(report, "Extrema", build_timeline(storage, scope), comments=comments)
    assert "<td>Junta de Serviço Militar</td>" in page and "<td>jsm</td>" not in page
    assert "<td>PROCON</td>" in page and "<td>procon</td>" not in page
    assert "<h2>Protocolos e prazos de resposta</h2>" in page
    assert "<td>3 de 5</td>" in page and "<td>60,0</td>" in page
    assert "Prazos declarados: CAC: 30 dias." in page
    assert "Lei 13.460/2017, art. 23" in page
    assert "529.982.247" not in page and "99999-1234" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; demorou" in page and "<script" not in page
    assert "05/03/2026 · CAC" in page
    assert "06/03/2026 · Junta de Serviço Militar" in page
    one = ReportScope(department="jsm", timezone="America/Sao_Paulo")
    only_jsm = build_report(storage, one, manager=load_plugins(), now=REPORT_DAY, config=CITY)
    page = render_html(only_jsm, "Extrema", build_timeline(storage, one), comments=[])
    assert "· Junta de Serviço Militar</p>" in page
    assert "Nenhum comentário no período." in page
    assert "Nenhum departamento declarou prazo" in page  # the JSM declares none
    no_comments = render_html(only_jsm, "Extrema", build_timeline(storage, one))
    assert "O que disseram os cidadãos" not in no_comments


def test_cli_report_reads_the_citys_deadlines(
    engine: Engine, storage: Storage, clock: Clock, tmp_path: Path
) -> None:
    deadline_seed(engine, storage, clock)
    config = tmp_path / "civic.toml"
    config.write_text("[departments.cac]\ndeadline_days = 30\n", encoding="utf-8")
    base = ["report", "--database-url", storage.url, "--config", str(config)]
    result = runner.invoke(app, [*base, "--format", "json", "--by", "department"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["departments"]["cac"]["deadline_days"] == 30
    assert data["total"]["deadline_due"] >= 4  # C is due or not depending on today
    page = runner.invoke(app, [*base, "--format", "html"])
    assert "Prazos declarados: CAC: 30 dias." in page.stdout
    assert "O que disseram os cidadãos" in page.stdout
    config.write_text('[departments.cac]\ndeadline_days = "trinta"\n', encoding="utf-8")
    wrong = runner.invoke(app, base)
    assert wrong.exit_code == 1
    assert "departments.cac.deadline_days: 'trinta' is not a whole number" in wrong.stderr
