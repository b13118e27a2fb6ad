"""One test per hook: a small plugin implements it and the effect is observed."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import typer
from typer.testing import CliRunner

from civic import Answer, Department, Identity, hookimpl, hookspecs
from civic.engine import Engine
from civic.plugins import load_plugins
from civic.states import State
from civic.storage import Storage
from civic.values import Conversation
from tests.chat import MARIA, Chat
from tests.conftest import SECRET


@pytest.fixture
def with_plugin(storage: Storage) -> Iterator[Callable[[object], Engine]]:
    """Register plugins on the process's manager for one test, then remove them."""
    pm = load_plugins()
    added: list[object] = []

    def register(plugin: object) -> Engine:
        pm.register(plugin)
        added.append(plugin)
        return Engine(storage, secret=SECRET, manager=pm)

    try:
        yield register
    finally:
        for plugin in added:
            pm.unregister(plugin)


def test_plugin_hooks_have_tests() -> None:
    """Every hook in civic.hookspecs has a test_hook_<name> in this module."""
    hooks = {name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "civic_spec")}
    tested = {
        name.removeprefix("test_hook_") for name in globals() if name.startswith("test_hook_")
    }
    assert hooks - tested == set()


def test_hook_register_departments(with_plugin: Callable[[object], Engine]) -> None:
    class Plugin:
        @hookimpl
        def register_departments(self, register: Callable[[Department], None]) -> None:
            register(Department(slug="ouvidoria", name="Ouvidoria", order=1))
            register(Department(slug="Not A Slug", name="Bad"))
            register(Department(slug="cac", name="Another CAC"))

    engine = with_plugin(Plugin())
    assert engine.registry.slugs[0] == "ouvidoria"
    reasons = {p.department: p.reason for p in engine.registry.problems}
    assert "slug must be lower-case" in reasons["Not A Slug"]
    assert reasons["cac"] == "slug already registered by cac"
    assert engine.registry.owners["cac"] == "cac"


def test_hook_register_commands() -> None:
    class Plugin:
        @hookimpl
        def register_commands(self, cli: typer.Typer) -> None:
            @cli.command()
            def hello(name: str) -> None:
                typer.echo(f"olá, {name}")

    app = typer.Typer()

    @app.command()
    def other() -> None: ...

    pm = load_plugins()
    plugin = Plugin()
    pm.register(plugin)
    try:
        pm.hook.register_commands(cli=app)
    finally:
        pm.unregister(plugin)
    result = CliRunner().invoke(app, ["hello", "Ana"])
    assert result.output == "olá, Ana\n"


def test_hook_identify_citizen(with_plugin: Callable[[object], Engine]) -> None:
    class Plugin:
        @hookimpl
        def identify_citizen(self, text: str) -> Identity | None:
            if text.startswith("servidor "):
                return Identity(name=text.split()[1], cpf="52998224725")
            return None

    chat = Chat(with_plugin(Plugin()))
    assert "Obrigado, Rita!" in chat.send("servidor Rita")
    assert chat.state == State.CHOOSING


def test_hook_route_message(with_plugin: Callable[[object], Engine]) -> None:
    class Plugin:
        @hookimpl
        def route_message(self, text: str) -> str | None:
            return "jsm" if "quartel" in text else None

    chat = Chat(with_plugin(Plugin()))
    chat.script(MARIA, "onde fica o quartel?")
    assert chat.last.department == "jsm"


def test_hook_department_message(with_plugin: Callable[[object], Engine]) -> None:
    class Plugin:
        @hookimpl
        def department_message(self, department: Department, text: str) -> Answer | None:
            if department.slug == "cac" and "iptu" in text.lower():
                return Answer("O IPTU vence em março.")
            return None

    chat = Chat(with_plugin(Plugin()))
    assert chat.script(MARIA, "1", "e o IPTU?") == "O IPTU vence em março."
    assert chat.state == State.DEPARTMENT


def test_hook_score_rating(with_plugin: Callable[[object], Engine], storage: Storage) -> None:
    class Plugin:
        @hookimpl
        def score_rating(self, text: str, scale_max: int) -> int | None:
            stars = text.count("⭐")
            return stars * scale_max // 5 if stars else None

    Chat(with_plugin(Plugin())).script(MARIA, "encerrar", "⭐⭐⭐⭐", "não")
    with storage.reading() as tx:
        assert [r["score"] for r in tx.ratings()] == [8]


def test_hook_conversation_opened(with_plugin: Callable[[object], Engine]) -> None:
    seen: list[Conversation] = []

    class Plugin:
        @hookimpl
        def conversation_opened(self, conversation: Conversation) -> None:
            seen.append(conversation)

    chat = Chat(with_plugin(Plugin()))
    chat.script("oi", MARIA)
    assert [c.state for c in seen] == ["identifying"]


def test_hook_conversation_closed(with_plugin: Callable[[object], Engine]) -> None:
    seen: list[Conversation] = []

    class Plugin:
        @hookimpl
        def conversation_closed(self, conversation: Conversation) -> None:
            seen.append(conversation)

    Chat(with_plugin(Plugin())).script(MARIA, "encerrar", "10", "não")
    assert (
        len(seen) == 1
        and seen[0].state == "closed"
        and seen[0].citizen_name == "Maria José dos Santos"
    )
