"""PROCON — consumer protection: complaints against suppliers and consumer rights.

Answers by keyword about the right of withdrawal (CDC art. 49) and the deadlines to
complain about defects (CDC art. 26), each answer naming its article, and takes a
complaint through a form that yields a protocol number. Past those deadlines the form
warns and never blocks: the legal analysis belongs to the PROCON staff.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from civic import Department, Topic, hookimpl
from civic.forms import load_form

WITHDRAWAL_DAYS = 7  # CDC art. 49: purchases outside the shop
DEFECT_DAYS = (30, 90)  # CDC art. 26: non-durable and durable goods and services


def deadline_warning(value: Any, answers: Mapping[str, Any], today: dt.date) -> str | None:
    """Warn when a purchase date is past the CDC deadlines; never refuse it.

    ``today`` is the city's date of the message (given by the form runner).
    """
    try:
        days = (today - dt.date.fromisoformat(str(value))).days
    except ValueError:
        return None
    notes = []
    if answers.get("local_compra") == "fora" and days > WITHDRAWAL_DAYS:
        notes.append(
            f"a compra foi há {days} dias, e o direito de arrependimento vale por "
            f"{WITHDRAWAL_DAYS} dias (CDC, art. 49)"
        )
    if days > DEFECT_DAYS[1]:
        notes.append(
            "para defeitos aparentes, o prazo de reclamação é de 30 dias (não duráveis) "
            "ou 90 dias (duráveis) (CDC, art. 26); se o defeito apareceu depois, o prazo "
            "conta a partir daí"
        )
    if not notes:
        return None
    return (
        "Atenção: "
        + "; ".join(notes)
        + ". Sua reclamação será registrada mesmo assim: a análise é da equipe do PROCON."
    )


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
            title="Registrar uma reclamação contra um fornecedor",
            keywords=("reclamacao", "reclamar", "denuncia", "queixa", "registrar"),
            form="reclamacao",
        ),
        Topic(
            title="Direito de arrependimento (7 dias)",
            keywords=("arrependimento", "desistir", "devolver", "internet", "7 dias"),
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
            keywords=("atendente", "humano"),
            handover=True,
        ),
    ),
    forms={"reclamacao": load_form(__name__, "reclamacao.json")},
    form_warnings={"reclamacao": {"data_compra": deadline_warning}},
    protocol_prefix="PROCON",
    order=20,
)


@hookimpl
def register_departments(register: Callable[[Department], None]) -> None:
    register(DEPARTMENT)
