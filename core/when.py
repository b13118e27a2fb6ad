"""Days, hours and dates as Brazilians write them: "de segunda a sexta, das 8h às 12h",
"às terças e quintas, das 8h às 11h30 e das 13h às 17h", "15/03/2026".

The words come from the text catalogue (``hours_*`` keys), so a city or a locale can say
them its own way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from itertools import pairwise

from civic.texts import Texts

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Spans = Sequence[tuple[dt.time, dt.time]]


#: The years a date filter may name (a report's period, a protocol search): far enough
#: for any record, near enough that a day or a year added or taken never overflows.
FILTER_YEARS = range(1900, 3000)


def filter_date(
    value: str | None, formats: Sequence[str] = ("%Y-%m-%d", "%d/%m/%Y")
) -> dt.date | None:
    """A date typed for a filter (``2026-11-29`` or ``29/11/2026``), or ``None`` when it is
    not one, or its year is outside :data:`FILTER_YEARS` (``9999-12-31``)."""
    value = (value or "").strip()
    for pattern in formats:
        try:
            day = dt.datetime.strptime(value, pattern).date()
        except ValueError:
            continue
        return day if day.year in FILTER_YEARS else None
    return None


def hour_text(moment: dt.time) -> str:
    """``8h``, ``11h30``, ``0h``: the hour as written on a city hall's door."""
    return f"{moment.hour}h{moment.minute:02d}" if moment.minute else f"{moment.hour}h"


def date_text(day: dt.date) -> str:
    """``15/03/2026``."""
    return f"{day:%d/%m/%Y}"


def spans_text(spans: Spans, texts: Texts) -> str:
    """``das 8h às 12h e das 13h às 17h``."""
    return join_words(
        [texts("hours_span", start=hour_text(s), end=hour_text(e)) for s, e in spans], texts
    )


def days_text(days: Sequence[int], texts: Texts) -> str:
    """``de segunda a sexta`` for three or more days in a row, otherwise the days in the
    plural (``às terças e quintas``, ``aos sábados``)."""
    if len(days) >= 3 and days[-1] - days[0] == len(days) - 1:
        return texts(
            "hours_days_run",
            first=texts(f"hours_day_{WEEKDAYS[days[0]]}"),
            last=texts(f"hours_day_{WEEKDAYS[days[-1]]}"),
        )
    plurals = [texts(f"hours_days_{WEEKDAYS[day]}") for day in days]
    # "às segundas, quartas e sextas": a preposition is said once for the days after it
    # that share it ("às sextas e aos sábados" keeps both).
    said = plurals[:1]
    for previous, current in pairwise(plurals):
        head, _, rest = current.partition(" ")
        said.append(rest if rest and previous.partition(" ")[0] == head else current)
    return join_words(said, texts)


def join_words(items: Sequence[str], texts: Texts) -> str:
    """``a``, ``a e b``, ``a, b e c``."""
    if len(items) <= 1:
        return "".join(items)
    return texts("hours_and", rest=", ".join(items[:-1]), last=items[-1])


def describe_week(week: Mapping[str, Spans], texts: Texts) -> str:
    """The opening hours, days with the same hours together:
    ``de segunda a sexta, das 8h às 12h e das 13h às 17h; aos sábados, das 8h às 12h``."""
    groups: dict[tuple[tuple[dt.time, dt.time], ...], list[int]] = {}
    for index, day in enumerate(WEEKDAYS):
        spans = tuple(week.get(day, ()))
        if spans:
            groups.setdefault(spans, []).append(index)
    parts = sorted(groups.items(), key=lambda item: item[1][0])
    return "; ".join(
        texts("hours_days_spans", days=days_text(days, texts), spans=spans_text(spans, texts))
        for spans, days in parts
    )
