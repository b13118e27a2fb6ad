"""The enlistment rule: is a man not yet due, on time, late, or past military age?

The rule, from Brazilian law:

- Lei nº 4.375/1964 (Lei do Serviço Militar), art. 5º: the military obligation, in
  peacetime, begins on 1 January of the year the citizen turns 18 and lasts until
  31 December of the year he turns 45.
- Decreto nº 57.654/1966 (Regulamento da Lei do Serviço Militar), art. 41, § 1º:
  enlistment must be done within the first six months of the year he turns 18, that is
  from 1 January to 30 June; § 5º: whoever misses it pays a fine ("multa", art. 176).

So only the *year* of birth matters: a man born on any day of 2008 enlists from
1 January to 30 June 2026. A 29 February birthday needs no special case (the rule never
looks for the birthday in a later year), and neither does the time of day.

The rule covers the obligatory enlistment of men; women and volunteers enlist by
choice, which the citizen-facing texts say without asking anyone's sex.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import attrs

#: The age at which the enlistment period opens (1 January of that year).
ENLISTMENT_AGE = 18
#: The age whose year ends the military obligations (31 December of that year).
LAST_OBLIGED_AGE = 45

Kind = Literal["not_yet", "on_time", "late", "exempt"]


class FutureBirthDate(ValueError):
    """The birth date is after today: the citizen mistyped it."""


@attrs.frozen
class Status:
    """Where a man born on a given date stands, on a given day.

    :param kind: ``"not_yet"`` (the period has not opened), ``"on_time"`` (inside the
        period), ``"late"`` (the period closed; enlisting now means a fine), or
        ``"exempt"`` (after 31 December of the year he turned 45: no longer obliged).
    :param year_turning_18: the year he turns 18, the year of his enlistment period.
    :param period_start: 1 January of that year.
    :param period_end: 30 June of that year.
    :param obligation_end_year: the year he turns 45; his obligations end on its
        31 December (kept as a year: for a birth after 9954 that date is not a ``date``).
    """

    kind: Kind
    year_turning_18: int
    period_start: dt.date
    period_end: dt.date
    obligation_end_year: int

    @property
    def obligation_end(self) -> dt.date:
        """31 December of the year he turns 45 (the last day he is obliged)."""
        return dt.date(self.obligation_end_year, 12, 31)


def enlistment_status(birth_date: dt.date, today: dt.date) -> Status:
    """The enlistment status of a man born on ``birth_date``, on ``today``.

    Raises :class:`FutureBirthDate` when ``birth_date`` is after ``today``, and
    ``ValueError`` when the year he turns 18 is beyond the calendar (after 9999).
    """
    if birth_date > today:
        raise FutureBirthDate(f"birth date {birth_date} is after {today}")
    year = birth_date.year + ENLISTMENT_AGE
    if year > dt.MAXYEAR:
        raise ValueError(f"the year of turning {ENLISTMENT_AGE} is after {dt.MAXYEAR}")
    start, end = dt.date(year, 1, 1), dt.date(year, 6, 30)
    last_year = birth_date.year + LAST_OBLIGED_AGE
    return Status(
        kind=_kind(today, start, end, last_year),
        year_turning_18=year,
        period_start=start,
        period_end=end,
        obligation_end_year=last_year,
    )


def _kind(today: dt.date, start: dt.date, end: dt.date, last_year: int) -> Kind:
    if today < start:
        return "not_yet"
    if today <= end:
        return "on_time"
    if today.year > last_year:
        return "exempt"
    return "late"


# -- women: voluntary enlistment ----------------------------------------------------


def women_window(birth_date: dt.date, today: dt.date) -> Literal["not_yet", "open", "closed"]:
    """Where a woman born on ``birth_date`` stands for voluntary enlistment on ``today``.

    Decreto nº 12.154/2024 (women's voluntary military service): a woman may enlist only
    in the year she turns 18, from 1 January to 30 June, and pays no fine, since nothing
    obliges her. Whether the year's Plano Geral de Convocação offers it in her
    municipality is a separate question (:func:`women_plan_allows`).
    """
    year = birth_date.year + ENLISTMENT_AGE
    if today < dt.date(year, 1, 1):
        return "not_yet"
    if today <= dt.date(year, 6, 30):
        return "open"
    return "closed"


def women_plan_allows(year: int, plan_years: object) -> bool | None:
    """Whether the city's configuration says the year's plan offers women's enlistment.

    ``plan_years`` is the JSM's ``women_enlistment_years`` setting, the years whose Plano
    Geral de Convocação (Decreto nº 12.154/2024) includes the municipality (integers, or
    digits as text). ``True``: ``year`` is listed. ``False``: it is not, and the city
    listed a later year, so it has considered this one. ``None``: the city has not said
    (no list, an empty one, or ``year`` after every listed year, as when next year's plan
    is not out or the list was not updated): the citizen is told to ask the Junta, never
    told no, since a woman may enlist only in the one year she turns 18.
    """
    if not isinstance(plan_years, list | tuple):
        return None
    years = {_year(value) for value in plan_years} - {None}
    if year in years:
        return True
    if any(listed > year for listed in years if listed is not None):
        return False
    return None


def _year(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdecimal() and value.strip().isascii():
        return int(value.strip())
    return None
