"""JSM: birth dates as people type them, and the tenses of the triage on boundary days.

These call the plugin's functions directly (no engine, no database): the chat-level
behaviour is in ``test_jsm.py``.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from civic.config import DepartmentConfig
from civic.reading import read
from civic.texts import Texts
from civic_jsm.dates import Refusal, br_date, read_birth_date
from civic_jsm.triage import triage

TODAY = dt.date(2026, 3, 10)
#: The shipped catalogues (core and JSM), built once for every example.
TEXTS = Texts(packages=("civic_jsm",))


def birth(text: str, today: dt.date = TODAY) -> dt.date | Refusal | None:
    return read_birth_date(read(text), today, TEXTS)


def told(birth_date: dt.date, today: dt.date, **settings: object) -> str:
    """The triage's answer for a man born on ``birth_date``, on ``today``."""
    return triage(birth_date, today, DepartmentConfig(settings=settings), TEXTS).text


# -- reading ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "15/03/2008",
        "15/3/2008",
        "15-03-2008",
        "15.03.2008",
        "15 / 03 / 2008",
        "15/3/08",
        "15-03-08",
        "15.3.08",
        "15 03 2008",
        "15  3  2008",
        "15 de março de 2008",
        "15 de Março de 2008",
        "15 de marco de 2008",
        "15 de março, 2008",
        "15 março 2008",
        "15 de mar de 2008",
        "15 MAR 2008",
        "15 de março de 08",
        "2008-03-15",
        "nasci dia 15/03/2008, tenho que me alistar?",
        "１５/０３/２００８",  # fullwidth digits
        "15/\u200b03/2008",  # a zero-width space inside
        "15/03/2008.",
    ],
)
def test_dates_as_people_type_them(message: str) -> None:
    assert birth(message) == dt.date(2008, 3, 15)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("1º de janeiro de 2008", dt.date(2008, 1, 1)),
        ("1o de jan de 2008", dt.date(2008, 1, 1)),
        ("31 de dezembro de 2008", dt.date(2008, 12, 31)),
        ("7 de set de 1999", dt.date(1999, 9, 7)),
        ("29/02/2008", dt.date(2008, 2, 29)),
    ],
)
def test_named_months_and_leap_days(message: str, expected: dt.date) -> None:
    assert birth(message) == expected


@pytest.mark.parametrize(
    ("message", "today", "expected"),
    [
        ("15/3/08", dt.date(2026, 3, 10), dt.date(2008, 3, 15)),
        ("1/1/00", dt.date(2026, 3, 10), dt.date(2000, 1, 1)),
        ("10/3/26", dt.date(2026, 3, 10), dt.date(2026, 3, 10)),  # born today
        ("15/3/27", dt.date(2026, 3, 10), dt.date(1927, 3, 15)),
        ("5/5/80", dt.date(2026, 3, 10), dt.date(1980, 5, 5)),
        ("31/12/99", dt.date(2026, 3, 10), dt.date(1999, 12, 31)),
        ("15/3/08", dt.date(2099, 12, 31), dt.date(2008, 3, 15)),
        ("15/3/08", dt.date(2107, 12, 31), dt.date(2008, 3, 15)),
        ("15/3/08", dt.date(2108, 3, 15), dt.date(2108, 3, 15)),
    ],
)
def test_two_digit_years_are_the_latest_such_year_not_after_this_one(
    message: str, today: dt.date, expected: dt.date
) -> None:
    """A living citizen's two-digit year has one reading within the last hundred years;
    the triage's answer states his enlistment years, so a misreading shows at once."""
    assert birth(message, today) == expected


@pytest.mark.parametrize(
    ("message", "key"),
    [
        ("31/02/2008", "jsm.date_invalid"),
        ("29/02/2007", "jsm.date_invalid"),
        ("31 de fevereiro de 2008", "jsm.date_invalid"),
        ("15 13 2008", "jsm.date_invalid"),
        ("15/3/26", "jsm.date_future"),  # 15/03/2026, after today
        ("11/03/2026", "jsm.date_future"),  # tomorrow
        ("15/03/1899", "jsm.date_too_old"),
        ("15/03/208", "jsm.four_digit_year"),
        ("15/3/8", "jsm.four_digit_year"),
        ("15 de março de 208", "jsm.four_digit_year"),
        ("2008-3-15", "jsm.ask_again"),
        ("ontem", "jsm.ask_again"),
        ("Depois de amanhã", "jsm.ask_again"),
        ("nasci em março", "jsm.ask_again"),
        ("data de nascimento", "jsm.ask_again"),
        ("2008", "jsm.ask_again"),
        ("15032008", "jsm.ask_again"),
    ],
)
def test_unusable_dates_are_refused_with_a_reason(message: str, key: str) -> None:
    found = birth(message)
    assert isinstance(found, Refusal) and found.key == key
    assert TEXTS(found.key, **found.values).strip()


def test_an_impossible_date_is_quoted_as_typed() -> None:
    found = birth("nasci em 31 / 02 / 2008")
    assert isinstance(found, Refusal)
    assert (
        TEXTS(found.key, **found.values)
        == "A data 31 / 02 / 2008 não existe. Confira o dia e o mês."
    )


@pytest.mark.parametrize(
    "message",
    [
        "quero saber do alistamento",
        "tenho 2 filhos e 3 netos",
        "comprei 15 03 coisas",
        "o protocolo JSM-2026-000001",
        "perdi meu certificado",
        "15 de março",
        "março de 2008",
        "",
    ],
)
def test_other_messages_are_not_dates(message: str) -> None:
    assert birth(message) is None


@given(st.text())
@example("\ud8da 15/03/2008")  # a lone surrogate
@example("1" * 250_000)
@example("15/" * 80_000 + "2008")
@example("15 de " * 40_000 + "março de 2008")
def test_any_text_reads_without_crashing(text: str) -> None:
    found = birth(text)
    assert found is None or isinstance(found, dt.date | Refusal)
    if isinstance(found, dt.date):
        assert dt.date(1900, 1, 1) <= found <= TODAY
    if isinstance(found, Refusal):
        assert TEXTS(found.key, **found.values)


def test_dates_are_written_as_brazilians_write_them() -> None:
    assert br_date(dt.date(2026, 3, 5)) == "05/03/2026"
    assert br_date(dt.date(987, 1, 1)) == "01/01/0987"


# -- tenses on boundary days --------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (dt.date(2025, 12, 31), "será de 01/01/2026 a 30/06/2026, no ano em que você completar 18"),
        (dt.date(2026, 1, 1), "alistamento: de 01/01/2026 a 30/06/2026, no ano em que completa 18"),
        (dt.date(2026, 6, 30), "Faça o alistamento até 30/06/2026"),
        (dt.date(2026, 7, 1), "foi de 01/01/2026 a 30/06/2026, no ano em que você completa 18"),
        (dt.date(2026, 12, 20), "no ano em que você completa 18 anos"),  # his birthday
        (dt.date(2026, 12, 31), "no ano em que você completa 18 anos"),
        (dt.date(2027, 1, 1), "no ano em que você completou 18 anos"),
    ],
)  # fmt: skip
def test_tenses_for_a_boy_born_late_in_the_year(today: dt.date, expected: str) -> None:
    """Lei 4.375/1964 (LSM), art. 5º, and Decreto 57.654/1966 (RLSM), art. 41, § 1º: the
    period is 1 January to 30 June of the year he turns 18, whatever his birthday. Born on
    20/12/2008, he is 17 for the whole period and late from 01/07/2026 while still 17: in
    2026 he "completa" 18 (present), before 2026 he will "completar", after it he
    "completou"."""
    assert expected in told(dt.date(2008, 12, 20), today)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (dt.date(2026, 1, 1), "no ano em que completa 18 anos"),  # his 18th birthday
        (dt.date(2026, 6, 30), "Faça o alistamento até 30/06/2026"),
        (dt.date(2026, 7, 1), "no ano em que você completa 18 anos"),
    ],
)
def test_tenses_for_a_boy_born_on_new_years_day(today: dt.date, expected: str) -> None:
    """Decreto 57.654/1966 (RLSM), art. 41, § 1º: born on 01/01/2008, he is 18 for the
    whole period; the year, not the birthday, decides the tense."""
    assert expected in told(dt.date(2008, 1, 1), today)


def test_the_last_day_of_military_age() -> None:
    """Lei 4.375/1964 (LSM), art. 5º: the obligation lasts until 31 December of the year
    he turns 45; on the next day he is no longer obliged."""
    assert "terminou em 30/06/1999" in told(dt.date(1981, 12, 31), dt.date(2026, 12, 31))
    answer = told(dt.date(1981, 12, 31), dt.date(2027, 1, 1))
    assert "terminaram em 31/12/2026" in answer and "completou 45 anos" in answer


def test_the_triage_does_not_repeat_the_birth_date() -> None:
    for today in (dt.date(2025, 3, 10), TODAY, dt.date(2027, 3, 10), dt.date(2060, 1, 1)):
        assert "15/03/2008" not in told(dt.date(2008, 3, 15), today)


def test_the_late_fine_is_the_citys_with_its_date() -> None:
    """Decreto 57.654/1966 (RLSM), art. 176: the late-enlistment fine; its value is
    corrected periodically, so it comes only from the city's settings."""
    late = dt.date(2004, 8, 20)
    assert "multa de R$ 4,21 (valor de 01/01/2026)." in told(
        late, TODAY, late_fine="R$ 4,21", fine_date=dt.date(2026, 1, 1)
    )
    assert "multa de R$ 4,21." in told(late, TODAY, late_fine=" R$ 4,21 ", fine_date="1º/1")
    answer = told(late, TODAY, late_fine="  ", fine_date="2026-01-01")
    assert "o valor é informado pela Junta" in answer and "01/01/2026" not in answer
