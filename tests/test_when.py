"""Opening hours and dates as Brazilians write them."""

from __future__ import annotations

import datetime as dt

import pytest

from civic.texts import Texts
from civic.when import describe_week, hour_text

TEXTS = Texts()
MORNING = (dt.time(8), dt.time(11, 30))
AFTERNOON = (dt.time(13), dt.time(17))


@pytest.mark.parametrize(
    ("week", "said"),
    [
        (
            {day: (MORNING, AFTERNOON) for day in ("mon", "tue", "wed", "thu", "fri")},
            "de segunda a sexta, das 8h às 11h30 e das 13h às 17h",
        ),
        (
            {"tue": (MORNING, AFTERNOON), "thu": (MORNING, AFTERNOON)},
            "às terças e quintas, das 8h às 11h30 e das 13h às 17h",
        ),
        (
            {"mon": (AFTERNOON,), "tue": (AFTERNOON,), "sat": (MORNING,)},
            "às segundas e terças, das 13h às 17h; aos sábados, das 8h às 11h30",
        ),
        (
            {"mon": (MORNING,), "wed": (MORNING,), "fri": (MORNING,), "sun": (AFTERNOON,)},
            "às segundas, quartas e sextas, das 8h às 11h30; aos domingos, das 13h às 17h",
        ),
        ({}, ""),
    ],
)
def test_opening_hours_read_as_written_on_the_door(
    week: dict[str, tuple[tuple[dt.time, dt.time], ...]], said: str
) -> None:
    assert describe_week(week, TEXTS) == said


def test_hours_drop_zero_minutes() -> None:
    assert [hour_text(dt.time(h, m)) for h, m in ((8, 0), (0, 0), (11, 30), (17, 5))] == [
        "8h",
        "0h",
        "11h30",
        "17h05",
    ]


def test_a_city_says_the_days_its_own_way() -> None:
    texts = Texts(overrides={"hours_days_run": "{first} à {last}"})
    week = {day: (MORNING,) for day in ("mon", "tue", "wed")}
    assert describe_week(week, texts) == "segunda à quarta, das 8h às 11h30"
