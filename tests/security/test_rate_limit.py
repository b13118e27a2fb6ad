"""Point 1: a citizen's flood is stored, answered once, and not processed message by message."""

from __future__ import annotations

import hashlib
import hmac
import json
import warnings
from collections.abc import Iterator

import pytest

from civic.channels import Host, collect_channels
from civic.config import parse_config
from civic.engine import Engine
from civic.serve import create_app
from civic.testing import MARIA, Citizen, Harness
from civic.texts import Texts

with warnings.catch_warnings():  # Starlette's TestClient runs on httpx, now "deprecated"
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

FLOOD = Texts()("rate_limited")


def limited(per_minute: int, **more: object) -> Harness:
    return Harness(
        installed=True,
        config={"limits": {"messages_per_minute": per_minute}, **more},
        rate_limit=True,
    )


def inbound_count(harness: Harness) -> int:
    with harness.storage.reading() as tx:
        return tx.count_messages(direction="in")


def test_a_flood_is_answered_once_and_every_message_is_kept() -> None:
    with limited(3) as h:
        maria = h.citizen()
        answers = [maria.say(f"oi {n}") for n in range(1, 9)]
        assert all(answer and answer != FLOOD for answer in answers[:3])
        assert answers[3] == FLOOD
        assert answers[4:] == ["", "", "", ""]
        assert inbound_count(h) == 8  # nothing the channel handed over is lost
        state = maria.state
        assert state == "identifying"
        h.advance(minutes=2)  # the citizen slowed down: processed again
        answer = maria.say(MARIA)
        assert answer not in ("", FLOOD) and maria.state != "identifying"


def test_a_flood_is_not_processed() -> None:
    """Messages over the limit move nothing: a CPF sent in the flood identifies nobody."""
    with limited(2) as h:
        maria = h.citizen()
        maria.script("oi", "oi", "oi")
        assert maria.say(MARIA) == ""
        assert maria.state == "identifying"
        with h.storage.reading() as tx:
            texts = [row["text"] for row in tx.messages(maria.conversations[-1])]
        assert any("982.247" in text for text in texts)  # stored (masked) all the same


def test_the_limit_counts_across_workers() -> None:
    """Two engines over one database (two workers) share the count."""
    with limited(4) as h:
        other = Engine(
            h.storage,
            secret=h.engine.secret,
            config=h.engine.config,
            manager=h.manager,
            clock=h.engine.clock,
            vault=h.engine.vault,
        )
        first = h.citizen("5535999990001")
        second = Citizen(other, "5535999990001", channel=first.channel)
        said = [(first if n % 2 else second).say(f"oi {n}") for n in range(6)]
        assert said[4] == FLOOD and said[5] == ""


def test_the_test_harness_turns_it_off_unless_asked() -> None:
    """The harness's clock stands still: without ``rate_limit=True`` a test's long
    conversation is not a flood."""
    with Harness(installed=True, config={"limits": {"messages_per_minute": 1}}) as h:
        maria = h.citizen()
        assert all(maria.say("oi") not in ("", FLOOD) for _ in range(5))


def test_other_citizens_are_not_slowed_by_a_flood() -> None:
    with limited(2) as h:
        flooder = h.citizen()
        flooder.script("oi", "oi", "oi", "oi")
        assert h.citizen().say("oi") not in ("", FLOOD)


def test_the_city_may_say_it_in_its_own_words() -> None:
    with limited(1, texts={"rate_limited": "Calma! Uma mensagem por vez."}) as h:
        maria = h.citizen()
        maria.say("oi")
        assert maria.say("oi") == "Calma! Uma mensagem por vez."


def test_zero_turns_the_limit_off() -> None:
    with limited(0) as h:
        maria = h.citizen()
        assert all(maria.say("oi") not in ("", FLOOD) for _ in range(40))


def test_the_default_limit_is_thirty_a_minute() -> None:
    with Harness(installed=True, rate_limit=True) as h:
        maria = h.citizen()
        answers = [maria.say("oi") for _ in range(32)]
        assert FLOOD not in answers[:30] and answers[30:] == [FLOOD, ""]


def test_the_limit_is_checked_by_config_check() -> None:
    with pytest.raises(ValueError, match=r"limits\.messages_per_minute"):
        parse_config({"limits": {"messages_per_minute": -1}})
    with pytest.raises(ValueError, match="limits"):
        parse_config({"limits": {"per_hour": 5}})


def test_a_thanks_flood_after_closing_is_answered_once() -> None:
    with limited(2) as h:
        maria = h.citizen()
        for line in (MARIA, "encerrar", "9", "não"):
            maria.say(line)
            h.advance(minutes=1, seconds=1)  # at a person's pace
        assert maria.state == "closed"
        h.advance(minutes=2)
        answers = [maria.say("obrigado") for _ in range(4)]
        assert answers[:2] != ["", ""] and FLOOD not in answers[:2]
        assert answers[2:] == [FLOOD, ""]


# -- over HTTP --------------------------------------------------------------------------


@pytest.fixture
def webchat_host() -> Iterator[Host]:
    config = {"limits": {"messages_per_minute": 3, "webchat_per_ip_per_minute": 5}}
    with Harness(installed=True, config=config, rate_limit=True) as h:
        yield Host(engine=h.engine, config=h.engine.config)


def test_the_web_chat_answers_a_flood_once(webchat_host: Host) -> None:
    channels = {"webchat": collect_channels(webchat_host.engine.pm)["webchat"]}
    with TestClient(create_app(webchat_host, channels)) as browser:
        browser.get("/chat")
        answers = []
        for n in range(7):
            response = browser.post(
                "/chat/messages",
                json={"text": f"oi {n}", "id": f"message-{n:04d}"},
                headers={"Origin": "http://testserver"},
            )
            answers.append(response)
        texts = [[m["text"] for m in r.json().get("messages", [])] for r in answers[:5]]
        assert texts[3] == [FLOOD] and texts[4] == []
        # the sixth request from this IP address in the minute: refused by the worker
        assert answers[5].status_code == 429
        assert "Aguarde um minuto" in answers[5].json()["error"]
    with webchat_host.engine.storage.reading() as tx:
        assert tx.count_messages(direction="in") == 5


def test_whatsapp_deliveries_of_a_flood_are_stored_and_answered_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "the-app-secret"
    monkeypatch.setenv("CIVIC_WHATSAPP_APP_SECRET", secret)
    monkeypatch.setenv("CIVIC_WHATSAPP_ACCESS_TOKEN", "the-token")
    monkeypatch.setenv("CIVIC_WHATSAPP_API_URL", "http://127.0.0.1:9/v23.0")  # nothing sent
    with Harness(
        installed=True, config={"limits": {"messages_per_minute": 3}}, rate_limit=True
    ) as h:
        host = Host(engine=h.engine, config=h.engine.config)
        channels = {"whatsapp": collect_channels(h.engine.pm)["whatsapp"]}
        with TestClient(create_app(host, channels)) as client:
            for n in range(8):
                body = json.dumps(_delivery(f"wamid.flood.{n}", f"oi {n}")).encode()
                signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
                response = client.post(
                    "/webhooks/whatsapp",
                    content=body,
                    headers={"X-Hub-Signature-256": signature},
                )
                assert response.status_code == 200
        with h.storage.reading() as tx:
            assert tx.count_messages(direction="in") == 8
            conversation = tx.conversations()[-1]["id"]
            replies = [r["text"] for r in tx.messages(conversation) if r["direction"] == "out"]
        assert replies.count(FLOOD) == 1 and replies[-1] == FLOOD


def _delivery(message_id: str, body: str) -> dict[str, object]:
    """A WhatsApp Cloud API delivery of one text from the same citizen."""
    import time

    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "553534350000", "phone_number_id": "106540352242923"},
        "contacts": [{"profile": {"name": "Maria"}, "wa_id": "5581999990000"}],
        "messages": [
            {
                "from": "5581999990000",
                "id": message_id,
                "timestamp": str(int(time.time())),
                "type": "text",
                "text": {"body": body},
            }
        ],
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1029", "changes": [{"value": value, "field": "messages"}]}],
    }
