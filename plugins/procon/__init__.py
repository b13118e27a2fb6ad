"""PROCON — consumer protection: complaints against suppliers and consumer rights.

Answers by keyword about the right of withdrawal (CDC art. 49), the deadlines to complain
about defects (CDC art. 26), the supplier's 30 days to fix a defect (CDC art. 18, §1) and
damage caused by a product (CDC art. 27), each answer naming its article, and takes a
complaint through a form that yields a protocol number. The form asks what a municipal
PROCON needs to notify the supplier. When a CDC deadline has plainly passed the form says
so and never blocks: the analysis of deadlines belongs to the PROCON staff (see
:mod:`civic_procon.deadlines` for the rules and their sources).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from civic import Department, Topic, hookimpl
from civic.forms import load_form
from civic_procon.deadlines import damage_passed, defect_passed, withdrawal_passed

FORM = "reclamacao"
#: The closing sentence of every warning: the citizen is informed, never discouraged.
REGISTERED_ANYWAY = (
    "Sua reclamação será registrada mesmo assim: a equipe do PROCON vai analisar os prazos "
    "do seu caso."
)


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def receipt_warning(value: Any, answers: Mapping[str, Any], today: dt.date) -> str | None:
    """Withdrawal asked more than 7 days after the receipt (CDC art. 49); else ``None``.

    Only for the *arrependimento* category, the one case where the rule plainly applies.
    """
    received = _date(value)
    if answers.get("categoria") != "arrependimento" or received is None:
        return None
    if not withdrawal_passed(received, today):
        return None
    return (
        "Atenção: o direito de arrependimento de compras feitas fora da loja vale por 7 "
        "dias a contar do recebimento (Código de Defesa do Consumidor, art. 49). "
        + REGISTERED_ANYWAY
    )


def problem_warning(value: Any, answers: Mapping[str, Any], today: dt.date) -> str | None:
    """A defect evident more than 90 days ago with no complaint to the supplier (CDC art.
    26, §3 and §2 I), or damage known more than 5 years ago (CDC art. 27); else ``None``.

    A fridge that broke two months after the purchase is within the deadline: it counts
    from the day the defect appeared, not from the purchase.
    """
    day = _date(value)
    if day is None:
        return None
    category = answers.get("categoria")
    complained = answers.get("contatou_fornecedor") is True
    if category == "defeito" and defect_passed(day, today, complained=complained):
        note = (
            "o prazo para reclamar de defeitos é de 30 dias (produtos e serviços não "
            "duráveis) ou 90 dias (duráveis), contados de quando o defeito apareceu; uma "
            "reclamação comprovada ao fornecedor suspende esse prazo (Código de Defesa do "
            "Consumidor, art. 26)"
        )
    elif category == "dano" and damage_passed(day, today):
        note = (
            "o prazo para pedir reparação de danos causados por um produto ou serviço é de "
            "5 anos, contados de quando você soube do dano e de quem o causou (Código de "
            "Defesa do Consumidor, art. 27)"
        )
    else:
        return None
    return f"Atenção: {note}. {REGISTERED_ANYWAY}"


def next_steps() -> str:
    """What the citizen is told after the complaint is registered."""
    return (
        "O que acontece agora: a equipe do PROCON analisa a sua reclamação e, se for o "
        "caso, notifica o fornecedor para responder. Você será avisado por este WhatsApp.\n"
        "Guarde: a nota fiscal ou o contrato, os comprovantes de pagamento, os protocolos "
        "e as conversas com o fornecedor (e-mails, mensagens, fotos) e, se houver, o "
        "produto com defeito."
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
        # what consumers write (issue 10): banks, carriers, bills, contracts, shops
        "banco",
        "cartao",
        "cartao de credito",
        "fatura",
        "cobrando",
        "cobrou",
        "cobraram",
        "operadora",
        "plano de saude",
        "conta de luz",
        "conta de agua",
        "contrato",
        "academia",
        "mercado",
        "supermercado",
        "propaganda enganosa",
        "assistencia tecnica",
        "entrega",
        "entregaram",
        "entregou",
        "lesado",
        "golpe",
    ),
    greeting="Você está no PROCON — defesa do consumidor. Como podemos ajudar?",
    topics=(
        Topic(
            title="Registrar uma reclamação contra um fornecedor",
            keywords=("reclamacao", "reclamar", "denuncia", "queixa", "registrar"),
            form=FORM,
        ),
        Topic(
            title="Direito de arrependimento (7 dias)",
            keywords=(
                "arrependimento",
                "desistir",
                "devolver",
                "pela internet",
                "online",
                "7 dias",
            ),
            answer="Compras feitas fora da loja (internet, telefone, em domicílio) podem ser "
            "canceladas em até 7 dias a contar da assinatura ou do recebimento do produto, "
            "com devolução de todo o valor pago (Código de Defesa do Consumidor, art. 49).",
        ),
        Topic(
            title="Prazo para reclamar de defeitos",
            keywords=(
                "defeito",
                "estragou",
                "quebrou",
                "prazo",
                "vicio",
                "garantia",
                "parou de funcionar",
                "nao funciona",
                "nao liga",
            ),
            answer="Você tem 30 dias para reclamar de defeitos em produtos e serviços não "
            "duráveis e 90 dias para os duráveis, contados da entrega ou do fim do serviço; "
            "se o defeito é oculto, o prazo começa quando ele aparece. Uma reclamação "
            "comprovada ao fornecedor suspende o prazo até a resposta dele (Código de "
            "Defesa do Consumidor, art. 26). Na dúvida, registre a reclamação: a equipe do "
            "PROCON analisa os prazos.",
        ),
        Topic(
            title="Conserto: o prazo do fornecedor (30 dias)",
            keywords=("conserto", "assistencia", "assistencia tecnica", "consertar"),
            answer="O fornecedor tem 30 dias para consertar um produto com defeito. Se não "
            "resolver nesse prazo, você escolhe: a troca por outro produto, a devolução do "
            "dinheiro corrigido ou um abatimento proporcional no preço (Código de Defesa "
            "do Consumidor, art. 18, § 1º).",
        ),
        Topic(
            title="Danos causados por um produto ou serviço",
            keywords=("dano", "danos", "acidente", "machucou", "ferimento"),
            answer="Se um produto ou serviço causou um dano a você (um acidente, um "
            "ferimento, um prejuízo), o prazo para pedir a reparação é de 5 anos, contados "
            "de quando você soube do dano e de quem o causou (Código de Defesa do "
            "Consumidor, art. 27).",
        ),
        Topic(
            title="Falar com um atendente",
            keywords=("atendente", "humano"),
            handover=True,
        ),
    ),
    forms={FORM: load_form(__name__, "reclamacao.json")},
    form_warnings={FORM: {"data_recebimento": receipt_warning, "data_problema": problem_warning}},
    protocol_prefix="PROCON",
    order=20,
)


@hookimpl
def register_departments(register: Callable[[Department], None]) -> None:
    register(DEPARTMENT)


@hookimpl
def form_submitted(department: Department, form: str) -> str | None:
    """After a complaint: what happens next and which documents to keep."""
    if department.slug != DEPARTMENT.slug or form != FORM:
        return None
    return next_steps()
