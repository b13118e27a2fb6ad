"""Protocol numbers a plugin shapes (``OUV/2026/7``, ``2026.0007-OUV``) are found when
the citizen asks for their status, however they type them; a plugin's duplicate or
malformed number never stops the citizen's confirmation (the default format is used, and
the plugin is named in the log)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event

from civic import Department, Topic, hookimpl, protocol_numbers
from civic.engine import Engine
from civic.plugins import load_plugins, make_manager
from civic.states import State
from civic.storage import DuplicateProtocol, Storage
from civic.text import fold
from tests.chat import MARIA, Chat
from tests.conftest import SECRET
from tests.test_hook_examples import example_code

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 3, 2, 13, 0, tzinfo=dt.UTC)  # a Monday, 10:00 in Brasília
#: Maria files the ouvidoria's one-question form: menu, topic, answer, confirm.
FILE = ("1", "1", "O posto fechou cedo.", "1")


class Ouvidoria:
    """A department with a one-question form and the prefix ``OUV``."""

    @hookimpl
    def register_departments(self, register: Callable[[Department], None]) -> None:
        register(
            Department(
                slug="ouvidoria",
                name="Ouvidoria",
                topics=(Topic("Registrar manifestação", form="manifestacao"),),
                forms={
                    "manifestacao": {
                        "title": "Manifestação",
                        "type": "object",
                        "properties": {"texto": {"title": "O que houve?", "type": "string"}},
                        "required": ["texto"],
                    }
                },
                protocol_prefix="OUV",
                order=1,
            )
        )


class Slashes:
    @hookimpl
    def protocol_number(self, department: Department, year: int, sequence: int) -> str:
        return f"{department.prefix}/{year}/{sequence}"


class Dotted:
    @hookimpl
    def protocol_number(self, department: Department, year: int, sequence: int) -> str:
        return f"{year}.{sequence:04d}-{department.prefix}"


class Fixed:
    """Always the same number, differently written: every one after the first is taken."""

    @hookimpl
    def protocol_number(self, sequence: int) -> str:
        return "OUV-FIXO-0001" if sequence == 1 else "ouv fixo 0001"


class Malformed:
    @hookimpl
    def protocol_number(self, sequence: int) -> str:
        return f"OUV#{sequence}"


class NotAString:
    @hookimpl
    def protocol_number(self, sequence: int) -> int:
        return sequence


@pytest.fixture
def plugged(storage: Storage) -> Iterator[Callable[..., Engine]]:
    """Register named plugins on the process's manager for one test; an engine at NOW."""
    pm = load_plugins()
    added: list[object] = []

    def register(**plugins: object) -> Engine:
        for name, plugin in plugins.items():
            pm.register(plugin, name=name)
            added.append(plugin)
        return Engine(storage, secret=SECRET, manager=pm, clock=lambda: NOW)

    try:
        yield register
    finally:
        for plugin in added:
            pm.unregister(plugin)


def filed(engine: Engine) -> tuple[Chat, str]:
    """Maria files the ouvidoria's form; her chat and the reply."""
    chat = Chat(engine)
    answer = chat.script(MARIA, *FILE)
    assert chat.state == State.OFFERING
    return chat, answer


@pytest.mark.parametrize(
    "asked",
    [
        "status do protocolo OUV/2026/1",
        "OUV/2026/1",
        "ouv 2026 1",
        "situação do ouv-2026-1?",
        "Protocolo: ouv.2026.1",
        "qual o andamento do meu protocolo OUV / 2026 / 1 por favor",
        "protocolo ＯＵＶ／２０２６／１",  # fullwidth, as some keyboards type
        "status OUV\u200b/2026\u200b/1",  # invisible characters inside
    ],
)
def test_a_slashed_number_is_found_however_typed(
    plugged: Callable[..., Engine], asked: str
) -> None:
    chat, answer = filed(plugged(civic_ouvidoria=Ouvidoria(), civic_slashes=Slashes()))
    assert "Seu protocolo é OUV/2026/1." in answer
    assert "Protocolo OUV/2026/1 (Ouvidoria), aberto em 02/03/2026" in chat.send(asked)


@pytest.mark.parametrize(
    "asked", ["2026.0001-OUV", "protocolo 2026 0001 ouv", "qual o andamento do 2026.0001-ouv?"]
)
def test_a_number_ending_with_its_prefix_is_found(
    plugged: Callable[..., Engine], asked: str
) -> None:
    chat, answer = filed(plugged(civic_ouvidoria=Ouvidoria(), civic_dotted=Dotted()))
    assert "Seu protocolo é 2026.0001-OUV." in answer
    assert "Protocolo 2026.0001-OUV (Ouvidoria)" in chat.send(asked)


def test_an_unknown_number_of_a_plugin_s_shape_is_said_unknown(
    plugged: Callable[..., Engine],
) -> None:
    chat, _ = filed(plugged(civic_ouvidoria=Ouvidoria(), civic_slashes=Slashes()))
    assert "Não encontrei o protocolo OUV/2026/9" in chat.send("status do protocolo OUV/2026/9")
    assert chat.state == State.OFFERING


def test_a_sentence_with_a_number_is_not_a_protocol_question(
    plugged: Callable[..., Engine],
) -> None:
    """A short message with a number that is no stored protocol goes on as before."""
    chat, _ = filed(plugged(civic_ouvidoria=Ouvidoria(), civic_slashes=Slashes()))
    assert "Não encontrei" not in chat.send("iptu 2026")
    assert chat.last.department == "cac"  # routed: the IPTU is the CAC's


@pytest.mark.parametrize(
    "hostile",
    [
        "status do protocolo " + "1 " * 125_000,
        "protocolo " + "OUV/" * 60_000,
        "situação " + "\ud800" * 1000 + " OUV/2026/1",
    ],
)
def test_hostile_protocol_questions_get_a_polite_answer(
    plugged: Callable[..., Engine], hostile: str
) -> None:
    chat, _ = filed(plugged(civic_ouvidoria=Ouvidoria(), civic_slashes=Slashes()))
    answer = chat.send(hostile)
    assert answer and "Traceback" not in answer
    assert chat.state in (State.OFFERING, State.CHOOSING, State.DEPARTMENT)


def test_a_duplicate_number_is_retried_then_civic_numbers_it(
    plugged: Callable[..., Engine], caplog: pytest.LogCaptureFixture
) -> None:
    engine = plugged(civic_ouvidoria=Ouvidoria(), civic_fixed=Fixed())
    chat, answer = filed(engine)
    assert "Seu protocolo é OUV-FIXO-0001." in answer
    with caplog.at_level(logging.WARNING):
        answer = chat.script("sim", *FILE)
    # Sequences 2, 3 and 4 gave a taken number; 5 is numbered by civic.
    assert "Seu protocolo é OUV-2026-000005." in answer
    assert chat.state == State.OFFERING
    refused = [r.getMessage() for r in caplog.records if "already taken" in r.getMessage()]
    assert len(refused) == 3
    assert all("plugin civic_fixed" in m and "hook protocol_number" in m for m in refused)
    assert "civic's default format is used" in refused[-1]
    with engine.storage.reading() as tx:
        assert tx.submission("OUV-2026-000005")["form"] == "manifestacao"
    assert "Protocolo OUV-2026-000005 (Ouvidoria)" in chat.send("OUV 2026 000005")


def test_storage_refuses_a_number_alike_but_for_case_and_separators(
    sqlite_storage: Storage,
) -> None:
    engine = Engine(sqlite_storage, secret=SECRET, manager=load_plugins(), clock=lambda: NOW)
    chat = Chat(engine)
    chat.script(MARIA, "1", "1", "iluminação", "Poste apagado.", "Centro", "1", "1")
    with sqlite_storage.transaction() as tx:
        (stored,) = tx.submissions_of(chat.last.conversation_id)
        with pytest.raises(DuplicateProtocol):
            tx.add_submission(
                conversation_id=chat.last.conversation_id,
                department="cac",
                form="solicitacao",
                protocol=stored["protocol"].lower().replace("-", " "),
                data={},
                now=NOW,
            )
        # The transaction goes on: the refused insert was rolled back alone.
        assert tx.submission(stored["protocol"]) is not None


@pytest.mark.parametrize(
    ("plugin", "logged"),
    [
        (Malformed(), "returned protocol number 'OUV#1' from hook protocol_number, which must"),
        (NotAString(), "returned int 1 from hook protocol_number, which expects a str"),
    ],
)
def test_a_number_of_the_wrong_shape_or_type_gets_the_default_format(
    plugged: Callable[..., Engine],
    caplog: pytest.LogCaptureFixture,
    plugin: object,
    logged: str,
) -> None:
    with caplog.at_level(logging.ERROR):
        chat, answer = filed(plugged(civic_ouvidoria=Ouvidoria(), civic_numbers=plugin))
    assert "Seu protocolo é OUV-2026-000001." in answer
    assert f"plugin civic_numbers {logged}" in caplog.text
    assert "Protocolo OUV-2026-000001" in chat.send("status do protocolo OUV-2026-000001")


def test_the_documented_protocol_number_example_is_found(tmp_path: Path) -> None:
    """The example of docs/plugin_hooks.md, as a plugin: its numbers are unique per
    department and the citizen finds them."""
    path = tmp_path / "civic_numbering.py"
    path.write_text(example_code("protocol_number"), encoding="utf-8")
    manager = make_manager({"CIVIC_PLUGINS": str(path), "CIVIC_LOAD_PLUGINS": "cac,procon"})
    storage = Storage(f"sqlite:///{tmp_path / 'c.db'}")
    storage.migrate()
    engine = Engine(storage, secret=SECRET, manager=manager, clock=lambda: NOW)
    chat = Chat(engine)
    answer = chat.script(MARIA, "1", "1", "iluminação", "Poste apagado.", "Centro", "1", "1")
    assert "Seu protocolo é 2026.0001-CAC." in answer
    assert "Protocolo 2026.0001-CAC (CAC)" in chat.send("status do protocolo 2026 0001 cac")
    storage.close()


def test_the_lookup_is_one_query_on_the_key_index(sqlite_storage: Storage) -> None:
    statements: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        statements.append((statement, parameters))

    keys = protocol_numbers.candidates(fold("status do protocolo OUV/2026/7, por favor"))
    event.listen(sqlite_storage.engine, "before_cursor_execute", seen)
    try:
        with sqlite_storage.reading() as tx:
            assert tx.find_submission(keys) is None
    finally:
        event.remove(sqlite_storage.engine, "before_cursor_execute", seen)
    (lookup,) = [(s, p) for s, p in statements if "submission" in s]
    with sqlite_storage.engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + lookup[0], lookup[1]).all()
    assert any("USING INDEX ix_submission_protocol_key" in str(row) for row in plan), plan
    assert not any("SCAN" in str(row) for row in plan), plan


# -- what a protocol number is ---------------------------------------------------------

runs = st.lists(st.text("ABCDEFGHKMNPQRSTUVWXYZ0123456789", min_size=1, max_size=6), min_size=1)
separators = st.sampled_from(["-", "/", ".", " ", "_", " - ", "  "])


@given(
    parts=runs.filter(lambda p: len(p) <= protocol_numbers.MAX_WORDS),
    stored=separators,
    typed=separators,
    lower=st.booleans(),
)
def test_a_number_is_found_whatever_the_case_and_separators(
    parts: list[str], stored: str, typed: str, lower: bool
) -> None:
    number = stored.join(parts)
    if protocol_numbers.problem(number) is not None:
        return
    asked = typed.join(parts)
    asked = asked.lower() if lower else asked
    message = fold(f"Qual a situação do protocolo {asked}? Obrigada")
    assert protocol_numbers.key(number) in protocol_numbers.candidates(message)


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        ("PROCON-2026-000123", None),
        ("OUV/2026/7", None),
        ("2026.0007-OUV", None),
        ("ouv 2026 7", None),
        (7, "is a int, not a str"),
        ("OUV#7", "must be ASCII letters and digits"),
        ("-OUV-7", "must be ASCII letters and digits"),
        ("OUV", "needs at least 4 letters and digits, one of them a digit"),
        ("A-1", "needs at least 4"),
        ("X" * 60 + "-2026", "is longer than 64 characters"),
        ("PROCON-2026-0001\n", "must be ASCII letters and digits"),
    ],
)
def test_what_a_protocol_number_may_be(number: object, problem: str | None) -> None:
    found = protocol_numbers.problem(number)
    assert found == problem if problem is None else problem in (found or "")


def test_candidates_are_bounded_on_hostile_input() -> None:
    keys = protocol_numbers.candidates(fold(" ".join(str(n) for n in range(100_000))))
    assert len(keys) == protocol_numbers.MAX_CANDIDATES
    assert all(len(k) <= protocol_numbers.MAX_LENGTH for k in keys)
