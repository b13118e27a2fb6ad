"""A plugin that raises, hangs or answers garbage, in the engine (the running-server
proof is ``test_plugin_faults.py``): every hook call has a time limit, a call that fails
is an apology and a hand-over to the team, and a form in progress is kept."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from civic import hookimpl, plugins
from civic.engine import Engine
from civic.plugins import PluginTimedOut, within
from civic.states import State
from civic.values import Answer, Department
from tests.chat import Chat
from tests.faults import misbehaving

MARIA = "Maria José dos Santos 529.982.247-25"
STOP = misbehaving.RELEASE  # set at the end of each test: hung threads finish


@pytest.fixture(autouse=True)
def _short_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(plugins, "TIME_LIMIT", 0.3)
    STOP.clear()
    yield
    STOP.set()


class Faulty:
    """The PROCON's answers, broken as ``mode`` says."""

    __name__ = "faulty"

    def __init__(self, mode: str) -> None:
        self.mode = mode

    @hookimpl(tryfirst=True)
    def department_message(self, department: Department, text: str) -> Any:
        if department.slug != "procon" or text != "2":
            return None
        if self.mode == "raise":
            raise RuntimeError("broken")
        if self.mode == "hang":
            STOP.wait(30)
            return Answer("too late")
        return {"not": "an action"}


def test_within_returns_raises_or_gives_up() -> None:
    assert within(1, lambda: 42) == 42
    with pytest.raises(ZeroDivisionError):
        within(1, lambda: 1 / 0)
    with pytest.raises(PluginTimedOut):
        within(0.05, lambda: STOP.wait(30))
    assert within(None, lambda: "here") == "here"


@pytest.mark.parametrize("word", ["quebrar", "travar", "lixo"], ids=["raises", "hangs", "garbage"])
def test_the_citizen_gets_an_apology_and_the_team(
    word: str, with_plugin: Callable[..., Engine]
) -> None:
    chat = Chat(with_plugin(misbehaving))
    chat.script(MARIA, "falhas")
    assert chat.state == State.DEPARTMENT
    answer = chat.send(word)
    assert "problema técnico" in answer and chat.state == State.HUMAN


def test_garbage_is_ignored_when_another_plugin_answers(
    with_plugin: Callable[..., Engine],
) -> None:
    chat = Chat(with_plugin(Faulty("garbage")))
    chat.script(MARIA, "procon")
    assert "art. 49" in chat.send("2") and chat.state == State.OFFERING


def test_a_raising_plugin_is_skipped_when_another_answers(
    with_plugin: Callable[..., Engine],
) -> None:
    chat = Chat(with_plugin(Faulty("raise")))
    chat.script(MARIA, "procon")
    assert "art. 49" in chat.send("2") and chat.state == State.OFFERING


def test_a_form_whose_warning_hangs_is_kept_for_the_team(
    with_plugin: Callable[..., Engine],
) -> None:
    engine = with_plugin(misbehaving)
    chat = Chat(engine)
    chat.script(MARIA, "falhas", "formulario", "buraco na rua")
    assert chat.state == State.FORM
    assert "problema técnico" in chat.send("travar")
    assert chat.state == State.HUMAN
    with engine.storage.reading() as tx:
        conversation = tx.conversation(chat.last.conversation_id)
    assert conversation is not None
    context = json.loads(conversation["context"])
    assert context.get("form") is None and "buraco na rua" in json.dumps(
        context["held_form"], ensure_ascii=False
    )


def test_civics_own_hooks_run_without_a_thread_and_others_with_one(
    with_plugin: Callable[..., Engine],
) -> None:
    engine = with_plugin()
    assert plugins.hook_limit("department_message", engine.pm, 5) is None
    engine = with_plugin(Faulty("raise"))
    assert plugins.hook_limit("department_message", engine.pm, 5) == 5
