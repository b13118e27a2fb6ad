"""JSM — Junta do Serviço Militar: enlistment information and triage.

The chat informs and triages; it does not enlist anyone (that is done at the Army's
site, alistamento.eb.mil.br, or in person at the Junta). From a birth date the citizen
types, it tells him whether his enlistment period has opened, is open, or has closed
(see :mod:`civic_jsm.enlistment` for the rule), with the city's JSM contacts. It also
takes requests for an in-person appointment (the ``atendimento`` form).

City settings read from ``civic.toml``::

    [departments.jsm]
    late_fine = "R$ 5,37"                 # optional: the late-enlistment fine, as shown
    lost_certificate_fine = "R$ 26,85"    # optional: the fine for a lost certificate
    fine_date = 2026-01-01                # optional: the date of those values
    women_enlistment_years = [2026]       # years whose plan offers women's enlistment here
    exar = { start = 2026-12-01, end = 2026-12-31 }  # optional: this year's EXAR window
    contacts = { telefone = "(35) 3435-0000", endereco = "Rua ..., Centro" }

Whatever the city has not configured is left unsaid (the citizen is told to ask the
Junta), never guessed.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable

from civic import Answer, Department, Topic, hookimpl
from civic.config import DepartmentConfig
from civic.default_plugins.topics import match_topic
from civic.forms import load_form
from civic.texts import Texts
from civic.values import DepartmentAction
from civic_jsm.answers import (
    DEBT_TOPIC,
    EXEMPTION_TOPIC,
    LOST_TOPIC,
    RESERVE_TOPIC,
    WOMEN_TOPIC,
    dynamic_answer,
)
from civic_jsm.triage import (
    ASK_BIRTH_DATE,
    DOCUMENTS,
    NAME,
    SITE,
    Refusal,
    read_birth_date,
    triage,
)

#: The time zone of "today" when the JSM's configuration has no hours of its own.
DEFAULT_TIMEZONE = "America/Sao_Paulo"
FORM = "atendimento"


def local_date(now: dt.datetime, timezone: str = DEFAULT_TIMEZONE) -> dt.date:
    """The date of the message ``now`` (aware) in ``timezone``: the triage's "today"."""
    return now.astimezone(zoneinfo.ZoneInfo(timezone)).date()


STATUS_TOPIC = Topic(
    title="Verificar minha situação (alistamento)",
    keywords=("situacao", "verificar", "prazo", "atrasado", "multa", "idade", "nascimento"),
    answer=ASK_BIRTH_DATE,
)

DEPARTMENT = Department(
    slug="jsm",
    name=NAME,
    description="Alistamento militar, certificados e reservistas",
    keywords=(
        "alistamento",
        "alistar",
        "militar",
        "servico militar",
        "junta",
        "jsm",
        "reservista",
        "exercito",
        "dispensa",
        "cdi",
        "cam",
        "juramento",
        "bandeira",
    ),
    greeting=f"Você está na {NAME} (JSM). Como podemos ajudar?",
    topics=(
        STATUS_TOPIC,
        Topic(
            title="Como fazer o alistamento",
            keywords=("alistamento", "alistar", "como me alisto", "documentos"),
            answer="O alistamento é obrigatório para os homens no ano em que completam 18 "
            "anos, de 1º de janeiro a 30 de junho (para as mulheres, é voluntário). Ele é "
            f"feito no site oficial do Exército ({SITE}) ou pessoalmente na {NAME}, "
            f"levando {DOCUMENTS}. Para saber o seu prazo, escolha "
            "*Verificar minha situação*.",
        ),
        Topic(
            title="Agendar atendimento ou pedir 2ª via de certificado",
            keywords=(
                "agendar",
                "agendamento",
                "segunda via",
                "2a via",
                "cam",
                "presencial",
                "segunda via do cdi",
                "2a via do cdi",
                "segunda via do reservista",
                "segunda via do certificado",
                "2a via do certificado",
                "segunda via do ci",
            ),
            form=FORM,
        ),
        Topic(
            title="Certificado de dispensa (CDI)",
            keywords=("cdi", "dispensa", "certificado de dispensa"),
            answer="O Certificado de Dispensa de Incorporação (CDI) é o documento de quem "
            "se alistou e foi dispensado de servir. Ele é entregue depois do Juramento à "
            "Bandeira. Para pedir atendimento sobre o CDI, escolha *Agendar atendimento*.",
        ),
        Topic(
            title="Juramento à Bandeira",
            keywords=("juramento", "bandeira"),
            answer="O Juramento à Bandeira é a cerimônia em que o dispensado presta o "
            "compromisso com a Pátria; depois dele, recebe o CDI. A data e o local são "
            "informados pela Junta.",
        ),
        RESERVE_TOPIC,
        WOMEN_TOPIC,
        LOST_TOPIC,
        EXEMPTION_TOPIC,
        DEBT_TOPIC,
        Topic(
            title="Falar com um atendente",
            keywords=("atendente", "humano"),
            handover=True,
        ),
    ),
    forms={FORM: load_form(__name__, "atendimento.json")},
    protocol_prefix="JSM",
    order=30,
)


@hookimpl
def register_departments(register: Callable[[Department], None]) -> None:
    register(DEPARTMENT)


@hookimpl
def department_message(
    department: Department, text: str, texts: Texts, settings: DepartmentConfig, now: dt.datetime
) -> DepartmentAction | None:
    """Triage a birth date, refuse an unusable one, or ask for it; else ``None``."""
    if department.slug != DEPARTMENT.slug:
        return None
    found = read_birth_date(text, texts)
    if isinstance(found, dt.date):
        return triage(found, local_date(now, _timezone(settings)), settings)
    if isinstance(found, Refusal):
        return Answer(found.text)
    topic = match_topic(department, text)
    if topic is not None and topic.title == STATUS_TOPIC.title:
        # Not done: the citizen stays in the department to type the date.
        return Answer(ASK_BIRTH_DATE)
    if topic is not None:
        return dynamic_answer(topic, local_date(now, _timezone(settings)), settings)
    return None


@hookimpl
def form_submitted(department: Department, form: str) -> str | None:
    """After an appointment request: how the Junta answers and what to bring."""
    if department.slug != DEPARTMENT.slug or form != FORM:
        return None
    return (
        f"A {NAME} vai responder por este WhatsApp para combinar o dia e "
        f"o horário. No dia, leve {DOCUMENTS}."
    )


def _timezone(settings: DepartmentConfig) -> str:
    return settings.hours.timezone if settings.hours else DEFAULT_TIMEZONE
