"""PROCON — consumer protection: complaints against suppliers and consumer rights."""

from __future__ import annotations

from collections.abc import Callable

from civic import Department, Topic, hookimpl

DEPARTMENT = Department(
    slug="procon",
    name="PROCON",
    description="Defesa do consumidor: reclamações contra fornecedores",
    keywords=(
        "reclamacao",
        "reclamar",
        "loja",
        "compra",
        "comprei",
        "produto",
        "fornecedor",
        "consumidor",
        "defeito",
        "reembolso",
        "troca",
        "garantia",
        "cobranca",
        "empresa",
        "arrependimento",
        "direito do consumidor",
        "cdc",
    ),
    greeting="Você está no PROCON — defesa do consumidor. Como podemos ajudar?",
    topics=(
        Topic(
            title="Direito de arrependimento (7 dias)",
            keywords=("arrependimento", "desistir", "internet", "online", "7 dias", "sete dias"),
            answer="Compras feitas fora da loja (internet, telefone, em domicílio) podem ser "
            "canceladas em até 7 dias a contar da assinatura ou do recebimento do produto, "
            "com devolução de todo o valor pago (Código de Defesa do Consumidor, art. 49).",
        ),
        Topic(
            title="Prazo para reclamar de defeitos",
            keywords=("defeito", "estragou", "quebrou", "prazo", "vicio", "garantia"),
            answer="Você tem 30 dias para reclamar de defeitos em produtos e serviços não "
            "duráveis e 90 dias para os duráveis, contados da entrega ou do fim do serviço; "
            "se o defeito é oculto, o prazo começa quando ele aparece (Código de Defesa do "
            "Consumidor, art. 26).",
        ),
        Topic(
            title="Falar com um atendente",
            keywords=("atendente", "pessoa", "humano"),
            handover=True,
        ),
    ),
    order=20,
)


@hookimpl
def register_departments(register: Callable[[Department], None]) -> None:
    register(DEPARTMENT)
