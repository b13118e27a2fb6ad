"""Birth dates as people type them, and dates as Brazilians write them.

:func:`read_birth_date` finds a birth date in a citizen's message: ``15/03/2008``,
``15-3-2008``, ``15.03.2008``, ``15/3/08``, ``15 03 2008``, ``15 de março de 2008``,
``1º de jan de 2008``, ``2008-03-15``. The month names are the catalogue's word lists
``jsm.words.month_1`` ... ``jsm.words.month_12``, so a city can add the ones its citizens
use. The date is read, used, and forgotten (see :mod:`civic_jsm.triage`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from functools import lru_cache

import attrs

from civic.reading import Reading
from civic.text import PARSE_LIMIT
from civic.texts import Texts

#: The earliest birth year taken as typed: an earlier one is a typo (``15/03/1008``).
EARLIEST_YEAR = 1900
#: The word list of each month, by number.
MONTH_WORDS = {number: f"jsm.words.month_{number}" for number in range(1, 13)}

# A day, a month and a year with the same separator; the year of any length, so that a
# year of 1 or 3 digits is told apart (and refused) rather than ignored.
_BR_DATE = re.compile(
    r"(?<![0-9/.\-])([0-9]{1,2})\s*([/.\-])\s*([0-9]{1,2})\s*\2\s*([0-9]+)(?![0-9])"
)
# ISO; a one-digit month or day is matched so that it is refused with the format hint.
_ISO_DATE = re.compile(r"(?<![0-9/.\-])([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?![0-9])")
# "15 03 2008" (on the folded text, where "15/03/2008" reads the same): spaces only with
# a four-digit year, so that counts in a sentence are left alone.
_SPACED_DATE = re.compile(r"(?<![0-9])([0-9]{1,2}) ([0-9]{1,2}) ([0-9]{4})(?![0-9])")


@attrs.frozen
class Refusal:
    """A message that tried to give a birth date that cannot be used: the catalogue key
    of what to tell the citizen, and its values."""

    key: str
    values: Mapping[str, str] = attrs.field(factory=dict)


def br_date(date: dt.date) -> str:
    """``15/03/2026``: a date as Brazilians write it."""
    return f"{date.day:02d}/{date.month:02d}/{date.year:04d}"


def read_birth_date(message: Reading, today: dt.date, texts: Texts) -> dt.date | Refusal | None:
    """The birth date in ``message``, a :class:`Refusal` when the message tries to give
    one that cannot be used, or ``None`` when the message is about something else.

    A two-digit year is the latest year ending in those digits that is not after
    ``today``'s year (``08`` is 2008 in 2026, ``80`` is 1980): the reading the answer's
    own dates make plain. A date after ``today``, before :data:`EARLIEST_YEAR` or that does
    not exist is refused, as is a year of 1 or 3 digits.
    """
    text = message.text[:PARSE_LIMIT]
    if match := _ISO_DATE.search(text):
        year, month, day = match[1], match[2], match[3]
        if len(month) != 2 or len(day) != 2:
            return Refusal("jsm.ask_again")
        return _checked(match[0], int(year), int(month), int(day), today)
    if match := _BR_DATE.search(text):
        return _typed(match[0], match[1], match[3], match[4], today)
    folded = message.folded
    if match := _named_date(_month_words(texts)).search(folded):
        month = _month_number(match[2], texts)
        return _typed(match[0], match[1], str(month), match[3], today)
    if match := _SPACED_DATE.search(folded):
        return _typed(match[0], match[1], match[2], match[3], today)
    if folded in texts.words("jsm.words.relative_day") or _starts_with(
        folded, texts.words("jsm.words.birth")
    ):
        return Refusal("jsm.ask_again")
    if folded.isdigit() and len(folded) in (4, 8):  # a year, or ddmmaaaa run together
        return Refusal("jsm.ask_again")
    return None


def _typed(typed: str, day: str, month: str, year: str, today: dt.date) -> dt.date | Refusal:
    """The date of a day, a month and a year of 2 or 4 digits, checked."""
    if len(year) == 2:
        full = today.year - (today.year - int(year)) % 100
    elif len(year) == 4:
        full = int(year)
    else:
        return Refusal("jsm.four_digit_year")
    return _checked(typed, full, int(month), int(day), today)


def _checked(typed: str, year: int, month: int, day: int, today: dt.date) -> dt.date | Refusal:
    try:
        date = dt.date(year, month, day)
    except ValueError:
        return Refusal("jsm.date_invalid", {"date": " ".join(typed.split())})
    if date > today:
        return Refusal("jsm.date_future")
    if date.year < EARLIEST_YEAR:
        return Refusal("jsm.date_too_old")
    return date


def _starts_with(folded: str, words: frozenset[str]) -> bool:
    return any(folded == word or folded.startswith(f"{word} ") for word in words)


def _month_words(texts: Texts) -> tuple[frozenset[str], ...]:
    return tuple(texts.words(key) for key in MONTH_WORDS.values())


def _month_number(word: str, texts: Texts) -> int:
    return next(number for number, key in MONTH_WORDS.items() if word in texts.words(key))


@lru_cache(maxsize=8)
def _named_date(months: tuple[frozenset[str], ...]) -> re.Pattern[str]:
    """``15 de marco de 2008``, ``1o de jan de 2008``, ``15 marco 2008`` (folded text)."""
    names = sorted({word for words in months for word in words}, key=len, reverse=True)
    alternatives = "|".join(re.escape(name) for name in names)
    return re.compile(
        r"(?<![0-9])([0-9]{1,2})(?: ?o)? (?:de )?(" + alternatives + r") (?:de )?([0-9]+)(?![0-9])"
    )
