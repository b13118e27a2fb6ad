"""The JSM's answers that depend on the city's settings or on today's date.

Each topic below has a static ``answer`` (what the built-in topics plugin would say); the
JSM's ``department_message`` answers them with :func:`dynamic_answer` instead, from the
city's configuration (``[departments.jsm]``) and the date of the message. What the city
has not configured is left to the Junta ("confirme com a Junta"), never guessed.

Sources:

- women's voluntary enlistment: Decreto nº 12.154/2024 (only in the year she turns 18,
  from 1 January to 30 June, no fine, only where the year's Plano Geral de Convocação
  allows it);
- a lost certificate counts as destroyed and carries a fine: Decreto nº 57.654/1966
  (Regulamento da Lei do Serviço Militar), art. 177;
- what a man in debt with military service cannot do: Lei nº 4.375/1964 (Lei do Serviço
  Militar), art. 74;
- EXAR: reservists present themselves in their first five years, in December, in person
  or online, in the window the Army publishes each year (the city configures it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from civic.config import DepartmentConfig
from civic.values import Answer, Topic
from civic_jsm.enlistment import ENLISTMENT_AGE, women_plan_allows
from civic_jsm.triage import DOCUMENTS, NAME, SITE, WOMEN_SETTING, fine_date

WOMEN_TOPIC = Topic(
    title="Alistamento feminino (voluntário)",
    keywords=(
        "mulher",
        "mulheres",
        "feminino",
        "feminina",
        "alistamento feminino",
        "mulher pode",
        "mulheres podem",
        "sou mulher",
    ),
    answer="Para as mulheres, o alistamento é voluntário, no ano em que completam 18 anos, "
    "de 1º de janeiro a 30 de junho, sem multa (Decreto nº 12.154/2024).",
)
LOST_TOPIC = Topic(
    title="Perdi meu certificado militar",
    keywords=(
        "perdi",
        "perdido",
        "perda",
        "extraviado",
        "extraviei",
        "roubado",
        "furtado",
        "perdi meu certificado",
        "perdi o certificado",
        "certificado perdido",
        "perdi meu",
        "perdi minha",
    ),
    answer="Certificado perdido conta como inutilizado e tem multa (Decreto nº "
    "57.654/1966, art. 177). Peça a segunda via em *Agendar atendimento*.",
)
EXEMPTION_TOPIC = Topic(
    title="Certificado de Isenção (CI)",
    keywords=("isencao", "isento", "certificado de isencao", "deficiencia", "laudo"),
    answer="O Certificado de Isenção (CI) é o documento de quem é isento do serviço "
    "militar, por exemplo por incapacidade física ou mental comprovada por laudo médico. "
    "Para pedir o CI ou a segunda via dele, escolha *Agendar atendimento*.",
)
DEBT_TOPIC = Topic(
    title="Em dívida com o serviço militar: o que não posso fazer",
    keywords=("divida", "irregular", "passaporte", "concurso", "quitacao", "em dia"),
    answer="Quem está em dívida com o serviço militar não pode tirar passaporte, fazer "
    "concurso público, ocupar cargo público nem se matricular em alguns estabelecimentos "
    "de ensino (Lei nº 4.375/1964, art. 74). Para regularizar, procure a Junta.",
)
RESERVE_TOPIC = Topic(
    title="Reservistas",
    keywords=("reservista", "reserva", "exar", "apresentacao"),
    answer="Nos cinco primeiros anos depois de deixar o serviço, o reservista se apresenta "
    "todo ano no Exercício de Apresentação da Reserva (EXAR), em dezembro, pessoalmente "
    "ou pela internet.",
)


def _date(raw: object) -> dt.date | None:
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        return None


def _day(date: dt.date) -> str:
    return f"{date:%d/%m/%Y}"


def women_answer(today: dt.date, settings: Mapping[str, Any]) -> str:
    """Who may enlist this year (or next, after 30 June) and whether the plan allows it
    here (Decreto nº 12.154/2024)."""
    year = today.year
    parts = [
        "Para as mulheres, o alistamento é voluntário: só no ano em que completam 18 anos, "
        "de 1º de janeiro a 30 de junho, e sem multa (Decreto nº 12.154/2024). Ele só é "
        "possível onde o plano de convocação do ano permite."
    ]
    if today <= dt.date(year, 6, 30):
        parts.append(
            f"Em {year}, podem se alistar as nascidas em {year - ENLISTMENT_AGE}, até 30/06/{year}."
        )
    else:
        parts.append(
            f"O período de {year} terminou em 30/06/{year}. Em {year + 1}, poderão se "
            f"alistar as nascidas em {year + 1 - ENLISTMENT_AGE}, de 01/01/{year + 1} a "
            f"30/06/{year + 1}, se o plano daquele ano permitir."
        )
        year += 1
    allows = women_plan_allows(year, settings.get(WOMEN_SETTING))
    if allows is True:
        parts.append(
            f"O plano de {year} prevê o alistamento feminino aqui: ele é feito no site "
            f"{SITE} ou na {NAME}, levando {DOCUMENTS}."
        )
    elif allows is False:
        parts.append(f"O plano de {year} não prevê o alistamento feminino neste município.")
    else:
        parts.append("Confirme com a Junta se o plano do ano prevê o alistamento aqui.")
    return "\n\n".join(parts)


def lost_answer(_today: dt.date, settings: Mapping[str, Any]) -> str:
    """A lost certificate: a second copy, and a fine (Decreto nº 57.654/1966, art. 177)."""
    fine = settings.get("lost_certificate_fine")
    if isinstance(fine, str) and fine.strip():
        amount = f"multa de {fine.strip()}{fine_date(settings)}"
    else:
        amount = "multa; o valor é informado pela Junta"
    return (
        "Se você perdeu o seu certificado militar (CAM, CDI ou Certificado de Reservista), "
        f"peça a segunda via na {NAME}: escolha *Agendar atendimento* e "
        f"leve {DOCUMENTS}. O certificado perdido conta como inutilizado e tem {amount} "
        "(Decreto nº 57.654/1966, art. 177)."
    )


def exar_answer(today: dt.date, settings: Mapping[str, Any]) -> str:
    """The EXAR, with this year's window when the city configured it (``exar``)."""
    text = RESERVE_TOPIC.answer or ""
    window = settings.get("exar")
    start = _date(window.get("start")) if isinstance(window, Mapping) else None
    end = _date(window.get("end")) if isinstance(window, Mapping) else None
    if start is None or end is None or end < today:
        return f"{text} As datas são divulgadas pelo Exército a cada ano; confirme com a Junta."
    return f"{text} Em {start.year}, a apresentação vai de {_day(start)} a {_day(end)}."


_BUILDERS: dict[str, Callable[[dt.date, Mapping[str, Any]], str]] = {
    WOMEN_TOPIC.title: women_answer,
    LOST_TOPIC.title: lost_answer,
    RESERVE_TOPIC.title: exar_answer,
}


def dynamic_answer(topic: Topic, today: dt.date, settings: DepartmentConfig) -> Answer | None:
    """The answer of a topic that depends on the settings or the date; else ``None``."""
    build = _BUILDERS.get(topic.title)
    return Answer(build(today, settings.settings), done=True) if build else None
