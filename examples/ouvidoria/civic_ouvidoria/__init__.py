"""Ouvidoria: the city's ombudsman's office as a civic department.

A citizen registers a manifestação — a reclamação, a denúncia, a sugestão, an elogio or
a solicitação (Lei 13.460/2017, arts. 2 and 10) — and gets a protocol number. The answer
is due within 30 days, extendable once by as many with a justification (art. 16). A
denúncia may be kept confidential (art. 10, § 7), and the Ouvidoria serves without the
name and CPF where the city asks for them only when needed (``identify =
"when_needed"``).

Built step by step in civic's docs/tutorial.md, from ``civic new-plugin ouvidoria``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from civic import Answer, Department, Topic, hookimpl
from civic.config import DepartmentConfig
from civic.default_plugins.topics import match_topic
from civic.forms import load_form
from civic.reading import Reading
from civic.texts import Texts
from civic.values import DepartmentAction

SLUG = "ouvidoria"
#: The manifestação form, ``manifestacao.json``.
FORM = "manifestacao"
#: The topics this plugin answers itself (:func:`department_message`).
DEADLINE, CHARTER = "prazo", "carta"
#: Lei 13.460/2017, art. 16: the answer is due within 30 days.
DEADLINE_DAYS = 30

#: The words that route a citizen's sentence here, written without accents.
KEYWORDS = (
    "ouvidor", "ouvidora", "denuncia", "denunciar", "denuncia anonima", "anonima",
    "anonimo", "elogio", "elogiar", "sugestao", "sugerir", "manifestacao",
)  # fmt: skip

DEPARTMENT = Department(
    slug=SLUG,
    name="Ouvidoria",
    description="Reclamações, denúncias, sugestões e elogios sobre o serviço público",
    keywords=KEYWORDS,
    greeting="Atendimento: Ouvidoria. Aqui você registra reclamações, denúncias, "
    "sugestões, elogios e solicitações sobre o serviço público.",
    topics=(
        Topic(
            key="manifestacao",
            title="Registrar uma manifestação (reclamação, denúncia, sugestão, elogio...)",
            keywords=("denuncia", "elogio", "sugestao", "manifestacao", "reclamacao"),
            form=FORM,
        ),
        Topic(key=DEADLINE, title="Prazo de resposta", keywords=("prazo de resposta",)),
        Topic(key=CHARTER, title="Carta de Serviços ao Usuário", keywords=("carta",)),
        Topic(key="atendente", title="Falar com um atendente", handover=True),
    ),
    forms={FORM: load_form(__name__, "manifestacao.json")},
    protocol_prefix="OUV",
    identification=False,  # a denúncia may be anonymous
    deadline_days=DEADLINE_DAYS,
    settings_schema=load_form(__name__, "settings.schema.json"),
)


@hookimpl
def register_departments(register: Callable[[Department], None]) -> None:
    """Give civic the department."""
    register(DEPARTMENT)


@hookimpl
def register_texts(register: Callable[[str], None]) -> None:
    """Give civic this package's catalogue of texts (``locales/pt-BR/``)."""
    register(__name__)


@hookimpl
def department_message(
    department: Department, settings: DepartmentConfig, message: Reading, texts: Texts
) -> DepartmentAction | None:
    """Answer the deadline and the Carta de Serviços from the city's configuration; the
    other topics are civic's (the form, an attendant)."""
    if department.slug != SLUG:
        return None
    topic = match_topic(department, message.text, message.folded)
    if topic is None:
        return None
    if topic.key == DEADLINE:
        return Answer(text=texts(f"{SLUG}.deadline", days=deadline(settings)), done=True)
    if topic.key == CHARTER:
        where = settings.settings.get("carta_de_servicos")
        if not where:
            return Answer(text=texts(f"{SLUG}.charter_missing"), done=True)
        return Answer(text=texts(f"{SLUG}.charter", where=where), done=True)
    return None


@hookimpl
def form_submitted(
    department: Department,
    form: str,
    data: Mapping[str, Any],
    texts: Texts,
    settings: DepartmentConfig,
) -> str | None:
    """After a manifestação: when the answer is due, and the confidentiality kept."""
    if department.slug != SLUG or form != FORM:
        return None
    lines = [texts(f"{SLUG}.received", days=deadline(settings))]
    if data.get("sigilo") is True:
        lines.append(texts(f"{SLUG}.confidential"))
    return "\n".join(lines)


def deadline(settings: DepartmentConfig) -> int:
    """The days the Ouvidoria takes at most: the city's ``deadline_days``, else the 30 of
    Lei 13.460/2017, art. 16."""
    days: Any = settings.settings.get("deadline_days", DEADLINE_DAYS)
    return days if isinstance(days, int) and not isinstance(days, bool) else DEADLINE_DAYS
