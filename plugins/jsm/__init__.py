"""JSM — Junta de Serviço Militar: enlistment information and triage.

The chat informs and triages; it does not enlist anyone (that is done at the Army's
site, alistamento.eb.mil.br, or in person at the Junta). From a birth date the citizen
types, it tells him whether his enlistment period has opened, is open, or has closed
(see :mod:`civic_jsm.enlistment` for the rule: Lei nº 4.375/1964, art. 5º; Decreto nº
57.654/1966, art. 41), with the city's JSM contacts. It answers about certificates (CDI,
CI, second copies, a lost one: Decreto nº 57.654/1966, art. 177), what a man in debt with
military service cannot do (Lei nº 4.375/1964, art. 74), women's voluntary enlistment
(Decreto nº 12.154/2024) and the reservists' EXAR, and takes requests for an in-person
appointment (the ``atendimento`` form).

Every citizen-facing sentence is in ``locales/pt-BR/jsm.json`` (keys ``jsm.*``), which a
city overrides in ``civic.toml``'s ``[texts]``; each topic has a ``key``, so its title is
``jsm.topics.<key>`` and its answer ``jsm.topics.<key>.answer``.

City settings read from ``civic.toml`` (all optional)::

    [departments.jsm]
    late_fine = "R$ 5,37"                 # the late-enlistment fine, as shown
    lost_certificate_fine = "R$ 26,85"    # the fine for a lost certificate
    fine_date = 2026-01-01                # the date of those values
    women_enlistment_years = [2026]       # years whose plan offers women's enlistment here
    exar = { start = 2026-12-01, end = 2026-12-31 }  # this year's EXAR window
    contacts = { telefone = "(35) 3435-0000", endereco = "Rua ..., Centro" }

Whatever the city has not configured is left unsaid (the citizen is told to ask the
Junta), never guessed.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable

from civic import Answer, Department, Processing, Topic, hookimpl
from civic.config import DepartmentConfig
from civic.default_plugins.topics import match_topic
from civic.forms import load_form
from civic.reading import Reading
from civic.texts import Texts
from civic.values import DepartmentAction
from civic_jsm.answers import dynamic_answer
from civic_jsm.dates import read_birth_date
from civic_jsm.triage import triage

SLUG = "jsm"
FORM = "atendimento"
#: The time zone of "today" when the JSM's configuration has no hours of its own.
DEFAULT_TIMEZONE = "America/Sao_Paulo"
#: The plugin's own catalogue, as shipped: the registered department's name, greeting,
#: topic titles and answers are read from it, so no sentence lives in the code. A city's
#: ``[texts]`` overrides them when the engine localises the department.
CATALOGUE = Texts(packages=(__name__,))


def local_date(now: dt.datetime, timezone: str = DEFAULT_TIMEZONE) -> dt.date:
    """The date of the message ``now`` (aware) in ``timezone``: the triage's "today"."""
    return now.astimezone(zoneinfo.ZoneInfo(timezone)).date()


def topic(
    key: str, keywords: tuple[str, ...] = (), *, form: str | None = None, handover: bool = False
) -> Topic:
    """The topic ``key``: its title ``jsm.topics.<key>`` and, when the catalogue has one,
    its answer ``jsm.topics.<key>.answer``."""
    base = f"{SLUG}.topics.{key}"
    return Topic(
        key=key,
        title=CATALOGUE(base),
        keywords=keywords,
        answer=CATALOGUE.get(f"{base}.answer"),
        form=form,
        handover=handover,
    )


DEPARTMENT = Department(
    slug=SLUG,
    name=CATALOGUE(f"{SLUG}.name"),
    description=CATALOGUE(f"{SLUG}.description"),
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
    greeting=CATALOGUE(f"{SLUG}.greeting"),
    topics=(
        topic(
            "status",
            ("situacao", "verificar", "prazo", "atrasado", "multa", "idade", "nascimento"),
        ),
        topic("how_to_enlist", ("alistamento", "alistar", "como me alisto", "documentos")),
        topic(
            "appointment",
            (
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
        topic("cdi", ("cdi", "dispensa", "certificado de dispensa")),
        topic("flag_oath", ("juramento", "bandeira")),
        topic("reservists", ("reservista", "reserva", "exar", "apresentacao")),
        topic(
            "women",
            (
                "mulher",
                "mulheres",
                "feminino",
                "feminina",
                "alistamento feminino",
                "mulher pode",
                "mulheres podem",
                "sou mulher",
            ),
        ),
        topic(
            "lost_certificate",
            (
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
        ),
        topic("exemption", ("isencao", "isento", "certificado de isencao", "deficiencia", "laudo")),
        topic("debt", ("divida", "irregular", "passaporte", "concurso", "quitacao", "em dia")),
        topic("attendant", ("atendente", "humano"), handover=True),
    ),
    forms={FORM: load_form(__name__, "atendimento.json")},
    protocol_prefix="JSM",
    order=30,
    settings_schema=load_form(__name__, "settings.schema.json"),
    # The record of processing (LGPD art. 37): the Junta informs and books visits under
    # the Lei do Serviço Militar (Lei 4.375/1964, Decreto 57.654/1966).
    processing=Processing(
        purpose=CATALOGUE(f"{SLUG}.processing.purpose"),
        legal_basis=CATALOGUE(f"{SLUG}.processing.legal_basis"),
        data=tuple(CATALOGUE(f"{SLUG}.processing.data").split("; ")),
        retention=CATALOGUE(f"{SLUG}.processing.retention"),
    ),
)


@hookimpl
def register_departments(register: Callable[[Department], None]) -> None:
    register(DEPARTMENT)


@hookimpl
def register_texts(register: Callable[[str], None]) -> None:
    """The JSM's catalogue: ``locales/<locale>/jsm.json`` in this package."""
    register(__name__)


@hookimpl
def department_message(
    department: Department,
    texts: Texts,
    settings: DepartmentConfig,
    message: Reading,
    now: dt.datetime,
) -> DepartmentAction | None:
    """Triage a birth date, refuse an unusable one, ask for it, or answer a topic whose
    answer depends on the settings or the date; else ``None`` (the topics plugin answers).

    ``department`` is the localised department: its topics are told apart by ``key``.
    """
    if department.slug != SLUG:
        return None
    today = local_date(now, _timezone(settings))
    found = read_birth_date(message, today, texts)
    if isinstance(found, dt.date):
        return triage(found, today, settings, texts)
    if found is not None:
        return Answer(texts(found.key, **found.values))
    chosen = match_topic(department, message.text, message.folded)
    if chosen is None:
        return None
    if chosen.key == "status":
        # Not done: the citizen stays in the department to type the date.
        return Answer(chosen.answer or "")
    return dynamic_answer(chosen, today, settings, texts)


@hookimpl
def form_submitted(department: Department, form: str, texts: Texts) -> str | None:
    """After an appointment request: how the Junta answers and what to bring."""
    if department.slug != SLUG or form != FORM:
        return None
    return texts("jsm.appointment_requested", documents=texts("jsm.documents"))


def _timezone(settings: DepartmentConfig) -> str:
    return settings.hours.timezone if settings.hours else DEFAULT_TIMEZONE
