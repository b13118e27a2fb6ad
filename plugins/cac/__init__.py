"""CAC — Centro de Atendimento ao Cidadão: the Casa do Cidadão's front desk.

It answers what a municipal service desk is asked every day (a second copy of the IPTU
slip, certidões, a visit for documents, where to go for social assistance, hours, address
and phone) **from the city's configuration only**, and takes anything else as a request
with an address or reference point. A fact the city did not configure is not stated::

    [departments.cac]
    keywords = ["sedese"]                 # extra words that route here (any department)

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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from civic import Department, Topic, hookimpl
from civic.config import DepartmentConfig
from civic.default_plugins.topics import match_topic
from civic.forms import load_form
from civic.reading import Reading
from civic.text import contains_keyword
from civic.values import Answer, DepartmentAction, StartForm

#: The front desk's services: key in ``[departments.cac.services]``, title, keywords.
SERVICES: dict[str, tuple[str, tuple[str, ...]]] = {
    "iptu": (
        "Segunda via do IPTU e de outros tributos",
        (
            "iptu", "ipt", "iptu 2026", "carne", "carne do iptu", "boleto do iptu",
            "guia do iptu", "imposto", "imposto predial", "taxa", "tributo", "tributos",
            "divida ativa", "parcelar", "parcelamento",
        ),
    ),
    "certidoes": (
        "Certidões (negativa de débitos e outras)",
        (
            "certidao", "certidoes", "sertidao", "certidao negativa", "nada consta",
            "negativa de debito", "negativa de debitos", "cnd", "declaracao",
        ),
    ),
    "agendamento": (
        "Agendar atendimento presencial (documentos)",
        (
            "agendar", "agendamento", "agenda", "marcar", "marcar horario", "horario marcado",
            "atendimento presencial", "rg", "identidade", "carteira de identidade",
            "carteira de trabalho", "ctps", "segunda via do rg", "documento", "documentos",
        ),
    ),
    "assistencia_social": (
        "Assistência social (CRAS, CadÚnico, benefícios)",
        (
            "assistencia social", "assistente social", "cras", "creas", "cadunico",
            "cad unico", "cadastro unico", "bolsa familia", "cesta basica",
            "auxilio", "beneficio", "bpc", "loas", "passando necessidade", "ajuda social",
        ),
    ),
}  # fmt: skip

#: How the parts of a configured service are said, in this order.
SERVICE_PARTS = (
    ("who", "Quem cuida: {}."),
    ("where", "Onde: {}."),
    ("when", "Quando: {}."),
    ("how", "Como: {}."),
    ("how_long", "Prazo: {}."),
    ("site", "Pela internet: {}"),
)
#: How configured contacts are said (other keys are shown capitalised).
CONTACT_LABELS = {
    "address": "Endereço",
    "endereco": "Endereço",
    "phone": "Telefone",
    "telefone": "Telefone",
    "whatsapp": "WhatsApp",
    "email": "E-mail",
    "site": "Site",
}
NOT_CONFIGURED = (
    'Essa informação ainda não foi cadastrada aqui. Digite "atendente" para perguntar '
    'à equipe ou "menu" para voltar.'
)

HOURS_WORDS = (
    "horario", "abre", "abrem", "fecha", "fecham", "funciona", "funcionamento", "aberto",
    "que horas", "sabado", "domingo", "feriado", "expediente",
)  # fmt: skip
HOURS = Topic(title="Horário de atendimento", keywords=HOURS_WORDS)
CONTACT_WORDS = (
    "endereco", "onde fica", "local", "telefone", "contato", "ligar", "numero de telefone",
    "whatsapp", "email", "como chego", "localizacao",
)  # fmt: skip
CONTACTS = Topic(title="Endereço e telefone", keywords=CONTACT_WORDS)
SERVICE_TOPICS = {
    key: Topic(title=title, keywords=words) for key, (title, words) in SERVICES.items()
}
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
    *(word for _, words in SERVICES.values() for word in words),
)  # fmt: skip

DEPARTMENT = Department(
    slug="cac",
    name="CAC",
    description="Atendimento ao Cidadão: informações e solicitações gerais",
    keywords=KEYWORDS,
    greeting="Você está no CAC — Centro de Atendimento ao Cidadão. Como podemos ajudar?",
    topics=(
        Topic(
            title="Fazer uma solicitação ou reclamação (rua, iluminação, lixo, saúde...)",
            keywords=REQUEST_WORDS,
            form="solicitacao",
        ),
        *SERVICE_TOPICS.values(),
        HOURS,
        CONTACTS,
        Topic(
            title="Falar com um atendente",
            keywords=("atendente", "humano"),
            handover=True,
        ),
    ),
    forms={"solicitacao": load_form(__name__, "solicitacao.json")},
    protocol_prefix="CAC",
    order=10,
)


@hookimpl
def register_departments(register: Callable[[Department], None]) -> None:
    register(DEPARTMENT)


@hookimpl
def department_message(
    department: Department, settings: DepartmentConfig, message: Reading
) -> DepartmentAction | None:
    """The front desk's answers from the city's configuration; other topics are left to
    the built-in ``topics`` plugin (the request form, a person)."""
    if department.slug != DEPARTMENT.slug:
        return None
    topic = service_topic(message) or match_topic(department, message.text, message.folded)
    if topic is HOURS:
        return Answer(text=hours_answer(settings), done=True)
    if topic is CONTACTS:
        return Answer(text=contacts_answer(settings), done=True)
    for key, service in SERVICE_TOPICS.items():
        if topic is service:
            text = service_answer(key, settings)
            return Answer(text=text, done=True) if text else StartForm(form="solicitacao")
    return None


def service_topic(message: Reading) -> Topic | None:
    """The front-desk service the message names, before any other topic: "onde fica o
    CRAS" is about social assistance, not the CAC's address."""
    scores = {
        key: sum(contains_keyword(message.folded, word) for word in topic.keywords)
        for key, topic in SERVICE_TOPICS.items()
    }
    best = max(scores.values())
    winners = [key for key, points in scores.items() if points == best]
    return SERVICE_TOPICS[winners[0]] if best and len(winners) == 1 else None


def hours_answer(settings: DepartmentConfig) -> str:
    """When the team answers, as the city configured it; nothing invented."""
    if settings.hours is None or settings.hours.always_open:
        return NOT_CONFIGURED
    return (
        f"Atendimento: {settings.hours.describe()}. Por aqui, você pode mandar mensagem a "
        "qualquer hora: a equipe responde no horário de atendimento."
    )


def contacts_answer(settings: DepartmentConfig) -> str:
    """The contacts the city configured, one a line."""
    lines = [
        f"{CONTACT_LABELS.get(key, key.capitalize())}: {value}"
        for key, value in settings.contacts.items()
        if value
    ]
    return "\n".join(lines) if lines else NOT_CONFIGURED


def service_answer(key: str, settings: DepartmentConfig) -> str | None:
    """A front-desk service as the city configured it; ``None`` when it did not."""
    services = settings.settings.get("services")
    section: Any = services.get(key) if isinstance(services, Mapping) else None
    if not isinstance(section, Mapping):
        return None
    parts = [text.format(section[name]) for name, text in SERVICE_PARTS if section.get(name)]
    if not parts:
        return None
    title = SERVICES[key][0]
    return f"*{title}*\n" + "\n".join(parts)
