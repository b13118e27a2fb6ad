"""The JSM's answers that depend on the city's settings or on today's date.

Three topics have a static answer (its catalogue text ``jsm.topics.<key>.answer``, which a
city may override); the JSM's ``department_message`` answers them with
:func:`dynamic_answer`, which says that text and then what the city's configuration
(``[departments.jsm]``) and the date of the message add. What the city has not
configured is left to the Junta ("confirme com a Junta"), never guessed.

Sources:

- women's voluntary enlistment: Decreto nº 12.154/2024 (only in the year she turns 18,
  from 1 January to 30 June, no fine, only where the year's Plano Geral de Convocação
  allows it);
- a lost certificate counts as destroyed and carries a fine: Decreto nº 57.654/1966
  (Regulamento da Lei do Serviço Militar), art. 177;
- EXAR: reservists present themselves in their first five years, in December, in person
  or online, in the window the Army publishes each year (the city configures it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from civic.config import DepartmentConfig
from civic.texts import Texts
from civic.values import Answer, Topic
from civic_jsm.dates import br_date
from civic_jsm.enlistment import ENLISTMENT_AGE, women_plan_allows
from civic_jsm.triage import WOMEN_SETTING, fine_sentence, setting_date


def women_answer(intro: str, today: dt.date, settings: Mapping[str, Any], texts: Texts) -> str:
    """Who may enlist this year (or next, after 30 June) and whether the plan allows it
    here (Decreto nº 12.154/2024: only in the year she turns 18, 1 January to 30 June).

    A year the city's ``women_enlistment_years`` says nothing about (next year's plan,
    usually not yet out after 30 June; a list not updated) is "confirm with the Junta",
    never "not offered" (see :func:`~civic_jsm.enlistment.women_plan_allows`).
    """
    year = today.year
    end = dt.date(year, 6, 30)
    parts = [intro]
    if today <= end:
        parts.append(
            texts(
                "jsm.women_this_year",
                year=str(year),
                birth_year=str(year - ENLISTMENT_AGE),
                end=br_date(end),
            )
        )
    else:
        parts.append(
            texts(
                "jsm.women_next_year",
                year=str(year),
                end=br_date(end),
                next_year=str(year + 1),
                next_birth_year=str(year + 1 - ENLISTMENT_AGE),
                next_start=br_date(dt.date(year + 1, 1, 1)),
                next_end=br_date(dt.date(year + 1, 6, 30)),
            )
        )
        year += 1
    allows = women_plan_allows(year, settings.get(WOMEN_SETTING))
    if allows is True:
        parts.append(
            texts("jsm.women_plan_allows", year=str(year), documents=texts("jsm.documents"))
        )
    elif allows is False:
        parts.append(texts("jsm.women_plan_excludes", year=str(year)))
    else:
        parts.append(texts("jsm.women_plan_unknown", year=str(year)))
    return "\n\n".join(parts)


def lost_answer(intro: str, _today: dt.date, settings: Mapping[str, Any], texts: Texts) -> str:
    """A lost certificate: a second copy, and a fine (Decreto nº 57.654/1966, art. 177)
    whose amount and date are the city's ``lost_certificate_fine`` and ``fine_date``."""
    fine = fine_sentence(
        settings.get("lost_certificate_fine"), settings.get("fine_date"), texts, "jsm.lost_fine"
    )
    return f"{intro} {fine}"


def exar_answer(intro: str, today: dt.date, settings: Mapping[str, Any], texts: Texts) -> str:
    """The EXAR, with this year's window when the city configured it (``exar``, with
    ``start`` and ``end``) and it has not closed; otherwise no date is said."""
    window = settings.get("exar")
    start = setting_date(window.get("start")) if isinstance(window, Mapping) else None
    end = setting_date(window.get("end")) if isinstance(window, Mapping) else None
    if start is None or end is None or end < start or end < today:
        return f"{intro} {texts('jsm.exar_unknown')}"
    window_text = texts(
        "jsm.exar_window", year=str(start.year), start=br_date(start), end=br_date(end)
    )
    return f"{intro} {window_text}"


#: The topics answered here, by key.
BUILDERS: dict[str, Callable[[str, dt.date, Mapping[str, Any], Texts], str]] = {
    "women": women_answer,
    "lost_certificate": lost_answer,
    "reservists": exar_answer,
}


def dynamic_answer(
    topic: Topic, today: dt.date, settings: DepartmentConfig, texts: Texts
) -> Answer | None:
    """The answer of a topic that depends on the settings or the date; else ``None``.

    ``topic`` is the localised topic (a city's override of its answer is its ``answer``);
    it is recognised by its ``key``.
    """
    build = BUILDERS.get(topic.key or "")
    if build is None:
        return None
    return Answer(build(topic.answer or "", today, settings.settings, texts), done=True)
