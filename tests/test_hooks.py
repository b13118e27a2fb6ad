"""One test per hook: a small plugin implements it and the effect is observed."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from civic import Answer, Department, Identity, Topic, hookimpl, hookspecs
from civic.engine import Engine
from civic.plugins import load_plugins
from civic.states import State
from civic.storage import Storage, utcnow
from civic.values import Conversation
from tests.chat import MARIA, Chat


def test_plugin_hooks_have_tests() -> None:
    """Every hook in civic.hookspecs has a test_hook_<name> somewhere in the tests."""
    hooks = {name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "civic_spec")}
    source = "".join(
        path.read_text(encoding="utf-8") for path in Path(__file__).parent.glob("*.py")
    )
    tested = set(re.findall(r"^def test_hook_(\w+)\(", source, re.M))
    assert hooks - tested == set()


def test_hook_register_departments(with_plugin: Callable[[object], Engine]) -> None:
    class Plugin:
        @hookimpl
        def register_departments(self, register: Callable[[Department], None]) -> None:
            register(Department(slug="ouvidoria", name="Ouvidoria", order=1))
            register(Department(slug="cac", name="Another CAC"))
            register(Department(slug="Not A Slug", name="Bad"))  # refused when built

    engine = with_plugin(Plugin())
    assert engine.registry.slugs[0] == "ouvidoria"
    reasons = {p.department: p.reason for p in engine.registry.problems}
    assert "slug 'Not A Slug' is not valid: lower-case" in reasons["Not A Slug"]
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


class TinyForms:
    """A department with a one-field form, for the form hooks."""

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
                        "properties": {
                            "codigo": {"title": "Qual o código?", "type": "string", "format": "par"}
                        },
                        "required": ["codigo"],
                    }
                },
                protocol_prefix="OUV",
                order=1,
            )
        )

    @hookimpl
    def register_format_checkers(self, register: Callable[[str, Callable[[Any], bool]], None]):
        register("par", lambda value: not isinstance(value, str) or len(value) % 2 == 0)


def test_hook_register_format_checkers(with_plugin: Callable[[object], Engine]) -> None:
    chat = Chat(with_plugin(TinyForms()))
    assert "Qual o código?" in chat.script(MARIA, "1", "1")
    assert "não está no formato esperado" in chat.send("abc")
    assert "Confira suas respostas" in chat.send("abcd")


def test_hook_protocol_number(with_plugin: Callable[[object], Engine]) -> None:
    class Numbers:
        @hookimpl
        def protocol_number(self, department: Department, year: int, sequence: int) -> str:
            return f"{year}/{department.prefix}/{sequence}"

    with_plugin(TinyForms())
    chat = Chat(with_plugin(Numbers()))
    chat.script(MARIA, "1", "1", "ab")
    assert "Seu protocolo é " in chat.send("1")
    assert re.search(r"\d{4}/OUV/1\b", chat.last.replies[0].text)


def test_hook_form_submitted(with_plugin: Callable[[object], Engine]) -> None:
    received: list[tuple[str, dict[str, Any], str]] = []

    class Notify:
        @hookimpl
        def form_submitted(self, form: str, data: dict[str, Any], protocol: str) -> str:
            received.append((form, dict(data), protocol))
            return "A ouvidoria responde em até 30 dias."

    with_plugin(TinyForms())
    chat = Chat(with_plugin(Notify()))
    answer = chat.script(MARIA, "1", "1", "ab", "1")
    year = utcnow().year
    assert received == [("manifestacao", {"codigo": "ab"}, f"OUV-{year}-000001")]
    assert "A ouvidoria responde em até 30 dias." in answer
    assert chat.state == State.OFFERING


# -- the team's lifecycle hooks (after the commit) ----------------------------------


class Team:
    """Records every lifecycle notification, as a plugin paging a team would."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None]] = []

    @hookimpl
    def conversation_handed_over(self, conversation: Conversation) -> None:
        self.seen.append(("handed_over", conversation.state, conversation.agent))

    @hookimpl
    def conversation_taken(self, conversation: Conversation, agent: str) -> None:
        self.seen.append(("taken", conversation.state, agent))

    @hookimpl
    def conversation_transferred(
        self, conversation: Conversation, target: str, note: str | None
    ) -> None:
        self.seen.append(("transferred", conversation.state, f"{target}: {note}"))

    @hookimpl
    def conversation_released(self, conversation: Conversation, agent: str) -> None:
        self.seen.append(("released", conversation.state, agent))

    @hookimpl
    def conversation_resolved(self, conversation: Conversation, agent: str) -> None:
        self.seen.append(("resolved", conversation.state, agent))


def _team_path(with_plugin: Callable[[object], Engine]) -> list[tuple[str, str, str | None]]:
    from civic import staff

    team = Team()
    engine = with_plugin(team)
    chat = Chat(engine)
    chat.script(MARIA, "atendente")
    conversation = chat.last.conversation_id
    staff.take(engine, conversation, "Ana")
    staff.release(engine, conversation, "Ana")
    staff.transfer(engine, conversation, "procon", agent="Ana", note="loja")
    staff.take(engine, conversation, "Bia")
    staff.close(engine, conversation, "Bia")
    return team.seen


def test_hook_conversation_handed_over(with_plugin: Callable[[object], Engine]) -> None:
    assert _team_path(with_plugin)[0] == ("handed_over", "waiting_human", None)


def test_hook_conversation_taken(with_plugin: Callable[[object], Engine]) -> None:
    taken = [item for item in _team_path(with_plugin) if item[0] == "taken"]
    assert taken == [("taken", "with_agent", "Ana"), ("taken", "with_agent", "Bia")]


def test_hook_conversation_transferred(with_plugin: Callable[[object], Engine]) -> None:
    assert ("transferred", "waiting_human", "procon: loja") in _team_path(with_plugin)


def test_hook_conversation_released(with_plugin: Callable[[object], Engine]) -> None:
    assert ("released", "waiting_human", "Ana") in _team_path(with_plugin)


def test_hook_conversation_resolved(with_plugin: Callable[[object], Engine]) -> None:
    assert _team_path(with_plugin)[-1] == ("resolved", "rating", "Bia")


def test_hook_register_channels(with_plugin: Callable[[object], Engine]) -> None:
    from civic.channels import Channel, collect_channels

    class Sms:
        @hookimpl
        def register_channels(self, register: Callable[[Channel], None]) -> None:
            register(Channel(name="sms", description="SMS by a local operator"))
            register(Channel(name="whatsapp"))  # taken by the built-in one: left out
            register("not a channel")  # type: ignore[arg-type]

    engine = with_plugin(Sms())
    channels = collect_channels(engine.pm)
    assert channels["sms"].description == "SMS by a local operator"
    assert channels["whatsapp"].sender is not None  # still the built-in channel
    assert {"whatsapp", "webchat", "terminal", "sms"} <= set(channels)


def test_hook_register_texts(with_plugin: Callable[[object], Engine], tmp_path: Path) -> None:
    """A plugin's catalogue joins the core's; a city overrides its keys and its word
    lists; ``civic config check`` knows the plugin's keys."""

    class Plugin:
        @hookimpl
        def register_texts(self, register: Callable[[str], None]) -> None:
            register("tests.sample_texts")

    engine = with_plugin(Plugin())
    greeting = engine.texts("ouvidoria.greeting", city="Extrema")
    assert greeting == "Você está na Ouvidoria de Extrema."
    assert engine.texts.words("ouvidoria.words.elogio") == {"elogio", "parabens"}
    assert "welcome" in engine.texts and "words.yes" in engine.texts  # the core's too
    city = tmp_path / "civic.toml"
    city.write_text(
        '[texts]\n"ouvidoria.greeting" = "Ouvidoria: {city}"\n'
        '"ouvidoria.words.elogio" = ["Parabéns!"]\n"ouvidoria.nope" = "x"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli_app(), ["config", "check", str(city)])
    assert result.exit_code == 1
    assert f"{city}: texts.ouvidoria.nope: unknown text key" in result.stderr
    assert "ouvidoria.greeting" not in result.stderr
    assert "elogio" not in result.stderr


def cli_app() -> typer.Typer:
    """The civic command line, imported when a test needs it."""
    from civic.cli import app

    return app
