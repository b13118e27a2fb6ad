"""CAC — Centro de Atendimento ao Cidadão: the Casa do Cidadão's front desk.

It answers what a municipal service desk is asked every day (a second copy of the IPTU
slip, certidões, a visit for documents, where to go for social assistance, hours, address
and phone) **from the city's configuration only**, and takes anything else as a request
with an address or reference point. A fact the city did not configure is not stated::

    [departments.cac]
    keywords = ["sedese"]                 # extra words that route here (any department)
    deadline_days = 15                    # said when a request is taken

    [departments.cac.contacts]
    phone = "(35) 3435-0000"
    whatsapp = "(35) 9 9999-0000"
    address = "Rua ..., Centro"

    [departments.cac.services.iptu]       # also: certidoes, agendamento, assistencia_social
    who = "o Setor de Tributos"
    where = "no balcão 3 da Casa do Cidadão"
    when = "de segunda a sexta, das 8h às 16h"
    how = "leve o número do imóvel ou o CPF do proprietário"
    how_long = "na hora"
    site = "https://..."

A service without a section is taken as a request: the form asks the subject, a
description with an address or reference point and how to answer.

Every sentence is a key of ``locales/pt-BR/cac.json`` (``cac.service.who``...), read
through the ``texts`` of the hooks, so a city rewords any of them in ``[texts]``; the
topics' titles are ``cac.topics.<key>`` (see :func:`civic.departments.department_texts`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from civic import Department, Processing, Topic, hookimpl
from civic.config import DepartmentConfig
from civic.default_plugins.topics import match_topic
from civic.forms import load_form
from civic.reading import Reading
from civic.text import contains_keyword
from civic.texts import Texts
from civic.values import Answer, DepartmentAction, StartForm

#: The request form.
FORM = "solicitacao"
#: The keys of the topics besides the services: the city's copies are told apart by them.
REQUEST, HOURS, CONTACTS, HUMAN = "request", "hours", "contacts", "human"

#: The front desk's services; a topic's key is its section in ``[departments.cac.services]``.
SERVICE_TOPICS = (
    Topic(
        key="iptu",
        title="Segunda via do IPTU e de outros tributos",
        keywords=(
            "iptu", "ipt", "iptu 2026", "carne", "carne do iptu", "boleto do iptu",
            "guia do iptu", "imposto", "imposto predial", "taxa", "tributo", "tributos",
            "divida ativa", "parcelar", "parcelamento",
        ),
    ),
    Topic(
        key="certidoes",
        title="Certidões (negativa de débitos e outras)",
        keywords=(
            "certidao", "certidoes", "sertidao", "certidao negativa", "nada consta",
            "negativa de debito", "negativa de debitos", "cnd", "declaracao",
        ),
    ),
    Topic(
        key="agendamento",
        title="Agendar atendimento presencial (documentos)",
        keywords=(
            "agendar", "agendamento", "agenda", "marcar", "marcar horario", "horario marcado",
            "atendimento presencial", "rg", "identidade", "carteira de identidade",
            "carteira de trabalho", "ctps", "segunda via do rg", "documento", "documentos",
        ),
    ),
    Topic(
        key="assistencia_social",
        title="Assistência social (CRAS, CadÚnico, benefícios)",
        keywords=(
            "assistencia social", "assistente social", "cras", "creas", "cadunico",
            "cad unico", "cadastro unico", "bolsa familia", "cesta basica",
            "auxilio", "beneficio", "bpc", "loas", "passando necessidade", "ajuda social",
        ),
    ),
)  # fmt: skip
SERVICES = frozenset(topic.key for topic in SERVICE_TOPICS)

#: How the parts of a configured service are said, in this order: the setting, its text.
SERVICE_PARTS = (
    ("who", "cac.service.who"),
    ("where", "cac.service.where"),
    ("when", "cac.service.when"),
    ("how", "cac.service.how"),
    ("how_long", "cac.service.how_long"),
    ("site", "cac.service.site"),
)
#: The labels of configured contacts (other keys are shown capitalised).
CONTACT_LABELS = {
    "address": "cac.contact.address",
    "endereco": "cac.contact.address",
    "phone": "cac.contact.phone",
    "telefone": "cac.contact.phone",
    "whatsapp": "cac.contact.whatsapp",
    "email": "cac.contact.email",
    "site": "cac.contact.site",
}
#: The longest answer deadline said to a citizen, in days: ``civic report`` refuses a
#: longer one (``civic.report.DEADLINE_LIMIT``, not imported: it loads the storage).
DEADLINE_LIMIT = 3650

HOURS_WORDS = (
    "horario", "abre", "abrem", "fecha", "fecham", "funciona", "funcionamento", "aberto",
    "que horas", "sabado", "domingo", "feriado", "expediente",
)  # fmt: skip
CONTACT_WORDS = (
    "endereco", "onde fica", "local", "telefone", "contato", "ligar", "numero de telefone",
    "whatsapp", "email", "como chego", "localizacao",
)  # fmt: skip
#: A request about the city's services: the words of the request form's topic.
REQUEST_WORDS = (
    "solicitacao", "solicitar", "pedido", "pedir", "reclamacao", "reclamar", "denuncia",
    "queixa", "registrar", "buraco", "iluminacao", "lampada", "poste", "lixo", "limpeza",
    "poda", "arvore", "calcada", "asfalto", "esgoto", "bueiro", "mato", "entulho",
    "posto de saude", "postinho", "ubs", "escola", "creche", "onibus", "semaforo", "dengue",
    "rua", "barulho", "som alto", "perturbacao do sossego", "animal abandonado",
    "cachorro solto",
)  # fmt: skip
#: The words that route to the CAC; public services are here, so a request about them is
#: the city's, not a consumer complaint.
KEYWORDS = (
    "informacao", "informacoes", "horario", "endereco", "telefone", "documento",
    "documentos", "solicitacao", "pedido", "casa do cidadao", "prefeitura", "duvida",
    "reclamacao", "reclamar", "agendar", "agendamento", "segunda via", "2a via",
    "atendimento", "servico publico", "posto de saude", "postinho", "ubs",
    "unidade de saude", "secretaria de saude", "hospital municipal", "pronto atendimento",
    "upa", "escola", "escola municipal", "creche", "merenda", "transporte escolar", "onibus",
    "ponto de onibus", "rua", "calcada", "buraco", "asfalto", "iluminacao", "lampada",
    "poste", "lixo", "coleta", "entulho", "limpeza", "mato", "terreno baldio", "poda",
    "arvore", "esgoto", "bueiro", "enchente", "dengue", "semaforo", "transito",
    "multa de transito", "alvara", "obra", "vacina", "vacinacao", "consulta", "medico",
    "barulho", "som alto", "perturbacao do sossego", "animal abandonado", "cachorro solto",
    *(word for topic in SERVICE_TOPICS for word in topic.keywords),
)  # fmt: skip

#: The plugin's own catalogue, for the texts it registers (the record of processing).
_PROCESSING = Texts(packages=(__name__,))

DEPARTMENT = Department(
    slug="cac",
    name="CAC",
    description="Atendimento ao Cidadão: informações e solicitações gerais",
    keywords=KEYWORDS,
    greeting="Você está no CAC — Centro de Atendimento ao Cidadão. Como podemos ajudar?",
    topics=(
        Topic(
            key=REQUEST,
            title="Fazer uma solicitação ou reclamação (rua, iluminação, lixo, saúde...)",
            keywords=REQUEST_WORDS,
            form=FORM,
        ),
        *SERVICE_TOPICS,
        Topic(key=HOURS, title="Horário de atendimento", keywords=HOURS_WORDS),
        Topic(key=CONTACTS, title="Endereço e telefone", keywords=CONTACT_WORDS),
        Topic(
            key=HUMAN,
            title="Falar com um atendente",
            keywords=("atendente", "humano"),
            handover=True,
        ),
    ),
    forms={FORM: load_form(__name__, "solicitacao.json")},
    protocol_prefix="CAC",
    order=10,
    settings_schema=load_form(__name__, "settings.schema.json"),
    # The record of processing (LGPD art. 37): a request to the city is a public service
    # (art. 7 III, art. 23); the protocol is a public record the city must answer.
    processing=Processing(
        purpose=_PROCESSING("cac.processing.purpose"),
        legal_basis=_PROCESSING("cac.processing.legal_basis"),
        data=tuple(_PROCESSING("cac.processing.data").split("; ")),
        retention=_PROCESSING("cac.processing.retention"),
    ),
)


@hookimpl
def register_departments(register: Callable[[Department], None]) -> None:
    register(DEPARTMENT)


@hookimpl
def register_texts(register: Callable[[str], None]) -> None:
    register(__name__)


@hookimpl
def department_message(
    department: Department, settings: DepartmentConfig, message: Reading, texts: Texts
) -> DepartmentAction | None:
    """The front desk's answers from the city's configuration; the other topics (a
    person) are left to the built-in ``topics`` plugin.

    ``department`` is the city's copy (its topics retitled by ``[texts]``): topics are
    told apart by their ``key``.
    """
    if department.slug != DEPARTMENT.slug:
        return None
    topic = service_topic(department, message) or match_topic(
        department, message.text, message.folded
    )
    if topic is None:
        return None
    if topic.key == HOURS:
        return Answer(text=hours_answer(settings, texts), done=True)
    if topic.key == CONTACTS:
        return Answer(text=contacts_answer(settings, texts), done=True)
    if topic.key in SERVICES:
        text = service_answer(topic, settings, texts)
        if text:
            return Answer(text=text, done=True)
    if topic.key in SERVICES or topic.key == REQUEST:
        return StartForm(form=FORM, text=deadline_answer(department, settings, texts) or "")
    return None


def service_topic(department: Department, message: Reading) -> Topic | None:
    """The front-desk service the message names, before any other topic: "onde fica o
    CRAS" is about social assistance, not the CAC's address."""
    services = [topic for topic in department.topics if topic.key in SERVICES]
    scores = [
        sum(contains_keyword(message.folded, word) for word in topic.keywords) for topic in services
    ]
    best = max(scores, default=0)
    return services[scores.index(best)] if best and scores.count(best) == 1 else None


def hours_answer(settings: DepartmentConfig, texts: Texts) -> str:
    """When the team answers, as the city configured it; nothing invented."""
    if settings.hours is None or settings.hours.always_open:
        return texts("cac.not_configured")
    return texts("cac.hours", hours=settings.hours.describe(texts))


def contacts_answer(settings: DepartmentConfig, texts: Texts) -> str:
    """The contacts the city configured, one a line."""
    lines = [
        texts("cac.contact_line", label=contact_label(key, texts), value=value)
        for key, value in settings.contacts.items()
        if value
    ]
    return "\n".join(lines) if lines else texts("cac.not_configured")


def contact_label(key: str, texts: Texts) -> str:
    """``Telefone`` for ``phone``; a key of the city's own (``instagram``) capitalised."""
    label = CONTACT_LABELS.get(key.lower())
    return texts(label) if label else key.capitalize()


def service_answer(topic: Topic, settings: DepartmentConfig, texts: Texts) -> str | None:
    """A front-desk service as the city configured it, under the topic's (city's) title;
    ``None`` when it did not."""
    services = settings.settings.get("services")
    section: Any = services.get(topic.key) if isinstance(services, Mapping) else None
    if not isinstance(section, Mapping):
        return None
    parts = [
        texts(key, **{name: section[name]}) for name, key in SERVICE_PARTS if section.get(name)
    ]
    if not parts:
        return None
    return "\n".join([texts("cac.service.title", title=topic.title), *parts])


def deadline_answer(department: Department, settings: DepartmentConfig, texts: Texts) -> str | None:
    """The request's answer deadline, when the city declared one (``[departments.cac]
    deadline_days``, as the reports count it, Lei 13.460/2017 art. 23); else ``None``."""
    days: Any = settings.settings.get("deadline_days", department.deadline_days)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= DEADLINE_LIMIT:
        return None
    if days == 1:
        return texts("cac.request.deadline_one")
    return texts("cac.request.deadline", days=days)


@hookimpl
def form_submitted(
    department: Department, form: str, texts: Texts, settings: DepartmentConfig
) -> str | None:
    """After a request: its answer deadline, when the city declared one."""
    if department.slug != DEPARTMENT.slug or form != FORM:
        return None
    return deadline_answer(department, settings, texts)
