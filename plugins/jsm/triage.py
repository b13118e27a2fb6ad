"""Enlistment triage in the chat: read a birth date from a message, say where he stands.

The birth date is read, used to answer, and forgotten: it is never stored anywhere but
in the message log, where the citizen's own message already is, and the answer does not
repeat it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import attrs

from civic.config import DepartmentConfig
from civic.formats import FormatError, normalise
from civic.text import fold
from civic.texts import Texts
from civic.values import Answer
from civic_jsm.enlistment import FutureBirthDate, Status, enlistment_status, women_plan_allows

#: What the citizen is asked for.
ASK_BIRTH_DATE = (
    "O alistamento é obrigatório para os homens no ano em que completam 18 anos "
    "(para as mulheres, é voluntário).\n\n"
    "Digite sua data de nascimento (dd/mm/aaaa), por exemplo 15/03/2008."
)
#: What the citizen is told when a message tries to give the date without giving it.
ASK_AGAIN = (
    "Preciso da data de nascimento completa, com dia, mês e ano. "
    "Digite no formato dd/mm/aaaa, por exemplo 15/03/2008."
)
FOUR_DIGIT_YEAR = (
    "Escreva o ano com 4 dígitos, por exemplo 15/03/2008, para não haver dúvida sobre o século."
)
#: The department's name in every text. The official name is "Junta de Serviço Militar"
#: (issue 10); the switch is this one line, made together with the README's transcript
#: and the core tests that quote the current name.
NAME = "Junta do Serviço Militar"
SITE = "alistamento.eb.mil.br"
#: The setting listing the years whose plan offers women's enlistment in the city.
WOMEN_SETTING = "women_enlistment_years"
DOCUMENTS = "documento de identidade com foto, CPF e comprovante de residência"

# A day, a month and a year with the same separator; the year of any length, so that a
# two-digit year can be told apart (and refused) rather than ignored.
_BR_DATE = re.compile(r"(?<![\d/.\-])(\d{1,2})\s*([/.\-])\s*(\d{1,2})\s*\2\s*(\d+)(?!\d)")
# ISO; a one-digit month or day is matched so that it is refused with the format hint.
_ISO_DATE = re.compile(r"(?<![\d/.\-])(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
#: The months as people write them (folded: "marco" for "março").
MONTHS = {
    name: number
    for number, name in enumerate(
        ("janeiro", "fevereiro", "marco", "abril", "maio", "junho", "julho", "agosto",
         "setembro", "outubro", "novembro", "dezembro"),
        start=1,
    )
}  # fmt: skip
# "15 de março de 2008", "1º de março de 2008", "15 março 2008" (on the folded text).
_NAMED_DATE = re.compile(
    r"(?<!\d)(\d{1,2})\s*(?:o|º)?\s+(?:de\s+)?(" + "|".join(MONTHS) + r")\s+(?:de\s+)?(\d+)(?!\d)"
)
# "15 03 2008": spaces only with a four-digit year, so counts in a sentence are left alone.
_SPACED_DATE = re.compile(r"(?<![\d/.\-])(\d{1,2}) +(\d{1,2}) +(\d{4})(?!\d)")
#: Messages that try to give a date without giving one (``ontem``, ``nasci em março``).
_RELATIVE_DAYS = frozenset({"hoje", "ontem", "anteontem", "amanha", "depois de amanha"})
_BIRTH_WORDS = ("nasci", "nascimento", "data de nascimento")
#: How configured contacts are labelled (other keys are shown capitalised).
_CONTACT_LABELS = {
    "phone": "Telefone",
    "telefone": "Telefone",
    "whatsapp": "WhatsApp",
    "email": "E-mail",
    "address": "Endereço",
    "endereco": "Endereço",
    "site": "Site",
}


@attrs.frozen
class Refusal:
    """A message that tried to give a birth date that cannot be used; ``text`` says why."""

    text: str


def read_birth_date(text: str, texts: Texts) -> dt.date | Refusal | None:
    """The birth date in ``text``, a :class:`Refusal` when the message tries to give one
    that cannot be used, or ``None`` when the message is about something else.

    Accepts ``dd/mm/aaaa`` (also with ``-``, ``.`` or spaces, and one-digit day or
    month), the month by name (``15 de março de 2008``) and ISO ``aaaa-mm-dd``; a
    two-digit year is refused, since ``08`` may be 1908 or 2008.
    """
    if match := _ISO_DATE.search(text):
        return _normalised(match.group(0), texts)
    if match := _BR_DATE.search(text):
        if len(match[4]) != 4:
            return Refusal(FOUR_DIGIT_YEAR)
        return _normalised(match.group(0), texts)
    folded = fold(text)
    if match := _NAMED_DATE.search(folded):
        if len(match[3]) != 4:
            return Refusal(FOUR_DIGIT_YEAR)
        return _normalised(f"{match[1]}/{MONTHS[match[2]]}/{match[3]}", texts)
    if match := _SPACED_DATE.search(folded):
        return _normalised(f"{match[1]}/{match[2]}/{match[3]}", texts)
    if folded in _RELATIVE_DAYS or folded.startswith(_BIRTH_WORDS):
        return Refusal(ASK_AGAIN)
    if folded.isdigit() and len(folded) in (4, 8):  # a year, or ddmmaaaa run together
        return Refusal(ASK_AGAIN)
    return None


def _normalised(candidate: str, texts: Texts) -> dt.date | Refusal:
    try:
        return dt.date.fromisoformat(normalise("date", candidate))
    except FormatError as error:
        return Refusal(texts(error.key, **error.values))


def triage(birth_date: dt.date, today: dt.date, settings: DepartmentConfig) -> Answer:
    """What to tell a man born on ``birth_date``, on ``today`` (the date is not repeated).

    A status is a finished answer (``done=True``); a birth date after ``today`` is
    refused and the citizen stays in the department to send it again.
    """
    try:
        status = enlistment_status(birth_date, today)
    except FutureBirthDate:
        return Answer(
            "Essa data de nascimento ainda não chegou. Confira a data e envie de novo "
            "no formato dd/mm/aaaa, por exemplo 15/03/2008."
        )
    except ValueError:
        return Answer("Não consegui usar essa data. Confira e envie de novo (dd/mm/aaaa).")
    parts = [_STATUS_TEXT[status.kind](status, today, settings.settings)]
    contacts = contact_lines(settings.contacts)
    if contacts:
        parts.append(contacts)
    return Answer("\n\n".join(parts), done=True)


def _day(date: dt.date) -> str:
    return f"{date:%d/%m/%Y}"


def _turns(status: Status, today: dt.date) -> str:
    """ "completa" in the year he turns 18, "completar" before it, "completou" after it."""
    if today.year < status.year_turning_18:
        return "completar"
    return "completa" if today.year == status.year_turning_18 else "completou"


def _not_yet(status: Status, today: dt.date, _settings: Mapping[str, Any]) -> str:
    return (
        "Ainda não é hora de se alistar. O seu período de alistamento será de "
        f"{_day(status.period_start)} a {_day(status.period_end)}, no ano em que você "
        f"{_turns(status, today)} 18 anos. A partir de {_day(status.period_start)}, faça o "
        f"alistamento no site {SITE} ou na {NAME}."
    )


def _on_time(status: Status, today: dt.date, settings: Mapping[str, Any]) -> str:
    text = (
        "Você está no período de alistamento: de "
        f"{_day(status.period_start)} a {_day(status.period_end)}, no ano em que completa "
        f"18 anos. Faça o alistamento até {_day(status.period_end)}:\n"
        f"• pela internet, no site oficial do Exército: {SITE}; ou\n"
        f"• pessoalmente na {NAME}, levando {DOCUMENTS}.\n"
        "No prazo, o alistamento é gratuito."
    )
    if women_plan_allows(today.year, settings.get(WOMEN_SETTING)):
        text += (
            "\nPara as mulheres, o alistamento é voluntário, no mesmo período e sem multa "
            "(Decreto nº 12.154/2024)."
        )
    return text


def _late(status: Status, today: dt.date, settings: Mapping[str, Any]) -> str:
    return (
        f"O prazo do seu alistamento terminou em {_day(status.period_end)} (o período foi "
        f"de {_day(status.period_start)} a {_day(status.period_end)}, no ano em que você "
        f"{_turns(status, today)} 18 anos). Se você ainda não se alistou, ainda dá para "
        f"regularizar: faça o alistamento no site {SITE} ou pessoalmente na {NAME}, "
        f"levando {DOCUMENTS}. {fine_sentence(settings)} "
        "Se você já se alistou, desconsidere este aviso. Para as mulheres, o alistamento é "
        "voluntário e nunca tem multa (Decreto nº 12.154/2024)."
    )


def _exempt(status: Status, _today: dt.date, _settings: Mapping[str, Any]) -> str:
    return (
        "Pela data informada, suas obrigações com o serviço militar terminaram em "
        f"31/12/{status.obligation_end_year}, no fim do ano em que você completou 45 anos: "
        "você não é mais obrigado a se alistar. Se precisar de um documento militar, "
        "escolha *Agendar atendimento* no menu da Junta ou fale com um atendente."
    )


_STATUS_TEXT = {"not_yet": _not_yet, "on_time": _on_time, "late": _late, "exempt": _exempt}


def fine_date(settings: Mapping[str, Any]) -> str:
    """`` (valor de dd/mm/aaaa)`` from the ``fine_date`` setting; ``""`` when unset."""
    raw = settings.get("fine_date")
    try:
        day = raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw))
    except ValueError:
        return ""
    return f" (valor de {_day(day)})"


def fine_sentence(settings: Mapping[str, Any]) -> str:
    """The late-enlistment fine: the city's ``late_fine`` when configured, dated by its
    ``fine_date`` (the value is corrected periodically: Decreto nº 57.654/1966, art. 176;
    never hard-coded)."""
    fine = settings.get("late_fine")
    if isinstance(fine, str) and fine.strip():
        return f"O alistamento fora do prazo tem multa de {fine.strip()}{fine_date(settings)}."
    return "O alistamento fora do prazo tem multa; o valor é informado pela Junta."


def contact_lines(contacts: Mapping[str, str]) -> str:
    """The JSM's configured contacts, one per line; ``""`` when none is configured."""
    lines = [
        f"{_CONTACT_LABELS.get(fold(key).replace(' ', ''), key.capitalize())}: {value}"
        for key, value in contacts.items()
        if isinstance(value, str) and value.strip()
    ]
    return "\n".join([f"Contatos da {NAME}:", *lines]) if lines else ""
