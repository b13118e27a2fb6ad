"""Brazilian formats as pure functions: read what a citizen typed, check what is stored.

Each format has a *normaliser* (``normalise_cpf("529.982.247-25") == "52998224725"``),
which accepts the usual ways people type the value and raises :class:`FormatError` (a
``ValueError`` whose message is a Portuguese sentence for the citizen) otherwise; a
*checker* (``is_cpf``), which says whether a stored value is in the normalised form; and a
*display* function, which shows a normalised value the way people read it.

Normalised forms: digits only for ``cpf``, ``cep`` and ``phone`` (phone without ``+55``);
upper-case letters and digits for ``cnpj``; ISO ``aaaa-mm-dd`` for ``date``; a decimal
string with two places for ``money`` (``"1234.56"``); the trimmed address for ``email``
(domain in lower case).

Checkers follow JSON Schema: a format says nothing about values that are not strings, so
they return ``True`` for those (the ``type`` keyword rejects them).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
from stdnum.br import cnpj as stdnum_cnpj
from stdnum.br import cpf as stdnum_cpf

from civic import cpf as civic_cpf
from civic.text import fold, strip_invisible
from civic.texts import Texts

#: The area codes (DDD) in use in Brazil.
AREA_CODES = frozenset(
    {11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 24, 27, 28}
    | {31, 32, 33, 34, 35, 37, 38, 41, 42, 43, 44, 45, 46, 47, 48, 49, 51, 53, 54, 55}
    | {61, 62, 63, 64, 65, 66, 67, 68, 69, 71, 73, 74, 75, 77, 79}
    | {81, 82, 83, 84, 85, 86, 87, 88, 89, 91, 92, 93, 94, 95, 96, 97, 98, 99}
)


class FormatError(ValueError):
    """A typed value that does not fit its format.

    ``str(error)`` is the Portuguese sentence from the default catalogue; ``key`` and
    ``values`` let a caller fill the city's own version of it (``texts(e.key, **e.values)``).
    """

    def __init__(self, key: str, **values: Any) -> None:
        self.key = key
        self.values = values
        super().__init__(_default_texts()(key, **values))


@functools.cache
def _default_texts() -> Texts:
    return Texts()


def _clean(text: str) -> str:
    """The text without invisible characters and surrounding spaces."""
    return strip_invisible(text).strip()


# -- CPF ----------------------------------------------------------------------------


def normalise_cpf(text: str) -> str:
    """The 11 digits of a CPF typed with or without punctuation (``529.982.247-25``)."""
    text = _clean(text)
    if not re.fullmatch(r"[0-9.\-\s]*", text):
        raise FormatError("form_format_cpf_chars")
    digits = re.sub(r"[^0-9]", "", text)
    problem = civic_cpf.validate(digits)
    if problem is None:
        return digits
    if problem.code == "length":
        raise FormatError("form_format_cpf_length", count=len(digits))
    if problem.code == "repeated":
        raise FormatError("form_format_cpf_repeated")
    raise FormatError("form_format_cpf_check")


def is_cpf(value: Any) -> bool:
    """Whether ``value`` is a normalised CPF (11 digits, valid, not all equal)."""
    if not isinstance(value, str):
        return True
    return value.isascii() and civic_cpf.validate(value) is None


def display_cpf(value: str) -> str:
    """``529.982.247-25``."""
    return stdnum_cpf.format(value)


# -- CNPJ ---------------------------------------------------------------------------

_CNPJ = re.compile(r"[0-9A-Z]{12}[0-9]{2}")


def normalise_cnpj(text: str) -> str:
    """The 14 characters of a CNPJ, numeric or alphanumeric (``12.ABC.345/01DE-35``)."""
    text = _clean(text)
    if not re.fullmatch(r"[0-9A-Za-z./\-\s]+", text):
        raise FormatError("form_format_cnpj_chars")
    compact = re.sub(r"[./\-\s]", "", text).upper()
    if len(compact) != 14:
        raise FormatError("form_format_cnpj_length", count=len(compact))
    if not _CNPJ.fullmatch(compact):
        raise FormatError("form_format_cnpj_chars")
    if len(set(compact)) == 1:
        raise FormatError("form_format_cnpj_repeated")
    if not stdnum_cnpj.is_valid(compact):
        raise FormatError("form_format_cnpj_check")
    return compact


def is_cnpj(value: Any) -> bool:
    """Whether ``value`` is a normalised CNPJ (14 upper-case alphanumerics, valid)."""
    if not isinstance(value, str):
        return True
    return bool(_CNPJ.fullmatch(value)) and len(set(value)) > 1 and stdnum_cnpj.is_valid(value)


def display_cnpj(value: str) -> str:
    """``11.222.333/0001-81``."""
    return stdnum_cnpj.format(value)


# -- CPF or CNPJ (a supplier may be a person or a company) ------------------------------


def normalise_cpf_cnpj(text: str) -> str:
    """A CPF (11 digits) or a CNPJ (14 characters), told apart by length."""
    compact = re.sub(r"[./\-\s]", "", _clean(text))
    if len(compact) == 11 and compact.isdigit():
        return normalise_cpf(text)
    if len(compact) == 14:
        return normalise_cnpj(text)
    raise FormatError("form_format_cpf_cnpj_length", count=len(compact))


def is_cpf_cnpj(value: Any) -> bool:
    """Whether ``value`` is a normalised CPF or CNPJ."""
    if not isinstance(value, str):
        return True
    return is_cpf(value) if len(value) == 11 else len(value) == 14 and is_cnpj(value)


def display_cpf_cnpj(value: str) -> str:
    return display_cpf(value) if len(value) == 11 else display_cnpj(value)


# -- CEP ----------------------------------------------------------------------------

_CEP = re.compile(r"[0-9]{2}\.?[0-9]{3}[-\s]?[0-9]{3}")


def normalise_cep(text: str) -> str:
    """The 8 digits of a CEP (``37640-000``, ``37.640-000``, ``37640000``)."""
    text = _clean(text)
    if not _CEP.fullmatch(text):
        raise FormatError("form_format_cep")
    digits = re.sub(r"[^0-9]", "", text)
    if not is_cep(digits):
        raise FormatError("form_format_cep")
    return digits


def is_cep(value: Any) -> bool:
    """Whether ``value`` is 8 digits, not all zero."""
    if not isinstance(value, str):
        return True
    return bool(re.fullmatch(r"[0-9]{8}", value)) and value != "00000000"


def display_cep(value: str) -> str:
    """``37640-000``."""
    return f"{value[:5]}-{value[5:]}"


# -- telephone ----------------------------------------------------------------------

_PHONE_CHARS = re.compile(r"\+?[0-9\s().\-]+")


def normalise_phone(text: str) -> str:
    """DDD and number as digits (``35998391153``, ``3534352052``) from the usual forms:
    ``(35) 9 9839-1153``, ``+55 35 3435-2052``, ``035 99839-1153``."""
    text = _clean(text)
    if not _PHONE_CHARS.fullmatch(text):
        raise FormatError("form_format_phone_length")
    digits = re.sub(r"[^0-9]", "", text)
    if len(digits) in (12, 13) and (text.startswith("+") or digits.startswith("55")):
        digits = digits[2:]
    elif len(digits) in (11, 12) and digits.startswith("0"):
        digits = digits[1:]  # the long-distance prefix
    if len(digits) not in (10, 11):
        raise FormatError("form_format_phone_length")
    if int(digits[:2]) not in AREA_CODES:
        raise FormatError("form_format_phone_ddd", ddd=digits[:2])
    number = digits[2:]
    if len(number) == 9 and number[0] != "9":
        raise FormatError("form_format_phone_mobile")
    if len(number) == 8 and number[0] not in "2345":
        raise FormatError(
            "form_format_phone_mobile" if number[0] in "6789" else "form_format_phone_landline"
        )
    return digits


def is_phone(value: Any) -> bool:
    """Whether ``value`` is a normalised telephone: DDD + 8 (landline) or 9 (mobile) digits."""
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"[0-9]{10,11}", value) or int(value[:2]) not in AREA_CODES:
        return False
    return value[2] == "9" if len(value) == 11 else value[2] in "2345"


def display_phone(value: str) -> str:
    """``(35) 99839-1153`` or ``(35) 3435-2052``."""
    return f"({value[:2]}) {value[2:-4]}-{value[-4:]}"


# -- dates --------------------------------------------------------------------------

_DATE_BR = re.compile(r"([0-9]{1,2})\s*([/.\-])\s*([0-9]{1,2})\s*\2\s*([0-9]{4})")
_DATE_ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def normalise_date(text: str) -> str:
    """An ISO date from ``25/12/2024``, ``5/1/2024``, ``25-12-2024``, ``25.12.2024`` or
    ``2024-12-25``."""
    text = _clean(text)
    if match := _DATE_ISO.fullmatch(text):
        year, month, day = (int(part) for part in match.groups())
    elif match := _DATE_BR.fullmatch(text):
        day, month, year = int(match[1]), int(match[3]), int(match[4])
    else:
        raise FormatError("form_format_date")
    if year < 1000:
        raise FormatError("form_format_date")
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        raise FormatError("form_format_date_invalid", text=text) from None


def is_date(value: Any) -> bool:
    """Whether ``value`` is an ISO date ``aaaa-mm-dd`` that exists, from the year 1000."""
    if not isinstance(value, str) or not value.isascii():
        return not isinstance(value, str)
    if not _DATE_ISO.fullmatch(value):
        return False
    try:
        return dt.date.fromisoformat(value).year >= 1000
    except ValueError:
        return False


def display_date(value: str) -> str:
    """``25/12/2024``."""
    return dt.date.fromisoformat(value).strftime("%d/%m/%Y")


# -- dates typed the short way ---------------------------------------------------------
#
# People write "20/11", "ontem", "dia 20" or "20 de novembro" and leave the year (or the
# month) out. Such a date is read only where the field's range makes it unambiguous:
#
# - "hoje", "ontem", "anteontem", "amanhã" (``words.date_*``) count from ``today``;
# - a day and a month without a year ("20/11", "20-11", "20 de novembro") are the most
#   recent such day on or before ``latest``, the last date the field accepts: at most a
#   year back (on 29/11/2026, "20/11" is 20/11/2026 and "20/12" is 20/12/2025). A 29/02
#   with no 29 February in that year is refused and the full date asked;
# - a day alone ("dia 20") is the most recent such day on or before ``latest`` (on
#   29/11/2026, "dia 30" is 30/10/2026);
# - a field with no latest date (one that takes future dates) cannot tell which year,
#   so the full date is asked ("Faltou o ano...").
#
# Every date read this way is shown back to the citizen ("Entendi 20/11/2026.").


@attrs.frozen
class DateWords:
    """The words of short dates, folded (see :func:`civic.text.fold`), from the catalogue.

    :param relative: a phrase and its distance in days from today (``ontem``: -1).
    :param months: a month's name or abbreviation and its number (``novembro``: 11).
    :param day: words announcing a day of the month (``dia``).
    :param filler: words that carry no date and are ignored (``de``, ``foi``, ``no``).
    """

    relative: Mapping[str, int]
    months: Mapping[str, int]
    day: frozenset[str]
    filler: frozenset[str]

    @classmethod
    def from_texts(cls, texts: Texts) -> DateWords:
        """The lists ``words.date_today``, ``words.date_yesterday``,
        ``words.date_day_before_yesterday``, ``words.date_tomorrow``, ``words.month_1``
        ... ``words.month_12``, ``words.date_day`` and ``words.date_filler``."""
        filler = texts.words("date_filler")
        relative: dict[str, int] = {}
        for name, days in (
            ("date_day_before_yesterday", -2),
            ("date_yesterday", -1),
            ("date_today", 0),
            ("date_tomorrow", 1),
        ):
            for phrase in texts.words(name):
                relative[" ".join(w for w in phrase.split() if w not in filler)] = days
        months = {word: month for month in range(1, 13) for word in texts.words(f"month_{month}")}
        return cls(relative, months, texts.words("date_day"), filler)


@attrs.frozen
class DateReading:
    """A date read from what a citizen typed.

    :param value: the ISO date (``2026-11-20``).
    :param complete: whether it was typed whole, in digits (``20/11/2026``); otherwise
        civic worked it out and should say which date it understood.
    """

    value: str
    complete: bool


_DAY = re.compile(r"([0-9]{1,2})o?")  # "1o" is "1º" folded
_MONTH = re.compile(r"[0-9]{1,2}")
_YEAR = re.compile(r"[0-9]{4}")


def read_date(
    text: str, today: dt.date, words: DateWords, *, latest: dt.date | None = None
) -> DateReading:
    """The date a citizen means: a whole date (see :func:`normalise_date`), or a short
    one ("20/11", "ontem", "dia 20", "20 de novembro") read by the rules above.

    :param today: the city's date of the message (never the clock's).
    :param latest: the last date the field accepts (today, for a field that refuses
        future dates), or ``None`` when it takes any date.
    Raises :class:`FormatError`.
    """
    try:
        return DateReading(normalise_date(text), complete=True)
    except FormatError as error:
        if error.key != "form_format_date":
            raise
        refused = error
    tokens = [token for token in fold(text).split() if token not in words.filler]
    if not tokens or len(tokens) > 4:
        raise refused
    phrase = " ".join(tokens)

    def short(value: str) -> DateReading:
        """A date read from a short answer; one before the year 1000 is no date."""
        if not is_date(value):
            raise refused
        return DateReading(value, complete=False)

    if phrase in words.relative:
        try:
            return short((today + dt.timedelta(days=words.relative[phrase])).isoformat())
        except OverflowError:
            raise refused from None
    named_day = tokens[0] in words.day
    parts = _date_parts(tokens[1:] if named_day else tokens, words.months)
    if parts is None or (parts[1] is None and not named_day):
        raise refused
    day, month, year = parts
    if year is not None and month is not None:
        return short(_whole_date(day, month, year))
    found = None if latest is None else _latest_day(day, month, latest)
    if found is not None:
        return short(found.isoformat())
    if not _may_exist(day, month):
        shown = f"{day:02d}" if month is None else f"{day:02d}/{month:02d}"
        raise FormatError("form_format_date_invalid", text=shown)
    example = _example_date(day, month, today, latest)
    raise FormatError(
        "form_format_date_no_month" if month is None else "form_format_date_no_year",
        example=example,
    )


def _date_parts(
    tokens: list[str], months: Mapping[str, int]
) -> tuple[int, int | None, int | None] | None:
    """``(day, month, year)`` from ``["20"]``, ``["20", "11"]``, ``["20", "novembro",
    "2025"]``; ``None`` when the tokens are not a date. Values are not checked yet."""
    if not 1 <= len(tokens) <= 3 or not (day := _DAY.fullmatch(tokens[0])):
        return None
    if len(tokens) == 1:
        return int(day[1]), None, None
    month = months.get(tokens[1])
    if month is None and _MONTH.fullmatch(tokens[1]):
        month = int(tokens[1])
    if month is None:
        return None
    if len(tokens) == 2:
        return int(day[1]), month, None
    if not _YEAR.fullmatch(tokens[2]):
        return None
    return int(day[1]), month, int(tokens[2])


def _whole_date(day: int, month: int, year: int) -> str:
    if year < 1000:
        raise FormatError("form_format_date")
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        raise FormatError(
            "form_format_date_invalid", text=f"{day:02d}/{month:02d}/{year}"
        ) from None


def _latest_day(day: int, month: int | None, latest: dt.date) -> dt.date | None:
    """The most recent date on or before ``latest``, at most a year back, with this day
    (and this month, when given)."""
    year, current = latest.year, latest.month
    for _ in range(13):
        if month is None or current == month:
            try:
                found = dt.date(year, current, day)
            except ValueError:
                found = None
            if found is not None and found <= latest:
                return found
        year, current = (year, current - 1) if current > 1 else (year - 1, 12)
        if year < 1:
            return None
    return None


def _may_exist(day: int, month: int | None) -> bool:
    """Whether some year has this day (of this month): 2000 was a leap year."""
    if month is None:
        return 1 <= day <= 31
    try:
        dt.date(2000, month, day)
    except ValueError:
        return False
    return True


def _example_date(day: int, month: int | None, today: dt.date, latest: dt.date | None) -> str:
    """A whole date like the one typed, in the latest possible year (from ``latest``, or
    ``today``'s year when any date goes) and not after ``latest``, as an example; the
    format's own example when the last eight years have none."""
    near = latest or today
    for year in range(near.year, max(near.year - 8, 0), -1):
        try:
            found = dt.date(year, month or near.month, day)
        except ValueError:
            continue
        if latest is None or found <= latest:
            return found.strftime("%d/%m/%Y")
    return FORMATS["date"].example


# -- numbers and money --------------------------------------------------------------

_THOUSANDS_DOT = re.compile(r"[1-9][0-9]{0,2}(?:\.[0-9]{3})+")
_THOUSANDS_COMMA = re.compile(r"[1-9][0-9]{0,2}(?:,[0-9]{3})+")
_PLAIN = re.compile(r"[0-9]+")
#: Amounts from here on are typing mistakes (and beyond exact decimal arithmetic).
MONEY_LIMIT = Decimal("1e15")
_MONEY_WORDS = re.compile(r"^(?:r\s*\$|rs\.?\s)\s*|\s*(?:reais|real|r\$)$", re.IGNORECASE)


def parse_decimal(text: str) -> Decimal:
    """A number as Brazilians and others type it: ``1.234,56``, ``1234.56``, ``1.234``
    (one thousand two hundred thirty-four), ``3,5``, ``-2``. Raises ``ValueError``, also
    for ``1,500``, which Brazilians and others read differently."""
    text = _clean(text).replace(" ", "")
    sign = "-" if text.startswith("-") else ""
    text = text.removeprefix("-") if sign else text.removeprefix("+")
    if len(text) > 30:
        raise ValueError("number too long")
    if "." in text and "," in text:
        decimal_mark = "." if text.rfind(".") > text.rfind(",") else ","
        whole, _, fraction = text.rpartition(decimal_mark)
        thousands = "," if decimal_mark == "." else "."
        if not (_PLAIN.fullmatch(fraction) and _is_grouped(whole, thousands)):
            raise ValueError(f"not a number: {text!r}")
        return Decimal(f"{sign}{whole.replace(thousands, '')}.{fraction}")
    if _THOUSANDS_DOT.fullmatch(text):
        return Decimal(sign + text.replace(".", ""))
    if _THOUSANDS_COMMA.fullmatch(text):
        # "1,500": one and a half in Brazil, fifteen hundred elsewhere. Refuse rather
        # than guess an amount a thousand times off.
        raise ValueError(f"ambiguous number: {text!r}")
    match = re.fullmatch(r"([0-9]+)(?:[.,]([0-9]+))?", text)
    if not match:
        raise ValueError(f"not a number: {text!r}")
    return Decimal(f"{sign}{match[1]}.{match[2] or '0'}")


def _is_grouped(whole: str, separator: str) -> bool:
    """Whether ``whole`` is digits, optionally grouped by threes with ``separator``."""
    if _PLAIN.fullmatch(whole):
        return True
    pattern = _THOUSANDS_DOT if separator == "." else _THOUSANDS_COMMA
    return bool(pattern.fullmatch(whole))


def normalise_money(text: str) -> str:
    """A decimal string with two places (``"1234.56"``) from ``R$ 1.234,56``, ``1234.56``,
    ``1.234``, ``50 reais``, ``R$50``, ``50,00``."""
    text = _clean(text)
    for _ in range(2):
        text = _MONEY_WORDS.sub("", text).strip()
    try:
        amount = parse_decimal(text)
    except (ValueError, InvalidOperation):
        raise FormatError("form_format_money") from None
    if amount < 0 or amount >= MONEY_LIMIT:
        raise FormatError("form_format_money")
    if amount != amount.quantize(Decimal("0.01")):
        raise FormatError("form_format_money_cents")
    return str(amount.quantize(Decimal("0.01")))


def is_money(value: Any) -> bool:
    """Whether ``value`` is a non-negative decimal string with two places, below the limit."""
    if not isinstance(value, str):
        return True
    return bool(re.fullmatch(r"(?:0|[1-9][0-9]{0,14})\.[0-9]{2}", value))


def display_money(value: str) -> str:
    """``R$ 1.234,56``."""
    whole, _, cents = value.partition(".")
    grouped = f"{int(whole):,}".replace(",", ".")
    return f"R$ {grouped},{cents or '00'}"


# -- e-mail -------------------------------------------------------------------------

_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])"
)


def normalise_email(text: str) -> str:
    """The trimmed address with the domain in lower case (``Maria@Exemplo.com.br`` →
    ``Maria@exemplo.com.br``)."""
    text = _clean(text)
    local, _, domain = text.rpartition("@")
    value = f"{local}@{domain.lower()}"
    if not is_email(value):
        raise FormatError("form_format_email")
    return value


def is_email(value: Any) -> bool:
    """Whether ``value`` is a plain e-mail address (``nome@dominio.com.br``)."""
    if not isinstance(value, str):
        return True
    local = value.rpartition("@")[0]
    return len(value) <= 254 and len(local) <= 64 and bool(_EMAIL.fullmatch(value))


def display_email(value: str) -> str:
    return value


# -- the catalogue ------------------------------------------------------------------


@attrs.frozen
class Format:
    """A format's functions and an example of it as a citizen would type it."""

    name: str
    normalise: Callable[[str], str]
    check: Callable[[Any], bool]
    display: Callable[[str], str]
    example: str


FORMATS: dict[str, Format] = {
    fmt.name: fmt
    for fmt in (
        Format("cpf", normalise_cpf, is_cpf, display_cpf, "529.982.247-25"),
        Format("cnpj", normalise_cnpj, is_cnpj, display_cnpj, "11.222.333/0001-81"),
        Format("cpf-cnpj", normalise_cpf_cnpj, is_cpf_cnpj, display_cpf_cnpj, "11.222.333/0001-81"),
        Format("cep", normalise_cep, is_cep, display_cep, "37640-000"),
        Format("phone", normalise_phone, is_phone, display_phone, "(35) 99839-1153"),
        Format("date", normalise_date, is_date, display_date, "25/12/2024"),
        Format("money", normalise_money, is_money, display_money, "R$ 1.234,56"),
        Format("email", normalise_email, is_email, display_email, "maria@exemplo.com.br"),
    )
}


def normalise(format_name: str, text: str) -> str:
    """The normalised value of ``text`` in format ``format_name``.

    Raises :class:`FormatError` (a ``ValueError`` with a Portuguese message) when ``text``
    does not fit, and ``KeyError`` for an unknown format.
    """
    return FORMATS[format_name].normalise(text)


def display(format_name: str, value: str) -> str:
    """How a normalised value is shown to people; the value itself for unknown formats."""
    fmt = FORMATS.get(format_name)
    if fmt is None or not isinstance(value, str) or not fmt.check(value):
        return str(value)
    return fmt.display(value)
