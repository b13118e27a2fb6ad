"""JSM: enlistment triage through the chat, the appointment form, and the enlistment rule."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import RowMapping
from sqlmodel import SQLModel

import civic.engine
import civic_jsm
from civic.config import Config, DepartmentConfig, load_config
from civic.engine import Engine
from civic.formats import FORMATS
from civic.forms import form_errors
from civic.states import State
from civic.storage import Storage
from civic.text import fold
from civic_jsm.enlistment import (
    FutureBirthDate,
    Status,
    enlistment_status,
    women_plan_allows,
    women_window,
)
from tests.chat import MARIA, Chat
from tests.conftest import SECRET

TODAY = dt.date(2026, 3, 10)
#: The engine's clock (UTC): it dates the protocol numbers.
NOW = dt.datetime(2026, 3, 10, 14, 30, tzinfo=dt.UTC)
SetToday = Callable[[dt.date], None]


@pytest.fixture
def set_today(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> SetToday:
    """Move the engines' clock (the time messages arrive); today is :data:`TODAY` until a
    test changes it. Engines built later in the test get the same clock."""

    def set_to(day: dt.date) -> None:
        moment = dt.datetime.combine(day, dt.time(14, 30), tzinfo=dt.UTC)
        engine.clock = lambda: moment
        monkeypatch.setattr(civic.engine, "utcnow", lambda: moment)

    set_to(TODAY)
    return set_to


@pytest.fixture
def jsm(engine: Engine, set_today: SetToday) -> Chat:
    """Maria, identified, inside the JSM (item 3 of the main menu)."""
    engine.clock = lambda: NOW
    chat = Chat(engine)
    answer = chat.script(MARIA, "3")
    assert chat.state == State.DEPARTMENT and chat.last.department == "jsm"
    assert "Junta de Serviço Militar (JSM)" in answer
    return chat


# -- the department menu ------------------------------------------------------------


def test_menu_item_3_lists_the_jsm_topics(jsm: Chat) -> None:
    answer = jsm.send("menu")
    assert "3. Junta de Serviço Militar" in answer
    answer = jsm.send("3")
    for number, title in enumerate(
        [
            "Verificar minha situação (alistamento)",
            "Como fazer o alistamento",
            "Agendar atendimento ou pedir 2ª via de certificado",
            "Certificado de dispensa (CDI)",
            "Juramento à Bandeira",
            "Reservistas",
            "Alistamento feminino (voluntário)",
            "Perdi meu certificado militar",
            "Certificado de Isenção (CI)",
            "Em dívida com o serviço militar: o que não posso fazer",
            "Falar com um atendente",
        ],
        start=1,
    ):
        assert f"{number}. {title}" in answer


def test_how_to_enlist_points_to_the_site_and_documents(jsm: Chat) -> None:
    answer = jsm.send("2")
    assert "alistamento.eb.mil.br" in answer and "comprovante de residência" in answer
    assert jsm.state == State.OFFERING


def test_attendant_topic_hands_over(jsm: Chat) -> None:
    jsm.send("11")
    assert jsm.state == State.HUMAN


# -- triage -------------------------------------------------------------------------


def test_status_topic_asks_for_the_birth_date_and_waits(jsm: Chat) -> None:
    answer = jsm.send("1")
    assert "Digite sua data de nascimento (dd/mm/aaaa)" in answer
    assert jsm.state == State.DEPARTMENT  # waiting for the date, not offering help
    answer = jsm.send("15/03/2008")
    assert "Você está no período de alistamento" in answer
    assert jsm.state == State.OFFERING


@pytest.mark.parametrize(
    ("today", "message", "expected"),
    [
        pytest.param(
            TODAY,
            "15/03/2008",
            ["período de alistamento", "01/01/2026 a 30/06/2026", "alistamento.eb.mil.br",
             "identidade", "CPF", "comprovante de residência"],
            id="on-time",
        ),
        pytest.param(dt.date(2026, 1, 1), "31/12/2008", ["período de alistamento"], id="first-day"),
        pytest.param(dt.date(2026, 6, 30), "1/1/2008", ["até 30/06/2026"], id="last-day"),
        pytest.param(
            dt.date(2026, 7, 1),
            "01/01/2008",
            ["terminou em 30/06/2026", "multa", "valor é informado pela Junta", "regularizar"],
            id="late-next-day",
        ),
        pytest.param(
            TODAY, "20.08.2004", ["terminou em 30/06/2022", "multa"], id="late-dots"
        ),
        pytest.param(
            dt.date(2025, 12, 31),
            "15/03/2008",
            ["Ainda não é hora", "01/01/2026 a 30/06/2026", "A partir de 01/01/2026"],
            id="not-yet-new-years-eve",
        ),
        pytest.param(TODAY, "2009-01-01", ["Ainda não é hora", "01/01/2027"], id="not-yet-iso"),
        pytest.param(TODAY, "29/02/2008", ["01/01/2026 a 30/06/2026"], id="leap-day"),
        pytest.param(TODAY, "05/05/1981", ["terminou em 30/06/1999", "multa"], id="turning-45"),
        pytest.param(
            TODAY, "05/05/1980", ["não é mais obrigado", "31/12/2025"], id="over-45"
        ),
        pytest.param(
            TODAY,
            "boa tarde, nasci em 5/3/2008, tenho que me alistar?",
            ["período de alistamento"],
            id="in-a-sentence",
        ),
    ],
)  # fmt: skip
def test_triage_by_birth_date(
    jsm: Chat, set_today: SetToday, today: dt.date, message: str, expected: list[str]
) -> None:
    set_today(today)
    answer = jsm.send(message)
    for fragment in expected:
        assert fragment in answer
    assert "Posso ajudar em algo mais?" in answer
    assert jsm.state == State.OFFERING


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("31/02/2008", "A data 31/02/2008 não existe"),
        ("29/02/2007", "A data 29/02/2007 não existe"),
        ("10/10/2030", "ainda não chegou"),
        ("11/03/2026", "ainda não chegou"),  # tomorrow
        ("ontem", "dd/mm/aaaa"),
        ("nasci em março", "dia, mês e ano"),
        ("15/03/208", "ano com 4 dígitos"),
        ("15/3/8", "ano com 4 dígitos"),
        ("2008", "dia, mês e ano"),
        ("15032008", "dd/mm/aaaa"),
        ("2008-3-15", "dd/mm/aaaa"),
    ],
)
def test_unusable_dates_are_refused_and_asked_again(jsm: Chat, message: str, expected: str) -> None:
    jsm.send("1")
    answer = jsm.send(message)
    assert expected in answer
    assert "Posso ajudar" not in answer
    assert jsm.state == State.DEPARTMENT
    assert "período de alistamento" in jsm.send("15/03/2008")


def test_born_today_is_not_yet_due(jsm: Chat) -> None:
    assert "01/01/2044" in jsm.send(TODAY.strftime("%d/%m/%Y"))


def test_a_date_typed_while_offering_help_is_triaged(jsm: Chat) -> None:
    jsm.send("2")
    assert jsm.state == State.OFFERING
    assert "período de alistamento" in jsm.send("15/03/2008")


def test_a_sentence_from_the_main_menu_goes_straight_to_triage(
    engine: Engine, set_today: SetToday
) -> None:
    chat = Chat(engine)
    chat.send(MARIA)
    answer = chat.send("quero saber do alistamento, nasci em 15/03/2008")
    assert chat.last.department == "jsm"
    assert "período de alistamento" in answer


def test_other_departments_are_left_alone(engine: Engine, set_today: SetToday) -> None:
    chat = Chat(engine)
    chat.script(MARIA, "2")  # PROCON
    answer = chat.send("15/03/2008")
    assert chat.last.department == "procon"
    assert "alistamento" not in answer


def test_the_birth_date_is_kept_only_in_the_message_log(jsm: Chat, storage: Storage) -> None:
    answer = jsm.send("15/03/2008")
    assert "15/03/2008" not in answer and "2008" not in answer
    found = []
    with storage.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                if any("15/03/2008" in str(v) or "2008-03-15" in str(v) for v in row):
                    found.append((table.name, row))
    assert [(name, row.direction) for name, row in found] == [("message", "in")]


def test_fine_and_contacts_come_from_the_configuration(
    storage: Storage, set_today: SetToday
) -> None:
    config = Config(
        department_settings={
            "jsm": DepartmentConfig(
                contacts={"telefone": "(35) 3435-0000", "endereço": "Rua Principal, 100"},
                settings={"late_fine": "R$ 5,37"},
            )
        }
    )
    chat = Chat(Engine(storage, secret=SECRET, config=config))
    answer = chat.script(MARIA, "3", "20/08/2004")
    assert "multa de R$ 5,37" in answer
    assert "Contatos da Junta de Serviço Militar:" in answer
    assert "Telefone: (35) 3435-0000" in answer and "Endereço: Rua Principal, 100" in answer
    assert "Telefone: (35) 3435-0000" in chat.script("menu", "3", "15/03/2008")


def test_late_fine_is_accepted_by_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "civic.toml"
    path.write_text(
        '[departments.jsm]\nlate_fine = "R$ 5,37"\ncontacts = { telefone = "(35) 3435-0000" }\n',
        encoding="utf-8",
    )
    settings = load_config(path).for_department("jsm")
    assert settings.settings["late_fine"] == "R$ 5,37"
    assert settings.contacts == {"telefone": "(35) 3435-0000"}


# -- the appointment form -----------------------------------------------------------


def test_the_form_is_a_valid_civic_form() -> None:
    schema = civic_jsm.DEPARTMENT.forms["atendimento"]
    assert form_errors(schema) == []
    assert form_errors(schema, formats=FORMATS) == []
    assert set(schema["properties"]) == {"motivo", "descricao", "periodo"}


def test_form_refuses_wrong_answers_then_submits(jsm: Chat, storage: Storage) -> None:
    answer = jsm.send("3")
    assert jsm.state == State.FORM and "Qual é o motivo do atendimento?" in answer
    assert "7. Outro" in answer
    assert "de 1 a 7" in jsm.send("9")
    assert "obrigatória" in jsm.send("pular")
    assert "Do que você precisa?" in jsm.send("OUTRO")  # by label, any case
    assert "pelo menos 3 letras" in jsm.send("ok")
    assert "obrigatória" in jsm.send("pular")  # required while "outro" is chosen
    answer = jsm.send("Atualizar meu endereço")
    assert "Qual período você prefere" in answer and "pular" in answer
    assert "de 1 a 2" in jsm.send("noite")
    answer = jsm.send("MANHA")  # by label, without the accent
    assert "Confira suas respostas:" in answer
    # The summary shows short labels, never the questions (folded: the form has no
    # x-civic-label yet, so the runner falls back to the fields' names).
    assert "?:" not in answer
    assert "1 motivo outro" in fold(answer)
    assert "2 descricao atualizar meu endereco" in fold(answer)
    assert "3 periodo manha" in fold(answer)
    answer = jsm.send("1")
    assert "Pronto! Seu protocolo é JSM-2026-000001." in answer
    assert "leve documento de identidade com foto" in answer
    assert jsm.state == State.OFFERING
    with storage.reading() as tx:
        submission = tx.submission("JSM-2026-000001")
    assert submission is not None and submission["department"] == "jsm"
    assert submission["form"] == "atendimento"
    assert _data(submission) == {
        "motivo": "outro",
        "descricao": "Atualizar meu endereço",
        "periodo": "manha",
    }
    answer = jsm.send("status do protocolo JSM-2026-000001")
    assert "Protocolo JSM-2026-000001 (Junta de Serviço Militar)" in answer


def test_form_optional_period_can_be_skipped(jsm: Chat, storage: Storage) -> None:
    jsm.script("3", "certificado de dispensa (CDI)")
    answer = jsm.send("pular")
    assert "periodo nao informado" in fold(answer)
    assert "Do que você precisa?" not in answer  # only asked for "outro"
    assert "JSM-2026-000001" in jsm.send("confirmar")
    with storage.reading() as tx:
        assert _data(tx.submission("JSM-2026-000001")) == {"motivo": "cdi"}


def test_form_corrections_after_the_summary(jsm: Chat, storage: Storage) -> None:
    jsm.script("3", "7", "Trocar a data do juramento", "2")
    answer = jsm.send("corrigir 3")
    assert "Qual período você prefere" in answer and "Resposta atual: Tarde" in answer
    answer = jsm.send("1")
    assert "3 periodo manha" in fold(answer)
    assert "Qual resposta você quer corrigir?" in jsm.send("2")
    assert "Qual é o motivo do atendimento?" in jsm.send("1")
    answer = jsm.send("Segunda via do Certificado de Alistamento Militar (CAM)")
    assert "Confira suas respostas:" in answer
    assert "Do que você precisa?" not in answer  # the branch closed: the answer is dropped
    jsm.send("1")
    with storage.reading() as tx:
        assert _data(tx.submission("JSM-2026-000001")) == {
            "motivo": "segunda_via_cam",
            "periodo": "manha",
        }


def test_form_cancel_while_asking_and_at_the_summary(jsm: Chat, storage: Storage) -> None:
    answer = jsm.script("3", "1", "cancelar")
    assert "cancelei" in answer and jsm.state == State.DEPARTMENT
    assert "1. Verificar minha situação (alistamento)" in answer
    answer = jsm.script("3", "1", "2", "3")
    assert "cancelei" in answer and jsm.state == State.DEPARTMENT
    with storage.reading() as tx:
        assert tx.submission("JSM-2026-000001") is None


def test_protocol_numbers_follow_each_other(jsm: Chat) -> None:
    assert "JSM-2026-000001" in jsm.script("3", "1", "pular", "1")
    assert "JSM-2026-000002" in jsm.script("sim", "3", "3", "1", "pular", "1")


def test_unknown_protocol_status(jsm: Chat) -> None:
    assert "JSM-2026-000099" in jsm.send("status do protocolo JSM-2026-000099")


def _data(submission: RowMapping | None) -> dict[str, Any]:
    """The stored answers of a submission."""
    assert submission is not None
    return json.loads(submission["data"])


# -- the rule -----------------------------------------------------------------------


def reference_kind(birth: dt.date, today: dt.date) -> str:
    """The rule stated differently: the age he reaches during today's year, and whether
    today is in the first half of the year."""
    age_this_year = today.year - birth.year
    first_half = (today.month, today.day) <= (6, 30)
    if age_this_year < 18:
        return "not_yet"
    if age_this_year == 18 and first_half:
        return "on_time"
    if age_this_year > 45:
        return "exempt"
    return "late"


leap_days = st.integers(1900, 2100).filter(lambda y: y % 4 == 0 and (y % 100 or y % 400 == 0))
dates = st.one_of(
    st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)),
    leap_days.map(lambda year: dt.date(year, 2, 29)),
    st.integers(1900, 2100).map(lambda year: dt.date(year, 6, 30)),
    st.integers(1900, 2100).map(lambda year: dt.date(year, 7, 1)),
    st.integers(1900, 2100).map(lambda year: dt.date(year, 12, 31)),
)


@given(birth=dates, today=dates)
@example(birth=dt.date(2008, 2, 29), today=dt.date(2026, 2, 28))
@example(birth=dt.date(2008, 2, 29), today=dt.date(2026, 7, 1))
@example(birth=dt.date(1981, 1, 1), today=dt.date(2026, 12, 31))
@example(birth=dt.date(1981, 1, 1), today=dt.date(2027, 1, 1))
def test_enlistment_status_agrees_with_a_reference(birth: dt.date, today: dt.date) -> None:
    if birth > today:
        with pytest.raises(FutureBirthDate):
            enlistment_status(birth, today)
        return
    status = enlistment_status(birth, today)
    assert status.kind == reference_kind(birth, today)
    assert status.period_start.timetuple()[:3] == (birth.year + 18, 1, 1)
    assert status.period_end.timetuple()[:3] == (birth.year + 18, 6, 30)
    assert status.year_turning_18 == status.period_start.year
    assert status.obligation_end == dt.date(birth.year + 45, 12, 31)


def test_status_is_a_frozen_value() -> None:
    status = enlistment_status(dt.date(2008, 3, 15), TODAY)
    assert status == Status("on_time", 2026, dt.date(2026, 1, 1), dt.date(2026, 6, 30), 2053)
    with pytest.raises(AttributeError):
        status.kind = "late"  # type: ignore[misc]


# -- dates as people type them, and tenses ------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "15 de março de 2008",
        "15 de marco de 2008",
        "nasci dia 15 de Março de 2008",
        "1º de janeiro de 2008",
        "15 março 2008",
        "15 03 2008",
        "15  3  2008",
    ],
)
def test_dates_typed_as_people_type_them(jsm: Chat, message: str) -> None:
    """Decreto 57.654/1966 (RLSM), art. 41: born in 2008, the period is 01/01 to 30/06/2026."""
    assert "01/01/2026 a 30/06/2026" in jsm.send(message)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("31 de fevereiro de 2008", "não existe"),
        ("15 de março de 208", "ano com 4 dígitos"),
        ("15 13 2008", "não existe"),
    ],
)
def test_named_and_spaced_dates_are_checked(jsm: Chat, message: str, expected: str) -> None:
    jsm.send("1")
    assert expected in jsm.send(message)
    assert jsm.state == State.DEPARTMENT


@pytest.mark.parametrize(
    ("today", "birth", "expected"),
    [
        # Born in December 2008: on 1 July 2026 he is still 17, so "completa", not "completou".
        (dt.date(2026, 7, 1), "20/12/2008", "no ano em que você completa 18 anos"),
        (dt.date(2027, 1, 1), "20/12/2008", "no ano em que você completou 18 anos"),
        (dt.date(2025, 12, 31), "20/12/2008", "no ano em que você completar 18 anos"),
        (dt.date(2026, 6, 30), "20/12/2008", "no ano em que completa 18 anos"),
    ],
)
def test_tenses_follow_the_year_he_turns_18(
    jsm: Chat, set_today: SetToday, today: dt.date, birth: str, expected: str
) -> None:
    """Lei 4.375/1964 art. 5 and Decreto 57.654/1966 art. 41: only the year of 18 counts,
    so in that year he "completa" 18 whether or not the birthday has come."""
    set_today(today)
    assert expected in jsm.send(birth)


# -- women, fines, documents, EXAR -----------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "today", "kind"),
    [
        (dt.date(2008, 12, 31), dt.date(2025, 12, 31), "not_yet"),  # the year before 18
        (dt.date(2008, 12, 31), dt.date(2026, 1, 1), "open"),  # 1 January of the year of 18
        (dt.date(2008, 1, 1), dt.date(2026, 6, 30), "open"),  # 30 June
        (dt.date(2008, 1, 1), dt.date(2026, 7, 1), "closed"),  # 1 July: no late enlistment
        (dt.date(2007, 3, 15), dt.date(2026, 3, 10), "closed"),  # the year of 19
    ],
)
def test_women_enlist_only_in_the_first_half_of_the_year_of_18(
    birth: dt.date, today: dt.date, kind: str
) -> None:
    """Decreto 12.154/2024: women's enlistment is voluntary, only in the year they turn 18,
    from 1 January to 30 June, with no fine."""
    assert women_window(birth, today) == kind


@pytest.mark.parametrize(
    ("setting", "year", "allows"),
    [
        (None, 2026, None),
        ([2026], 2026, True),
        (["2026"], 2026, True),
        ([2025, 2027], 2026, False),  # the city listed a later year: it considered 2026
        ([2026], 2025, False),
        ([2025], 2026, None),  # nothing said about 2026 yet: ask the Junta, never "no"
        ([], 2026, None),
        ([True, "x", 2.5], 2026, None),
    ],
)
def test_the_plan_allows_it_is_a_city_setting(
    setting: object, year: int, allows: bool | None
) -> None:
    """Decreto 12.154/2024: only where the year's Plano Geral de Convocação allows it."""
    assert women_plan_allows(year, setting) is allows


def _jsm_with(storage: Storage, **settings: Any) -> Chat:
    config = Config(department_settings={"jsm": DepartmentConfig(settings=settings)})
    chat = Chat(Engine(storage, secret=SECRET, config=config))
    chat.script(MARIA, "3")
    return chat


@pytest.mark.parametrize(
    ("today", "setting", "expected", "absent"),
    [
        (
            dt.date(2026, 6, 30),
            [2026],
            ["nascidas em 2008, até 30/06/2026", "sem multa", "prevê o alistamento"],
            ["não prevê"],
        ),
        (
            dt.date(2026, 7, 1),
            [2026],
            [
                "terminou em 30/06/2026",
                "nascidas em 2009",
                "Confirme com a Junta se o plano de 2027",
            ],
            ["multa de", "não prevê"],
        ),
        (dt.date(2026, 7, 1), [2026, 2027], ["O plano de 2027 prevê"], ["não prevê"]),
        (dt.date(2026, 3, 10), [2025, 2027], ["O plano de 2026 não prevê"], ["Confirme"]),
        (
            dt.date(2026, 3, 10),
            [2025],
            ["Confirme com a Junta se o plano de 2026"],
            ["não prevê", "O plano de 2026"],
        ),
        (dt.date(2026, 3, 10), None, ["Confirme com a Junta"], ["O plano de 2026"]),
    ],
)
def test_women_topic_from_the_date_and_the_plan(
    storage: Storage,
    set_today: SetToday,
    today: dt.date,
    setting: object,
    expected: list[str],
    absent: list[str],
) -> None:
    """Decreto 12.154/2024: the year of 18, 1 January to 30 June, no fine, where the plan
    of the year allows it (``women_enlistment_years``). After 30 June next year's plan is
    usually not out: a year the city did not list is "confirm", never "not offered"."""
    set_today(today)
    chat = _jsm_with(storage, **({} if setting is None else {"women_enlistment_years": setting}))
    answer = chat.send("alistamento feminino")
    for fragment in expected:
        assert fragment in answer
    for fragment in absent:
        assert fragment not in answer


def test_on_time_mentions_women_only_where_the_plan_allows(
    storage: Storage, set_today: SetToday
) -> None:
    """Decreto 12.154/2024: voluntary, same period, no fine, only where the plan allows."""
    assert "Para as mulheres" in _jsm_with(storage, women_enlistment_years=[2026]).send(
        "15/03/2008"
    )
    assert "Para as mulheres" not in _jsm_with(storage).send("15/03/2008")


def test_fines_are_configured_and_dated(storage: Storage, set_today: SetToday) -> None:
    """Decreto 57.654/1966 (RLSM), arts. 176 and 177: the late-enlistment fine and the
    higher one for a lost certificate; their values come from the city, with their date."""
    chat = _jsm_with(
        storage, late_fine="R$ 5,37", lost_certificate_fine="R$ 26,85", fine_date="2026-01-01"
    )
    assert "multa de R$ 5,37 (valor de 01/01/2026)" in chat.send("20/08/2004")
    answer = chat.script("sim", "3", "perdi meu certificado")
    assert "segunda via" in answer and "art. 177" in answer
    assert "A multa é de R$ 26,85 (valor de 01/01/2026)." in answer


def test_lost_certificate_without_a_configured_fine(jsm: Chat) -> None:
    """Decreto 57.654/1966 (RLSM), art. 177: the value is never hard-coded."""
    answer = jsm.send("perdi meu certificado de reservista")
    assert "O valor da multa é informado pela Junta." in answer and "R$" not in answer


def test_what_a_man_in_debt_cannot_do(jsm: Chat) -> None:
    """Lei 4.375/1964 (LSM), art. 74: passport, public exams and jobs, some schools."""
    answer = jsm.send("estou em divida com o servico militar")
    assert "passaporte" in answer and "concurso público" in answer and "art. 74" in answer


def test_exemption_certificate(jsm: Chat) -> None:
    assert "Certificado de Isenção (CI)" in jsm.send("certificado de isencao")


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (dt.date(2026, 12, 31), "Em 2026, a apresentação vai de 01/12/2026 a 31/12/2026"),
        (dt.date(2027, 1, 1), "As datas são divulgadas pelo Exército"),  # the window closed
    ],
)
def test_exar_dates_come_from_the_configuration(
    storage: Storage, set_today: SetToday, today: dt.date, expected: str
) -> None:
    """EXAR: reservists in their first five years present themselves in December, in the
    window the Army publishes each year (the city configures it)."""
    set_today(today)
    chat = _jsm_with(storage, exar={"start": dt.date(2026, 12, 1), "end": "2026-12-31"})
    answer = chat.send("exar")
    assert "cinco primeiros anos" in answer and expected in answer


def test_exar_without_dates(jsm: Chat) -> None:
    assert "As datas são divulgadas pelo Exército" in jsm.send("reservista")


def test_second_copies_of_the_cdi_and_the_reservist_certificate(
    jsm: Chat, storage: Storage
) -> None:
    """Second copies of each certificate are requests the Junta takes (CDI, reservist)."""
    answer = jsm.send("3")
    assert "Segunda via do Certificado de Dispensa (CDI)" in answer
    assert "Qual período" in jsm.send("segunda via do certificado de reservista")
    jsm.send("pular")
    assert "JSM-2026-000001" in jsm.send("1")
    with storage.reading() as tx:
        assert _data(tx.submission("JSM-2026-000001")) == {"motivo": "segunda_via_reservista"}


def test_late_answer_says_women_pay_no_fine(jsm: Chat) -> None:
    """Decreto 12.154/2024: women's enlistment is voluntary and carries no fine; the
    triage does not ask anyone's sex, so the late answer says it."""
    answer = jsm.send("20/08/2004")
    assert "multa" in answer and "voluntário e nunca tem multa" in answer


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("segunda via do cdi", "Qual é o motivo do atendimento?"),
        ("segunda via do reservista", "Qual é o motivo do atendimento?"),
        ("perdi meu cdi", "art. 177"),
        ("mulher pode se alistar?", "Decreto nº 12.154/2024"),
        ("estou irregular, posso tirar passaporte?", "art. 74"),
    ],
)
def test_the_new_topics_as_citizens_ask(jsm: Chat, message: str, expected: str) -> None:
    assert expected in jsm.send(message)


def test_the_new_settings_are_accepted_by_the_config_file(
    tmp_path: Path, storage: Storage, set_today: SetToday
) -> None:
    """The fines' date, the plan's years (Decreto 12.154/2024) and the EXAR window are
    written in civic.toml as TOML dates and lists."""
    path = tmp_path / "civic.toml"
    path.write_text(
        "[departments.jsm]\n"
        'late_fine = "R$ 5,37"\n'
        "fine_date = 2026-01-01\n"
        "women_enlistment_years = [2026]\n"
        "exar = { start = 2026-12-01, end = 2026-12-31 }\n",
        encoding="utf-8",
    )
    chat = Chat(Engine(storage, secret=SECRET, config=load_config(path)))
    chat.script(MARIA, "3")
    assert "multa de R$ 5,37 (valor de 01/01/2026)" in chat.send("20/08/2004")
    assert "de 01/12/2026 a 31/12/2026" in chat.script("sim", "3", "exar")
    assert "prevê o alistamento feminino aqui" in chat.script("sim", "3", "alistamento feminino")
