"""PROCON — consumer protection: complaints against suppliers and consumer rights.

Answers by keyword about the right of withdrawal (CDC art. 49), the deadlines to complain
about defects (CDC art. 26), the supplier's 30 days to fix a defect (CDC art. 18, §1) and
damage caused by a product (CDC art. 27), each answer naming its article, and takes a
complaint through a form that yields a protocol number. The form asks what a municipal
PROCON needs to notify the supplier. When a CDC deadline has plainly passed the form says
so and never blocks: the analysis of deadlines belongs to the PROCON staff (see
:mod:`civic_procon.deadlines` for the rules and their sources).

Every sentence is a key of ``locales/pt-BR/procon.json`` (``procon.next_steps``...), so
a city rewords any of them in ``[texts]``; the topics' titles are
``procon.topics.<key>`` (see :func:`civic.departments.department_texts`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from civic import Department, Processing, Topic, hookimpl
from civic.forms import load_form
from civic.texts import Texts
from civic_procon.deadlines import damage_passed, defect_passed, withdrawal_passed

FORM = "reclamacao"

#: The texts as this plugin ships them (pt-BR), before any city's ``[texts]``: the
#: defaults the topics' answers are registered with (the engine then says the city's).
SHIPPED = Texts(packages=(__name__,))


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def _warning(key: str, texts: Texts) -> str:
    """A deadline warning and its closing sentence: the citizen is informed, never
    discouraged."""
    return f"{texts(key)} {texts('procon.warnings.registered_anyway')}"


def receipt_warning(
    value: Any, answers: Mapping[str, Any], today: dt.date, texts: Texts = SHIPPED
) -> str | None:
    """Withdrawal asked more than 7 days after the receipt (CDC art. 49); else ``None``.

    Only for the *arrependimento* category, the one case where the rule plainly applies.
    """
    received = _date(value)
    if answers.get("categoria") != "arrependimento" or received is None:
        return None
    if not withdrawal_passed(received, today):
        return None
    return _warning("procon.warnings.withdrawal", texts)


def problem_warning(
    value: Any, answers: Mapping[str, Any], today: dt.date, texts: Texts = SHIPPED
) -> str | None:
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
        return _warning("procon.warnings.defect", texts)
    if category == "dano" and damage_passed(day, today):
        return _warning("procon.warnings.damage", texts)
    return None


def next_steps(texts: Texts) -> str:
    """What the citizen is told after the complaint is registered: what happens next and
    which documents to keep."""
    return "\n".join((texts("procon.next_steps"), texts("procon.keep_documents")))


#: The plugin's own catalogue, for the texts it registers (the record of processing).
_PROCESSING = Texts(packages=(__name__,))

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
            key="complaint",
            title="Registrar uma reclamação contra um fornecedor",
            keywords=("reclamacao", "reclamar", "denuncia", "queixa", "registrar"),
            form=FORM,
        ),
        Topic(
            key="withdrawal",
            then_form=FORM,
            title="Direito de arrependimento (7 dias)",
            keywords=(
                "arrependimento",
                "desistir",
                "devolver",
                "pela internet",
                "online",
                "7 dias",
            ),
            answer=SHIPPED("procon.topics.withdrawal.answer"),
        ),
        Topic(
            key="defects",
            then_form=FORM,
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
            answer=SHIPPED("procon.topics.defects.answer"),
        ),
        Topic(
            key="repair",
            then_form=FORM,
            title="Conserto: o prazo do fornecedor (30 dias)",
            keywords=("conserto", "assistencia", "assistencia tecnica", "consertar"),
            answer=SHIPPED("procon.topics.repair.answer"),
        ),
        Topic(
            key="damage",
            then_form=FORM,
            title="Danos causados por um produto ou serviço",
            keywords=("dano", "danos", "acidente", "machucou", "ferimento"),
            answer=SHIPPED("procon.topics.damage.answer"),
        ),
        Topic(
            key="human",
            title="Falar com um atendente",
            keywords=("atendente", "humano"),
            handover=True,
        ),
    ),
    forms={FORM: load_form(__name__, "reclamacao.json")},
    form_warnings={FORM: {"data_recebimento": receipt_warning, "data_problema": problem_warning}},
    protocol_prefix="PROCON",
    order=20,
    settings_schema=load_form(__name__, "settings.schema.json"),
    # The record of processing (LGPD art. 37). What the form asks is what a municipal
    # PROCON needs to notify the supplier (see /work/shared/domain notes), no more (art. 6
    # III); the supplier notified receives the complaint.
    processing=Processing(
        purpose=_PROCESSING("procon.processing.purpose"),
        legal_basis=_PROCESSING("procon.processing.legal_basis"),
        data=tuple(_PROCESSING("procon.processing.data").split("; ")),
        retention=_PROCESSING("procon.processing.retention"),
        sharing=_PROCESSING("procon.processing.sharing"),
    ),
)


@hookimpl
def register_departments(register: Callable[[Department], None]) -> None:
    register(DEPARTMENT)


@hookimpl
def register_texts(register: Callable[[str], None]) -> None:
    register(__name__)


@hookimpl
def form_submitted(department: Department, form: str, texts: Texts) -> str | None:
    """After a complaint: what happens next and which documents to keep."""
    if department.slug != DEPARTMENT.slug or form != FORM:
        return None
    return next_steps(texts)
