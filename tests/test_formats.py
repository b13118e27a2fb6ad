"""The Brazilian formats: normalisers, checkers, display, and their registration."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civic import formats
from civic.forms import build_format_checker
from civic.plugins import load_plugins
from civic.text import fold
from civic.texts import Texts
from tests.strategies import CPF_STYLES, formatted_cpf, valid_cpfs, wrong_check_digit_cpfs

# -- reference implementations and strategies -----------------------------------------


def reference_cnpj_check_digits(base: str) -> str:
    """The two check digits of a 12-character CNPJ base, from the Receita's rule
    (characters weigh their ASCII code minus 48, so letters count from 17)."""
    values = [ord(char) - 48 for char in base]
    for weights in ([5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]):
        rest = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
        values.append(0 if rest < 2 else 11 - rest)
    return f"{values[-2]}{values[-1]}"


@st.composite
def valid_cnpjs(draw: st.DrawFn, alphabet: str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") -> str:
    """Fourteen characters of a valid CNPJ: 12 alphanumerics and two check digits."""
    base = draw(
        st.text(alphabet, min_size=12, max_size=12).filter(
            lambda b: len(set(b)) > 1 and not b.startswith("000000000000")
        )
    )
    return base + reference_cnpj_check_digits(base)


def formatted_cnpj(value: str, style: int) -> str:
    """The CNPJ written in one of the ways people write it (lower case included)."""
    v = value
    return [
        v,
        f"{v[:2]}.{v[2:5]}.{v[5:8]}/{v[8:12]}-{v[12:]}",
        f"{v[:2]}.{v[2:5]}.{v[5:8]}/{v[8:12]}-{v[12:]}".lower(),
        f"{v[:8]} {v[8:12]} {v[12:]}",
        f"{v[:8]}/{v[8:12]}-{v[12:]}",
    ][style]


mobiles = st.tuples(
    st.sampled_from(sorted(formats.AREA_CODES)), st.text("0123456789", min_size=8, max_size=8)
).map(lambda t: f"{t[0]}9{t[1]}")
landlines = st.tuples(
    st.sampled_from(sorted(formats.AREA_CODES)),
    st.sampled_from("2345"),
    st.text("0123456789", min_size=7, max_size=7),
).map(lambda t: f"{t[0]}{t[1]}{t[2]}")


def formatted_phone(digits: str, style: int) -> str:
    ddd, number = digits[:2], digits[2:]
    head, tail = number[:-4], number[-4:]
    return [
        digits,
        f"({ddd}) {head}-{tail}",
        f"+55 {ddd} {head}-{tail}",
        f"+55{digits}",
        f"0{ddd} {head}{tail}",
        f"{ddd} {head} {tail}",
        f"55 ({ddd}) {head}-{tail}",
    ][style]


# -- CPF --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["529.982.247-25", "52998224725", " 529 982 247 25 "])
def test_cpf_valid(text: str) -> None:
    assert formats.normalise("cpf", text) == "52998224725"
    assert formats.display("cpf", "52998224725") == "529.982.247-25"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("111.111.111-11", "iguais"),
        ("529.982.247-24", "verificadores"),
        ("529.982.247", "11 dígitos"),
        ("5299822472a", "só números"),
        ("", "11 dígitos"),
    ],
)
def test_cpf_invalid(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        formats.normalise("cpf", text)


@given(valid_cpfs(), CPF_STYLES)
def test_every_valid_cpf_in_any_formatting_is_normalised(digits: str, style: int) -> None:
    assert formats.normalise_cpf(formatted_cpf(digits, style)) == digits
    assert formats.is_cpf(digits)


@given(wrong_check_digit_cpfs(), CPF_STYLES)
def test_cpf_with_wrong_check_digits_is_refused(digits: str, style: int) -> None:
    with pytest.raises(formats.FormatError):
        formats.normalise_cpf(formatted_cpf(digits, style))
    assert not formats.is_cpf(digits)


@given(st.sampled_from("0123456789"))
def test_cpf_all_digits_equal_is_refused(digit: str) -> None:
    with pytest.raises(formats.FormatError) as caught:
        formats.normalise_cpf(digit * 11)
    assert caught.value.key == "form_format_cpf_repeated"
    assert not formats.is_cpf(digit * 11)


def test_cpf_checker_wants_the_normalised_form() -> None:
    assert not formats.is_cpf("529.982.247-25")
    assert formats.is_cpf(52998224725)  # not a string: left to the ``type`` keyword


# -- CNPJ -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("11.222.333/0001-81", "11222333000181"),
        ("11222333000181", "11222333000181"),
        ("12.ABC.345/01DE-35", "12ABC34501DE35"),
        ("12.abc.345/01de-35", "12ABC34501DE35"),
    ],
)
def test_cnpj_valid(text: str, value: str) -> None:
    assert formats.normalise("cnpj", text) == value
    assert formats.is_cnpj(value)
    assert formats.display("cnpj", value) == formatted_cnpj(value, 1)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("11.222.333/0001-82", "form_format_cnpj_check"),
        ("12.ABC.345/01DE-36", "form_format_cnpj_check"),
        ("11.111.111/1111-11", "form_format_cnpj_repeated"),
        ("11.222.333/0001", "form_format_cnpj_length"),
        ("11.222.333/0001-8A", "form_format_cnpj_chars"),
        ("11#222#333#0001#81", "form_format_cnpj_chars"),
    ],
)
def test_cnpj_invalid(text: str, key: str) -> None:
    with pytest.raises(formats.FormatError) as caught:
        formats.normalise_cnpj(text)
    assert caught.value.key == key


@given(valid_cnpjs(), st.integers(0, 4))
def test_every_valid_cnpj_in_any_formatting_is_normalised(value: str, style: int) -> None:
    assert formats.normalise_cnpj(formatted_cnpj(value, style)) == value
    assert formats.is_cnpj(value)


@given(valid_cnpjs(), st.integers(12, 13), st.integers(1, 9))
def test_cnpj_with_wrong_check_digits_is_refused(value: str, position: int, shift: int) -> None:
    wrong = str((int(value[position]) + shift) % 10)
    mistyped = value[:position] + wrong + value[position + 1 :]
    with pytest.raises(formats.FormatError):
        formats.normalise_cnpj(mistyped)


# -- CEP --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["37640-000", "37640000", "37.640-000", " 37640 000 "])
def test_cep_valid(text: str) -> None:
    assert formats.normalise("cep", text) == "37640000"
    assert formats.display("cep", "37640000") == "37640-000"


@pytest.mark.parametrize("text", ["3764-000", "376400000", "00000-000", "37640-00a", "cep"])
def test_cep_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="8 dígitos"):
        formats.normalise("cep", text)


# -- telephone --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("(35) 9 9839-1153", "35998391153"),
        ("35998391153", "35998391153"),
        ("+55 35 3435-2052", "3534352052"),
        ("+55 (35) 99839-1153", "35998391153"),
        ("035 3435-2052", "3534352052"),
        ("(55) 99999-0000", "55999990000"),  # DDD 55 is Santa Maria, not the country code
    ],
)
def test_phone_valid(text: str, digits: str) -> None:
    assert formats.normalise("phone", text) == digits
    assert formats.is_phone(digits)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("(20) 99839-1153", "form_format_phone_ddd"),
        ("(10) 3435-2052", "form_format_phone_ddd"),
        ("(35) 8839-1153", "form_format_phone_mobile"),
        ("(35) 89839-1153", "form_format_phone_mobile"),
        ("(35) 1435-2052", "form_format_phone_landline"),
        ("99839-1153", "form_format_phone_length"),
        ("35 99839-1153 ramal 2", "form_format_phone_length"),
    ],
)
def test_phone_invalid(text: str, key: str) -> None:
    with pytest.raises(formats.FormatError) as caught:
        formats.normalise_phone(text)
    assert caught.value.key == key


@given(st.one_of(mobiles, landlines), st.integers(0, 6))
def test_every_phone_in_any_formatting_is_normalised(digits: str, style: int) -> None:
    assert formats.normalise_phone(formatted_phone(digits, style)) == digits
    shown = formats.display("phone", digits)
    assert formats.normalise_phone(shown) == digits


# -- dates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["25/12/2024", "25-12-2024", "25.12.2024", "2024-12-25", " 25 / 12 / 2024 "]
)
def test_date_valid(text: str) -> None:
    assert formats.normalise("date", text) == "2024-12-25"
    assert formats.display("date", "2024-12-25") == "25/12/2024"


def test_date_short_day_and_month() -> None:
    assert formats.normalise("date", "5/1/2024") == "2024-01-05"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("31/02/2024", "form_format_date_invalid"),
        ("29/02/2023", "form_format_date_invalid"),
        ("25/12/24", "form_format_date"),
        ("25/12-2024", "form_format_date"),
        ("natal", "form_format_date"),
        ("2024-13-01", "form_format_date_invalid"),
    ],
)
def test_date_invalid(text: str, key: str) -> None:
    with pytest.raises(formats.FormatError) as caught:
        formats.normalise_date(text)
    assert caught.value.key == key


@given(st.dates(min_value=dt.date(1000, 1, 1)), st.sampled_from(["/", "-", "."]))
def test_date_round_trip(date: dt.date, separator: str) -> None:
    typed = date.strftime(f"%d{separator}%m{separator}%Y")
    assert formats.normalise_date(typed) == date.isoformat()
    assert formats.normalise_date(formats.display_date(date.isoformat())) == date.isoformat()
    assert formats.is_date(date.isoformat())


# -- short dates: "20/11", "ontem", "dia 20", "20 de novembro" -------------------------

DATE_WORDS = formats.DateWords.from_texts(Texts())
#: The first word of each ``words.month_<n>`` list: the month's full name.
MONTH_NAMES = {n: Texts().catalog[f"words.month_{n}"][0] for n in range(1, 13)}
SUNDAY = dt.date(2026, 11, 29)


def short_date(text: str, today: dt.date, *, not_future: bool = True) -> str:
    """What a field that refuses future dates (or, not ``not_future``, any field) reads."""
    reading = formats.read_date(text, today, DATE_WORDS, latest=today if not_future else None)
    assert not reading.complete
    return reading.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20/11", "2026-11-20"),
        ("20-11", "2026-11-20"),
        ("20.11", "2026-11-20"),
        (" 20 / 11 ", "2026-11-20"),
        ("5/3", "2026-03-05"),
        ("29/11", "2026-11-29"),  # today
        ("30/11", "2025-11-30"),  # tomorrow's day and month: last year
        ("20/12", "2025-12-20"),
        ("hoje", "2026-11-29"),
        ("Ontem!", "2026-11-28"),
        ("foi ontem", "2026-11-28"),
        ("anteontem", "2026-11-27"),
        ("antes de ontem", "2026-11-27"),
        ("desde anteontem", "2026-11-27"),
        ("dia 20", "2026-11-20"),
        ("no dia 29", "2026-11-29"),
        ("dia 30", "2026-10-30"),
        ("dia 31", "2026-10-31"),
        ("20 de novembro", "2026-11-20"),
        ("dia 20 de novembro", "2026-11-20"),
        ("20 de Novembro de 2025", "2025-11-20"),
        ("20 nov", "2026-11-20"),
        ("1º de maio", "2026-05-01"),
        ("25 de dezembro", "2025-12-25"),
        ("acho que foi dia 3 de março", "2026-03-03"),
        ("25 12 2024", "2024-12-25"),  # whole, but not typed the usual way: said back
    ],
)
def test_short_date_in_a_field_refusing_future_dates(text: str, expected: str) -> None:
    """On Sunday 29/11/2026, a field that refuses future dates reads a date without a
    year as the most recent such day, at most a year back."""
    assert short_date(text, SUNDAY) == expected


@pytest.mark.parametrize(
    ("today", "text", "expected"),
    [
        # 1 January: yesterday was last year.
        (dt.date(2027, 1, 1), "31/12", "2026-12-31"),
        (dt.date(2027, 1, 1), "01/01", "2027-01-01"),
        (dt.date(2027, 1, 1), "02/01", "2026-01-02"),
        (dt.date(2027, 1, 1), "ontem", "2026-12-31"),
        (dt.date(2027, 1, 1), "anteontem", "2026-12-30"),
        (dt.date(2027, 1, 1), "dia 1", "2027-01-01"),
        (dt.date(2027, 1, 1), "dia 2", "2026-12-02"),
        (dt.date(2027, 1, 1), "dia 31", "2026-12-31"),
        # 31 December: the whole year is behind.
        (dt.date(2026, 12, 31), "31/12", "2026-12-31"),
        (dt.date(2026, 12, 31), "01/01", "2026-01-01"),
        (dt.date(2026, 12, 31), "1 de janeiro", "2026-01-01"),
        # 29 February.
        (dt.date(2028, 2, 29), "29/02", "2028-02-29"),
        (dt.date(2028, 2, 29), "ontem", "2028-02-28"),
        (dt.date(2028, 2, 29), "01/03", "2027-03-01"),
        (dt.date(2028, 2, 29), "dia 29", "2028-02-29"),
        (dt.date(2028, 2, 29), "dia 30", "2028-01-30"),
        (dt.date(2028, 3, 1), "29/02", "2028-02-29"),
        (dt.date(2028, 3, 1), "ontem", "2028-02-29"),
        (dt.date(2028, 3, 1), "dia 30", "2028-01-30"),
        (dt.date(2029, 2, 28), "29/02", "2028-02-29"),  # 365 days back: still within a year
        (dt.date(2026, 3, 1), "ontem", "2026-02-28"),
        (dt.date(2026, 3, 5), "dia 29", "2026-01-29"),
        (dt.date(2026, 3, 5), "dia 31", "2026-01-31"),
    ],
)
def test_short_date_on_boundary_days(today: dt.date, text: str, expected: str) -> None:
    assert short_date(text, today) == expected


@pytest.mark.parametrize(
    ("today", "text", "key", "values"),
    [
        # No 29 February on or before today within a year: which year was meant?
        (dt.date(2028, 2, 28), "29/02", "form_format_date_no_year", {"example": "29/02/2024"}),
        (dt.date(2029, 3, 1), "29/02", "form_format_date_no_year", {"example": "29/02/2028"}),
        (SUNDAY, "31/04", "form_format_date_invalid", {"text": "31/04"}),
        (SUNDAY, "30 de fevereiro", "form_format_date_invalid", {"text": "30/02"}),
        (SUNDAY, "32/11", "form_format_date_invalid", {"text": "32/11"}),
        (SUNDAY, "20/13", "form_format_date_invalid", {"text": "20/13"}),
        (SUNDAY, "dia 32", "form_format_date_invalid", {"text": "32"}),
        (SUNDAY, "dia 0", "form_format_date_invalid", {"text": "00"}),
        (SUNDAY, "31 de abril de 2026", "form_format_date_invalid", {"text": "31/04/2026"}),
        (SUNDAY, "semana passada", "form_format_date", {}),
        (SUNDAY, "20", "form_format_date", {}),  # a bare number is not "dia 20"
        (SUNDAY, "novembro", "form_format_date", {}),
        (SUNDAY, "11/2026", "form_format_date", {}),
        (SUNDAY, "20/11/26", "form_format_date", {}),
        (SUNDAY, "dia", "form_format_date", {}),
    ],
)
def test_short_date_refused(today: dt.date, text: str, key: str, values: dict[str, str]) -> None:
    with pytest.raises(formats.FormatError) as caught:
        formats.read_date(text, today, DATE_WORDS, latest=today)
    assert (caught.value.key, caught.value.values) == (key, values)
    assert str(caught.value)


@pytest.mark.parametrize(
    ("text", "key", "example"),
    [
        ("20/11", "form_format_date_no_year", "20/11/2026"),
        ("20 de dezembro", "form_format_date_no_year", "20/12/2026"),
        ("dia 20", "form_format_date_no_month", "20/11/2026"),
    ],
)
def test_a_field_taking_any_date_asks_the_year(text: str, key: str, example: str) -> None:
    """Without a latest date, "20/11" could be last year's or next year's: ask."""
    with pytest.raises(formats.FormatError) as caught:
        formats.read_date(text, SUNDAY, DATE_WORDS)
    assert caught.value.key == key and caught.value.values == {"example": example}


def test_a_field_taking_any_date_reads_days_named_from_today() -> None:
    assert short_date("amanhã", SUNDAY, not_future=False) == "2026-11-30"
    assert short_date("hoje", SUNDAY, not_future=False) == "2026-11-29"
    assert short_date("20 de novembro de 2025", SUNDAY, not_future=False) == "2025-11-20"
    whole = formats.read_date("20/11/2025", SUNDAY, DATE_WORDS)
    assert whole == formats.DateReading("2025-11-20", complete=True)


@st.composite
def typed_short(draw: st.DrawFn, date: dt.date) -> str:
    """``date``'s day and month, without the year, as people type them."""
    d, m = date.day, date.month
    return draw(
        st.sampled_from(
            [
                f"{d:02d}/{m:02d}",
                f"{d}/{m}",
                f"{d:02d}-{m:02d}",
                f"{d}.{m}",
                f"{d} de {MONTH_NAMES[m]}",
                f"dia {d} de {MONTH_NAMES[m].upper()}",
                f"{d} {MONTH_NAMES[m][:3]}",
            ]
        )
    )


@given(
    today=st.dates(dt.date(1001, 1, 1), dt.date(9998, 12, 31)),
    back=st.integers(0, 364),
    data=st.data(),
)
def test_any_day_of_the_last_year_typed_without_year_round_trips(
    today: dt.date, back: int, data: st.DataObject
) -> None:
    """Every date of the 365 days up to today, typed without its year in any usual way,
    is read back exactly, 29 February included."""
    date = today - dt.timedelta(days=back)
    assert short_date(data.draw(typed_short(date)), today) == date.isoformat()


@given(today=st.dates(dt.date(1001, 1, 1), dt.date(9998, 12, 31)), day=st.integers(1, 31))
def test_dia_n_is_the_most_recent_day_n(today: dt.date, day: int) -> None:
    expected = today
    while expected.day != day:  # the oracle: walk back one day at a time
        expected -= dt.timedelta(days=1)
    assert short_date(f"dia {day}", today) == expected.isoformat()


@given(today=st.dates(dt.date(1001, 1, 1), dt.date(9998, 12, 31)))
def test_days_named_from_today(today: dt.date) -> None:
    for text, days in [("hoje", 0), ("ontem", -1), ("anteontem", -2), ("amanhã", 1)]:
        expected = (today + dt.timedelta(days=days)).isoformat()
        assert short_date(text, today, not_future=False) == expected


@given(
    text=st.one_of(
        st.text(max_size=40),
        st.from_regex(
            r"(dia )?[0-9]{1,3}( de)?[/ .-][0-9a-z]{1,9}( de [0-9]{1,5})?", fullmatch=True
        ),
    ),
    today=st.dates(),
    not_future=st.booleans(),
)
def test_read_date_raises_only_format_errors(text: str, today: dt.date, not_future: bool) -> None:
    try:
        reading = formats.read_date(text, today, DATE_WORDS, latest=today if not_future else None)
    except formats.FormatError as error:
        assert str(error)
    else:
        assert formats.is_date(reading.value)
        # A year the citizen typed is theirs (the field's not-future check refuses it);
        # a year civic worked out is never in the future.
        year_typed = re.search(r"\b[0-9]{4}\b", fold(text))
        inferred = not reading.complete and fold(text) not in DATE_WORDS.relative
        if not_future and inferred and not year_typed:
            assert reading.value <= today.isoformat()


# -- money ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("R$ 1.234,56", "1234.56"),
        ("1234.56", "1234.56"),
        ("1.234", "1234.00"),
        ("50 reais", "50.00"),
        ("R$50", "50.00"),
        ("50,00", "50.00"),
        ("0,5", "0.50"),
        ("1,234.56", "1234.56"),
        ("R$ 1.000.000", "1000000.00"),
        ("rs 12", "12.00"),
    ],
)
def test_money_valid(text: str, value: str) -> None:
    assert formats.normalise("money", text) == value
    assert formats.is_money(value)


@pytest.mark.parametrize(
    "text",
    ["-5", "R$", "cinquenta", "1,2,3", "12.34.56", "1.234,567", "R$ 1.23,45", "1" + "0" * 26],
)
def test_money_invalid(text: str) -> None:
    with pytest.raises(formats.FormatError):
        formats.normalise_money(text)


def test_money_display() -> None:
    assert formats.display("money", "1234.56") == "R$ 1.234,56"
    assert formats.display("money", "0.50") == "R$ 0,50"


@given(st.decimals(min_value=0, max_value=10**9, places=2))
def test_money_round_trip(amount: Decimal) -> None:
    value = str(amount.quantize(Decimal("0.01")))
    shown = formats.display_money(value)
    assert formats.normalise_money(shown) == value
    assert formats.normalise_money(value) == value
    assert formats.normalise_money(f"{value.replace('.', ',')} reais") == value


@given(st.integers(min_value=1, max_value=10**12))
def test_brazilian_thousands_are_read_as_thousands(amount: int) -> None:
    typed = f"{amount:,}".replace(",", ".")
    assert formats.parse_decimal(typed) == amount


# -- e-mail -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("maria@exemplo.com.br", "maria@exemplo.com.br"),
        (" Maria.Silva@Exemplo.COM.BR ", "Maria.Silva@exemplo.com.br"),
        ("joao+procon@mail.gov.br", "joao+procon@mail.gov.br"),
    ],
)
def test_email_valid(text: str, value: str) -> None:
    assert formats.normalise("email", text) == value


@pytest.mark.parametrize(
    "text", ["maria", "maria@", "@exemplo.com", "maria@exemplo", "ma ria@exemplo.com", "a@b.c"]
)
def test_email_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="e-mail"):
        formats.normalise("email", text)


# -- every format -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(formats.FORMATS))
def test_each_example_is_accepted_and_displayed_back(name: str) -> None:
    fmt = formats.FORMATS[name]
    value = fmt.normalise(fmt.example)
    assert fmt.check(value)
    assert fmt.normalise(fmt.display(value)) == value


@pytest.mark.parametrize("name", sorted(formats.FORMATS))
@given(text=st.text(max_size=60))
def test_normalisers_raise_only_format_errors(name: str, text: str) -> None:
    try:
        value = formats.normalise(name, text)
    except formats.FormatError as error:
        assert str(error)  # a Portuguese sentence, not an empty message
    else:
        assert formats.FORMATS[name].check(value)


def test_unknown_format() -> None:
    with pytest.raises(KeyError):
        formats.normalise("passport", "x")
    assert formats.display("passport", "x") == "x"


def test_default_plugin_registers_every_format() -> None:
    checker = build_format_checker(load_plugins())
    for name, fmt in formats.FORMATS.items():
        assert checker.conforms(fmt.normalise(fmt.example), name)
    assert not checker.conforms("52998224724", "cpf")
    assert not checker.conforms("25/12/2024", "date")
