"""CAC — Centro de Atendimento ao Cidadão: general questions and requests."""

from __future__ import annotations

from collections.abc import Callable

from civic import Department, Topic, hookimpl
from civic.forms import load_form

DEPARTMENT = Department(
    slug="cac",
    name="CAC",
    description="Atendimento ao Cidadão: informações e solicitações gerais",
    keywords=(
        "informacao",
        "informacoes",
        "horario",
        "endereco",
        "telefone",
        "documento",
        "solicitacao",
        "pedido",
        "casa do cidadao",
        "prefeitura",
        "duvida",
    ),
    greeting="Você está no CAC — Centro de Atendimento ao Cidadão. Como podemos ajudar?",
    topics=(
        Topic(
            title="Fazer uma solicitação (iluminação, buracos, limpeza...)",
            keywords=(
                "solicitacao",
                "solicitar",
                "pedido",
                "pedir",
                "buraco",
                "iluminacao",
                "lampada",
                "poste",
                "lixo",
                "limpeza",
                "poda",
                "arvore",
            ),
            form="solicitacao",
        ),
        Topic(
            title="Horário de atendimento",
            keywords=("horario", "abre", "fecha", "funciona", "funcionamento", "aberto"),
            answer="A Casa do Cidadão atende de segunda a sexta, das 8h às 17h. "
            "Por aqui, você pode mandar mensagem a qualquer hora: respondemos no horário "
            "de atendimento.",
        ),
        Topic(
            title="Endereço e telefone",
            keywords=("endereco", "onde fica", "local", "telefone", "contato", "ligar"),
            answer="Consulte o endereço da Casa do Cidadão no site da prefeitura. "
            "Telefone: (35) 3435-2052.",
        ),
        Topic(
            title="O que a Casa do Cidadão faz",
            keywords=("servicos", "o que faz", "o que voces fazem", "casa do cidadao"),
            answer="A Casa do Cidadão reúne serviços ao cidadão: o CAC (informações e "
            "solicitações gerais), o PROCON (defesa do consumidor) e a Junta do Serviço "
            "Militar (alistamento e certificados).",
        ),
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
