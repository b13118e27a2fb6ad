"""An identity the team can use, safely: encrypted CPF, audited reveals, names that
belong to the conversation, protocols shown only to their owner, privacy notice."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from civic import Department, Topic, hookimpl, staff
from civic.config import Config, PrivacyConfig
from civic.engine import Engine
from civic.plugins import load_plugins
from civic.states import State
from civic.storage import Storage
from tests.chat import MARIA, Chat
from tests.conftest import SECRET
from tests.test_procon import COMPLAINT, submit

CPF = "52998224725"
#: One check digit off: not a valid CPF, but it gives the real one away.
MISTYPED = "52998224724"


def every_stored_value(storage: Storage) -> list[tuple[str, str]]:
    """Every value of every row of every table, as text."""
    values = []
    with storage.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                values += [(table.name, str(value)) for value in row]
    return values


def digits_only(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def test_the_database_holds_no_cpf_in_clear(engine: Engine, storage: Storage) -> None:
    """Valid and mistyped CPFs, however typed, in identification, forms, staff replies,
    survey comments: nothing in any table shows them."""
    chat = Chat(engine)
    chat.send(
        f"Maria José dos Santos {MISTYPED[:3]}.{MISTYPED[3:6]}.{MISTYPED[6:9]}-{MISTYPED[9:]}"
    )
    chat.send("Maria José dos Santos 529\u200b982\u200b247\u200b25")
    assert chat.state == State.CHOOSING
    chat.send("2")
    chat.send("quero fazer uma reclamação")
    chat.send("1")
    chat.send("Loja do João")
    chat.send(MISTYPED)  # the supplier's document, mistyped
    chat.send("atendente")
    staff.reply(engine, chat.last.conversation_id, "Ana", f"Seu CPF {CPF} confere?")
    staff.close(engine, chat.last.conversation_id, "Ana")
    chat.send("10")
    chat.send(f"meu cpf é ５２９９８２２４７２５ e o do meu pai {MISTYPED}")
    found = [
        (table, value)
        for table, value in every_stored_value(storage)
        if CPF in digits_only(value) or MISTYPED in digits_only(value)
    ]
    assert found == []


def test_the_cpf_is_kept_encrypted_and_a_reveal_is_audited(
    engine: Engine, storage: Storage
) -> None:
    chat = Chat(engine)
    chat.script(MARIA, "atendente")
    conversation = chat.last.conversation_id
    with pytest.raises(staff.StaffError, match="take it first"):
        staff.reveal_cpf(engine, conversation, "Ana", "conferir cadastro")
    staff.take(engine, conversation, "Ana")
    assert staff.reveal_cpf(engine, conversation, "Ana", "conferir cadastro") == CPF
    with storage.reading() as tx:
        (audit,) = tx.audits()
        citizen = tx.citizen(1)
    assert (audit["actor"], audit["action"], audit["reason"]) == (
        "Ana",
        "reveal_cpf",
        "conferir cadastro",
    )
    assert audit["target"] == "citizen:1" and audit["conversation_id"] == conversation
    assert citizen["cpf_encrypted"] and CPF not in citizen["cpf_encrypted"]
    assert engine.vault.decrypt(citizen["cpf_encrypted"]) == CPF


def test_a_second_person_typing_a_cpf_renames_no_one(engine: Engine, storage: Storage) -> None:
    Chat(engine, "maria").script(MARIA, "encerrar", "10", "não")
    other = Chat(engine, "stranger")
    answer = other.send("João Pereira 529.982.247-25")
    assert "de novo" not in answer and "João" in answer
    with storage.reading() as tx:
        assert tx.citizen(1)["name"] == "Maria José dos Santos"
        assert tx.conversation(other.last.conversation_id)["citizen_name"] == "João Pereira"
    again = Chat(engine, "maria-phone-2")
    assert "de novo, Maria" in again.send("maria jose dos santos 52998224725")


def test_the_cpf_alone_then_the_name_identifies(engine: Engine, storage: Storage) -> None:
    chat = Chat(engine)
    assert "faltou o seu nome" in chat.send("529.982.247-25")
    assert "Obrigado, Maria!" in chat.send("Maria José dos Santos")
    assert chat.state == State.CHOOSING
    with storage.reading() as tx:
        context = tx.conversation(chat.last.conversation_id)["context"]
    assert "pending_cpf" not in json.loads(context)


def test_identification_cannot_be_skipped_with_atendente_then_menu(engine: Engine) -> None:
    chat = Chat(engine)
    chat.send("oi")
    chat.send("atendente")
    assert chat.state == State.HUMAN
    assert "nome completo" in chat.send("menu")
    assert chat.state == State.IDENTIFYING


class Ombudsman:
    """A department that serves without identification (anonymous reports)."""

    __name__ = "ombudsman"

    @hookimpl
    def register_departments(self, register: Callable[[Department], None]) -> None:
        register(
            Department(
                slug="ouvidoria",
                name="Ouvidoria",
                keywords=("denuncia",),
                topics=(Topic("Denúncia anônima", ("denuncia",), answer="Conte o que houve."),),
                identification=False,
                order=1,
            )
        )


def test_a_city_may_ask_the_cpf_only_where_a_department_needs_it(storage: Storage) -> None:
    pm = load_plugins()
    plugin = Ombudsman()
    pm.register(plugin)
    try:
        engine = Engine(storage, secret=SECRET, manager=pm, config=Config(identify="when_needed"))
        anonymous = Chat(engine, "anon")
        assert "Com qual setor" in anonymous.send("oi")
        anonymous.send("ouvidoria")
        assert anonymous.state == State.DEPARTMENT
        assert "Conte o que houve" in anonymous.send("1")
        citizen = Chat(engine, "named")
        citizen.send("oi")
        answer = citizen.send("procon")
        assert "preciso saber quem é você" in answer and citizen.state == State.IDENTIFYING
        citizen.send(MARIA)
        assert citizen.state == State.DEPARTMENT and citizen.last.department == "procon"
    finally:
        pm.unregister(plugin)


def test_the_first_message_of_a_new_citizen_carries_the_privacy_notice(storage: Storage) -> None:
    config = Config(
        city="Prefeitura de Exemplo",
        privacy=PrivacyConfig(contact="dpo@exemplo.gov.br", policy_url="https://exemplo/p"),
    )
    engine = Engine(storage, secret=SECRET, manager=load_plugins(), config=config)
    chat = Chat(engine)
    first = chat.send("oi")
    assert "Aviso de privacidade" in first and "dpo@exemplo.gov.br" in first
    assert "https://exemplo/p" in first
    chat.script(MARIA, "encerrar", "10", "não")
    assert "Aviso de privacidade" not in chat.send("bom dia, preciso de ajuda")


def test_a_protocol_status_is_told_only_to_its_owner(engine: Engine, storage: Storage) -> None:
    owner = Chat(engine, "owner")
    owner.script(MARIA, "procon", "1")
    assert "PROCON-" in submit(owner, COMPLAINT)
    protocol = "PROCON-2026-000001"
    assert "recebido" in owner.send(f"status do protocolo {protocol}")
    stranger = Chat(engine, "stranger")
    answer = stranger.send(f"status do protocolo {protocol}")
    assert "recebido" not in answer and "preciso saber quem é você" in answer
    stranger.send("João Pereira 111.444.777-35")
    answer = stranger.send(f"status do protocolo {protocol}")
    assert "recebido" not in answer and "entre os seus pedidos" in answer
    same_cpf = Chat(engine, "owner-new-phone")
    same_cpf.send("Maria José dos Santos 529.982.247-25")
    assert "recebido" in same_cpf.send(f"status do protocolo {protocol}")


def test_a_supplier_cpf_in_a_complaint_is_kept_encrypted(engine: Engine, storage: Storage) -> None:
    chat = Chat(engine)
    chat.script(MARIA, "procon", "1")
    answers = [(CPF if i == 1 else answer, q) for i, (answer, q) in enumerate(COMPLAINT)]
    submit(chat, answers)
    with storage.reading() as tx:
        stored = tx.submission("PROCON-2026-000001")
    assert CPF not in stored["data"] and stored["secret_data"]
    assert json.loads(stored["data"])["fornecedor_documento"] == "***.982.247-**"
    revealed = staff.reveal_submission(engine, "PROCON-2026-000001", "Bia", "notificar")
    assert revealed["fornecedor_documento"] == CPF
    assert revealed["_citizen_cpf"] == CPF
    with storage.reading() as tx:
        assert [a["action"] for a in tx.audits()] == ["reveal_submission"]


def test_answers_of_a_form_in_progress_keep_no_cpf_in_clear(
    engine: Engine, storage: Storage
) -> None:
    """A supplier's CPF typed in a form that is not finished (or left for a person) is
    sealed in the conversation's context, and shown to the attendant masked."""
    chat = Chat(engine)
    chat.script(MARIA, "procon", "1", "1", "Loja do CPF 529.982.247-25", CPF)
    with storage.reading() as tx:
        context = tx.conversation(chat.last.conversation_id)["context"]
    assert CPF not in digits_only(context)
    chat.send("atendente")
    info, _ = staff.history(engine, chat.last.conversation_id)
    assert "***.982.247-**" in str(info["held_form"]) and CPF not in str(info["held_form"])
    assert [
        (table, value) for table, value in every_stored_value(storage) if CPF in digits_only(value)
    ] == []


def test_a_form_resumes_from_its_sealed_answers(engine: Engine) -> None:
    chat = Chat(engine)
    chat.script(MARIA, "procon", "1", "1", "Loja Exemplo")
    chat.send(CPF)  # the supplier's document: sealed in the context
    assert chat.state == State.FORM
    chat.send("atendente")
    info, _ = staff.history(engine, chat.last.conversation_id)
    held = info["held_form"]
    assert held["fornecedor"] == "Loja Exemplo" and held["fornecedor_documento"] == "***.982.247-**"
