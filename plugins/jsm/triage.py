"""Enlistment triage in the chat: from a birth date, say where he stands.

The birth date is read (:mod:`civic_jsm.dates`), used to answer, and forgotten: it is
never stored anywhere but in the message log, where the citizen's own message already
is, and the answer does not repeat it.

Every sentence is a catalogue text (``locales/pt-BR/jsm.json``); the facts in them (the
fine and its date, the contacts) come from the city's ``[departments.jsm]`` only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from civic.config import DepartmentConfig
from civic.text import fold
from civic.texts import Texts
from civic.values import Answer
from civic_jsm.dates import br_date
from civic_jsm.enlistment import Status, enlistment_status, women_plan_allows

#: The setting listing the years whose plan offers women's enlistment in the city.
WOMEN_SETTING = "women_enlistment_years"
#: A configured contact's key (folded, without spaces) and the catalogue label it takes:
#: ``jsm.contact.<label>``. Other keys are shown as the city wrote them, capitalised.
CONTACT_LABELS = {
    "phone": "phone",
    "telefone": "phone",
    "whatsapp": "whatsapp",
    "email": "email",
    "address": "address",
    "endereco": "address",
    "site": "site",
}


def triage(birth_date: dt.date, today: dt.date, settings: DepartmentConfig, texts: Texts) -> Answer:
    """What to tell a man born on ``birth_date`` (not after ``today``), on ``today``,
    followed by the JSM's configured contacts; a finished answer (``done=True``)."""
    status = enlistment_status(birth_date, today)
    parts = [_STATUS_TEXT[status.kind](status, today, settings.settings, texts)]
    contacts = contact_lines(settings.contacts, texts)
    if contacts:
        parts.append(contacts)
    return Answer("\n\n".join(parts), done=True)


def _period(status: Status) -> dict[str, str]:
    return {"start": br_date(status.period_start), "end": br_date(status.period_end)}


def _not_yet(status: Status, _today: dt.date, _settings: Mapping[str, Any], texts: Texts) -> str:
    """Before 1 January of the year he turns 18 (Decreto nº 57.654/1966, art. 41)."""
    return texts("jsm.not_yet", **_period(status))


def _on_time(status: Status, today: dt.date, settings: Mapping[str, Any], texts: Texts) -> str:
    """From 1 January to 30 June of the year he turns 18 (Decreto nº 57.654/1966, art.
    41); women enlist in the same period where this year's plan allows it (Decreto nº
    12.154/2024)."""
    text = texts("jsm.on_time", documents=texts("jsm.documents"), **_period(status))
    if women_plan_allows(today.year, settings.get(WOMEN_SETTING)):
        text += "\n" + texts("jsm.on_time_women")
    return text


def _late(status: Status, today: dt.date, settings: Mapping[str, Any], texts: Texts) -> str:
    """After 30 June of the year he turns 18: late, with a fine (Decreto nº 57.654/1966,
    arts. 41 and 176). In that same year he "completa" 18, whether or not his birthday
    has come; after it, he "completou"."""
    key = "jsm.late_this_year" if today.year == status.year_turning_18 else "jsm.late_past_year"
    return " ".join(
        (
            texts(key, **_period(status)),
            texts("jsm.late_regularise", documents=texts("jsm.documents")),
            fine_sentence(
                settings.get("late_fine"), settings.get("fine_date"), texts, "jsm.late_fine"
            ),
            texts("jsm.late_enlisted"),
        )
    )


def _exempt(status: Status, _today: dt.date, _settings: Mapping[str, Any], texts: Texts) -> str:
    """After 31 December of the year he turned 45 (Lei nº 4.375/1964, art. 5º)."""
    return texts("jsm.exempt", end=f"31/12/{status.obligation_end_year}")


_STATUS_TEXT: dict[str, Callable[[Status, dt.date, Mapping[str, Any], Texts], str]] = {
    "not_yet": _not_yet,
    "on_time": _on_time,
    "late": _late,
    "exempt": _exempt,
}


def setting_date(raw: object) -> dt.date | None:
    """A date setting's value (a TOML date or ``aaaa-mm-dd``) as a date; ``None`` when
    unset or not a date."""
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        return None


def fine_sentence(amount: object, date: object, texts: Texts, key: str) -> str:
    """The sentence of a fine: ``<key>`` with the city's ``amount``, ``<key>_dated`` when
    the city also set the ``date`` of that value (``fine_date``), ``<key>_unknown`` when
    it set no amount. The values are corrected periodically (Decreto nº 57.654/1966, arts.
    176 and 177): never hard-coded.

    ``key`` is ``jsm.late_fine`` (the ``late_fine`` setting) or ``jsm.lost_fine`` (the
    ``lost_certificate_fine`` setting).
    """
    if not isinstance(amount, str) or not amount.strip():
        return texts(f"{key}_unknown")
    day = setting_date(date)
    if day is None:
        return texts(key, fine=amount.strip())
    return texts(f"{key}_dated", fine=amount.strip(), date=br_date(day))


def contact_lines(contacts: Mapping[str, str], texts: Texts) -> str:
    """The JSM's configured contacts, one per line; ``""`` when none is configured."""
    lines = []
    for key, value in contacts.items():
        if not isinstance(value, str) or not value.strip():
            continue
        label = CONTACT_LABELS.get(fold(key).replace(" ", ""))
        name = texts(f"jsm.contact.{label}") if label else key.capitalize()
        lines.append(f"{name}: {value.strip()}")
    return "\n".join([texts("jsm.contacts"), *lines]) if lines else ""
