"""A plugin that raises, hangs or answers garbage, against the running server.

``civic serve`` runs with the development plugin :mod:`tests.faults.misbehaving`
(``CIVIC_PLUGINS``) and a hook time limit of one second (``CIVIC_HOOK_TIME_LIMIT``).
Whatever the fault, the citizen gets an apology, the conversation waits in the team's
queue (``waiting_human``), a form in progress is kept for the attendant (its answers so
far in ``held_form``), and the server goes on serving everybody else.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.running import (
    Civic,
    FakeMeta,
    message,
    own_database,
    post,
    rows,
    texts_to,
    wait_for,
)

PLUGIN = Path(__file__).with_name("misbehaving.py")
MARIA = "Maria José dos Santos 529.982.247-25"
APOLOGY = "problema técnico"
SERIAL = itertools.count(1)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Civic, FakeMeta]]:
    folder = tmp_path_factory.mktemp("plugin-faults")
    with FakeMeta() as meta, own_database("sqlite", folder, "plugins") as url:
        server = Civic(
            folder, url, meta, {"CIVIC_PLUGINS": str(PLUGIN), "CIVIC_HOOK_TIME_LIMIT": "1"}
        )
        server.start()
        try:
            yield server, meta
        finally:
            server.stop()


def talk(server: Civic, meta: FakeMeta, phone: str, *lines: str) -> None:
    """Send ``lines`` as ``phone``, each after the previous one was answered."""
    for line in lines:
        wamid = f"wamid.{next(SERIAL)}"
        assert post(server.port, message(phone, wamid, line)) == 200
        wait_for(lambda w=wamid: answered(server, w), 30, f"an answer to {line!r}")


def answered(server: Civic, wamid: str) -> bool:
    """Whether the message was processed and every part of its answer sent (a reply
    with choices goes in two parts: counting sends alone would race with the second)."""
    found = rows(
        server.database_url,
        "SELECT o.status FROM outbox o JOIN message m ON o.in_reply_to = m.id "
        f"WHERE m.channel_message_id = '{wamid}'",
    )
    return bool(found) and all(status != "pending" for (status,) in found)


def conversation(server: Civic, phone: str) -> tuple[str, dict[str, object]]:
    found = rows(
        server.database_url,
        f"SELECT state, context FROM conversation WHERE address = '{phone}' ORDER BY id DESC",
    )
    state, context = found[0]
    return str(state), json.loads(context)


@pytest.mark.parametrize(
    ("word", "phone"),
    [("quebrar", "5535988880001"), ("travar", "5535988880002"), ("lixo", "5535988880003")],
    ids=["raises", "hangs", "garbage"],
)
def test_a_failing_plugin_gets_an_apology_and_the_team(
    running: tuple[Civic, FakeMeta], word: str, phone: str
) -> None:
    server, meta = running
    talk(server, meta, phone, MARIA, "falhas")
    assert conversation(server, phone)[0] == "in_department"
    talk(server, meta, phone, word)
    wait_for(lambda: conversation(server, phone)[0] == "waiting_human", 10, "the hand-over")
    assert any(APOLOGY in text for text in texts_to(meta, phone)[-2:])


def test_a_form_whose_plugin_hangs_is_kept_for_the_team(
    running: tuple[Civic, FakeMeta],
) -> None:
    server, meta = running
    phone = "5535988880004"
    talk(server, meta, phone, MARIA, "falhas", "formulario", "buraco na rua")
    state, context = conversation(server, phone)
    assert state == "filling_form"
    talk(server, meta, phone, "travar")
    wait_for(lambda: conversation(server, phone)[0] == "waiting_human", 10, "the hand-over")
    assert any(APOLOGY in text for text in texts_to(meta, phone)[-2:])
    state, context = conversation(server, phone)
    assert context.get("form") is None
    held = context["held_form"]
    assert isinstance(held, dict) and "buraco na rua" in json.dumps(held, ensure_ascii=False)


def test_the_server_serves_others_after_a_hung_plugin(running: tuple[Civic, FakeMeta]) -> None:
    server, meta = running
    phone = "5535988880005"
    talk(server, meta, phone, MARIA, "falhas", "travar")
    talk(server, meta, "5535988880006", MARIA)
    assert conversation(server, "5535988880006")[0] == "choosing_department"
