"""The WhatsApp Cloud API's formats: deliveries parsed, signatures checked, replies rendered.

Payloads follow the shapes of Meta's webhook reference (…/webhooks/reference/messages and
its per-type pages) and of the 2026 business-scoped user id (BSUID) change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civic.channels.whatsapp_api import (
    IncomingMessage,
    StatusUpdate,
    Unreadable,
    parse_delivery,
    render_reply,
    render_template,
    verification_response,
    verify_signature,
    within_service_window,
)

ACCOUNT = "106540352242922"
PHONE = "5581999990000"
BSUID = "BR.1502576394655843"
SECRET = "app-secret"
WHEN = "1749416383"
WHEN_UTC = dt.datetime(2025, 6, 8, 20, 59, 43, tzinfo=dt.UTC)


def value(*, messages: Any = None, statuses: Any = None, **extra: Any) -> dict[str, Any]:
    """A change's ``value`` for the city's number, with its sender in ``contacts``."""
    result: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "558130000000", "phone_number_id": ACCOUNT},
        **extra,
    }
    if messages is not None:
        result.setdefault(
            "contacts", [{"profile": {"name": "Maria"}, "wa_id": PHONE, "user_id": BSUID}]
        )
        result["messages"] = messages
    if statuses is not None:
        result["statuses"] = statuses
    return result


def delivery(*entries: list[dict[str, Any]]) -> dict[str, Any]:
    """A delivery of one entry per argument, each a list of change values."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "102290129340398", "changes": [{"value": v, "field": "messages"} for v in e]}
            for e in entries
        ],
    }


def message(kind: str, content: Any = None, **extra: Any) -> dict[str, Any]:
    """One ``messages[]`` item from Maria, with BSUID, of ``type`` ``kind``."""
    item = {"from": PHONE, "from_user_id": BSUID, "id": f"wamid.{kind}", "timestamp": WHEN}
    item["type"] = kind
    if content is not None:
        item[kind] = content
    return {**item, **extra}


def parse_one(item: dict[str, Any]) -> IncomingMessage:
    (event,) = parse_delivery(delivery([value(messages=[item])]))
    assert isinstance(event, IncomingMessage), event
    return event


# --- Incoming messages --------------------------------------------------------------


def test_text_message_with_bsuid_is_addressed_by_the_bsuid() -> None:
    event = parse_one(message("text", {"body": "Quero reclamar da conta de luz"}))
    assert event == IncomingMessage(
        account=ACCOUNT,
        message_id="wamid.text",
        user_id=BSUID,
        phone=PHONE,
        name="Maria",
        kind="text",
        text="Quero reclamar da conta de luz",
        media_id=None,
        caption=None,
        timestamp=WHEN_UTC,
        raw=message("text", {"body": "Quero reclamar da conta de luz"}),
    )
    assert event.address == BSUID
    assert event.timestamp is not None and event.timestamp.utcoffset() == dt.timedelta(0)


def test_text_message_before_bsuids_is_addressed_by_the_phone() -> None:
    """The shape Meta documented before 2026: ``wa_id`` and ``from`` only."""
    item: dict[str, Any] = {"from": PHONE, "id": "wamid.1", "timestamp": WHEN, "type": "text"}
    item["text"] = {"body": "oi"}
    contacts = [{"profile": {"name": "João"}, "wa_id": PHONE}]
    (event,) = parse_delivery(delivery([value(messages=[item], contacts=contacts)]))
    assert isinstance(event, IncomingMessage)
    assert (event.user_id, event.phone, event.name, event.address) == (None, PHONE, "João", PHONE)


def test_message_from_a_username_user_has_only_the_bsuid() -> None:
    """A citizen with a username whose number Meta withholds: no ``from``, no ``wa_id``."""
    item: dict[str, Any] = {"from_user_id": BSUID, "id": "wamid.u", "timestamp": WHEN}
    item["type"] = "text"
    item["text"] = {"body": "bom dia"}
    contacts = [{"profile": {"name": "Ana", "username": "@ana"}, "user_id": BSUID}]
    (event,) = parse_delivery(delivery([value(messages=[item], contacts=contacts)]))
    assert isinstance(event, IncomingMessage)
    assert (event.phone, event.user_id, event.address, event.name) == (None, BSUID, BSUID, "Ana")


def test_bsuid_only_in_contacts_is_found_for_the_message() -> None:
    item = {
        "from": PHONE,
        "id": "wamid.c",
        "timestamp": WHEN,
        "type": "text",
        "text": {"body": "x"},
    }
    assert parse_one(item).user_id == BSUID


def test_button_reply_hands_the_engine_the_button_id() -> None:
    reply = {"type": "button_reply", "button_reply": {"id": "2", "title": "Não"}}
    event = parse_one(message("interactive", reply))
    assert (event.kind, event.text) == ("interactive", "2")


def test_list_reply_hands_the_engine_the_row_id() -> None:
    reply = {
        "type": "list_reply",
        "list_reply": {"id": "7", "title": "Iluminação…", "description": "Iluminação pública"},
    }
    event = parse_one(message("interactive", reply))
    assert (event.kind, event.text) == ("interactive", "7")


def test_template_quick_reply_button_hands_the_engine_its_payload() -> None:
    event = parse_one(message("button", {"payload": "avaliar", "text": "Avaliar"}))
    assert (event.kind, event.text) == ("button", "avaliar")
    event = parse_one(message("button", {"text": "Avaliar"}))
    assert event.text == "Avaliar"


def test_image_with_caption() -> None:
    image = {"caption": "o buraco na rua", "mime_type": "image/jpeg", "sha256": "x", "id": "111"}
    event = parse_one(message("image", image))
    assert (event.kind, event.text, event.media_id, event.caption) == (
        "image",
        None,
        "111",
        "o buraco na rua",
    )


@pytest.mark.parametrize(
    ("kind", "content", "caption"),
    [
        ("audio", {"mime_type": "audio/ogg; codecs=opus", "id": "222", "voice": True}, None),
        ("video", {"mime_type": "video/mp4", "id": "333", "caption": "vídeo"}, "vídeo"),
        (
            "document",
            {"mime_type": "application/pdf", "id": "444", "filename": "conta.pdf", "caption": "c"},
            "c",
        ),
        ("sticker", {"mime_type": "image/webp", "id": "555", "animated": False}, None),
    ],
)
def test_media_messages(kind: str, content: dict[str, Any], caption: str | None) -> None:
    event = parse_one(message(kind, content))
    assert (event.kind, event.text, event.media_id, event.caption) == (
        kind,
        None,
        content["id"],
        caption,
    )


@pytest.mark.parametrize(
    ("kind", "content"),
    [
        ("location", {"latitude": -8.05, "longitude": -34.9, "name": "Praça", "address": "Rua"}),
        ("contacts", [{"name": {"formatted_name": "Zé"}, "phones": [{"phone": "+55 81 9"}]}]),
        ("reaction", {"message_id": "wamid.previous", "emoji": "👍"}),
    ],
)
def test_messages_without_text_for_the_engine(kind: str, content: Any) -> None:
    event = parse_one(message(kind, content))
    assert (event.kind, event.text, event.media_id, event.caption) == (kind, None, None, None)
    assert event.raw[kind] == content


def test_unsupported_message() -> None:
    errors = [{"code": 131051, "title": "Message type unknown", "message": "Message type unknown"}]
    event = parse_one(message("unsupported", None, errors=errors))
    assert (event.kind, event.text, event.address) == ("unsupported", None, BSUID)


def test_system_message_has_no_contacts_and_no_text() -> None:
    """…/reference/messages/system: a number change; system webhooks have no contacts."""
    system = {
        "body": "User Maria changed from 5581999990000 to 5581988880000",
        "wa_id": "5581988880000",
        "type": "user_changed_number",
    }
    item = {"from": PHONE, "id": "wamid.s", "timestamp": WHEN, "type": "system", "system": system}
    (event,) = parse_delivery(delivery([{**value(), "messages": [item]}]))
    assert isinstance(event, IncomingMessage)
    assert (event.kind, event.text, event.name, event.address) == ("system", None, None, PHONE)


# --- Statuses -----------------------------------------------------------------------


def status(state: str, **extra: Any) -> dict[str, Any]:
    item = {"id": "wamid.out", "status": state, "timestamp": WHEN, "recipient_id": PHONE}
    return {**item, **extra}


@pytest.mark.parametrize("state", ["sent", "delivered", "read", "played"])
def test_status_updates(state: str) -> None:
    (event,) = parse_delivery(delivery([value(statuses=[status(state)])]))
    assert event == StatusUpdate(ACCOUNT, "wamid.out", state, PHONE, WHEN_UTC, None)


def test_status_names_the_recipient_by_bsuid_when_given() -> None:
    item = status("delivered", recipient_user_id=BSUID)
    (event,) = parse_delivery(delivery([value(statuses=[item])]))
    assert isinstance(event, StatusUpdate) and event.recipient == BSUID


def test_failed_status_carries_its_error() -> None:
    error = {
        "code": 131047,
        "title": "Re-engagement message",
        "message": "Re-engagement message",
        "error_data": {"details": "More than 24 hours have passed since the customer last replied"},
    }
    (event,) = parse_delivery(delivery([value(statuses=[status("failed", errors=[error])])]))
    assert isinstance(event, StatusUpdate)
    assert event.status == "failed"
    assert event.error == (
        "131047 Re-engagement message: More than 24 hours have passed since the customer "
        "last replied"
    )


# --- Batches and the unreadable -----------------------------------------------------


def test_every_entry_change_message_and_status_in_order() -> None:
    first = value(
        messages=[message("text", {"body": "um"}), message("text", {"body": "dois"}, id="w2")],
        statuses=[status("read")],
    )
    second = value(statuses=[status("sent", id="w3"), status("delivered", id="w4")])
    third = value(messages=[message("text", {"body": "três"}, id="w5")])
    events = parse_delivery(delivery([first, second], [third]))
    summary = [
        (type(e).__name__, e.text if isinstance(e, IncomingMessage) else getattr(e, "status", None))
        for e in events
    ]
    assert summary == [
        ("IncomingMessage", "um"),
        ("IncomingMessage", "dois"),
        ("StatusUpdate", "read"),
        ("StatusUpdate", "sent"),
        ("StatusUpdate", "delivered"),
        ("IncomingMessage", "três"),
    ]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ([1, 2], "not a JSON object"),
        (None, "not a JSON object"),
        ({"object": "page", "entry": []}, "object is 'page'"),
        ({"object": "whatsapp_business_account"}, "no entry list"),
        ({"object": "whatsapp_business_account", "entry": [7]}, "without a changes list"),
        (
            {
                "object": "whatsapp_business_account",
                "entry": [{"changes": [{"field": "account_update", "value": {}}]}],
            },
            "field 'account_update'",
        ),
        (delivery([{"messages": [message("text", {"body": "x"})]}]), "phone_number_id"),
        (delivery([value(messages="oops")]), "value.messages is not a list"),
        (delivery([value(messages=[{"from": PHONE, "type": "text"}])]), "without an id"),
        (
            delivery([value(messages=[{"id": "w", "type": "text"}], contacts=[])]),
            "without a sender",
        ),
        (delivery([value(statuses=[{"id": "w"}])]), "without id or status"),
        (delivery([value(statuses=["w"])]), "not an object"),
        (delivery([value()]), "no messages, statuses or errors"),
        (
            delivery([value(errors=[{"code": 130429, "title": "Rate limit hit"}])]),
            "130429 Rate limit hit",
        ),
    ],
)
def test_what_civic_cannot_read_is_unreadable(payload: Any, reason: str) -> None:
    (event,) = parse_delivery(payload)
    assert isinstance(event, Unreadable)
    assert reason in event.reason


def test_one_bad_message_does_not_hide_the_others() -> None:
    events = parse_delivery(delivery([value(messages=[42, message("text", {"body": "ok"})])]))
    assert isinstance(events[0], Unreadable) and events[0].fragment == {"json": 42}
    assert isinstance(events[1], IncomingMessage) and events[1].text == "ok"


def test_a_nonsense_timestamp_is_none() -> None:
    assert parse_one(message("text", {"body": "x"}, timestamp="ontem")).timestamp is None
    assert parse_one(message("text", {"body": "x"}, timestamp=10**30)).timestamp is None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
KEYS = st.sampled_from(
    ["object", "entry", "changes", "field", "value", "metadata", "phone_number_id", "messages",
     "statuses", "contacts", "id", "from", "from_user_id", "user_id", "wa_id", "type", "text",
     "body", "interactive", "button_reply", "list_reply", "timestamp", "errors", "status",
     "recipient_id", "profile", "name", "image", "caption", "button", "payload"]
)  # fmt: skip


@st.composite
def near_deliveries(draw: st.DrawFn) -> Any:
    """A well-formed delivery with some of its parts replaced by arbitrary JSON, so the
    parser is exercised below the envelope too."""
    items = [message("text", {"body": "x"}), message("interactive", {"type": "button_reply"})]
    base: Any = delivery([value(messages=items, statuses=[status("failed", errors=[{}])])])
    for _ in range(draw(st.integers(0, 4))):
        node = base
        for _depth in range(draw(st.integers(0, 6))):
            if isinstance(node, dict) and node:
                key = draw(st.sampled_from(sorted(node)))
                if isinstance(node[key], dict | list) and node[key]:
                    node = node[key]
            elif isinstance(node, list) and node and isinstance(node[0], dict | list):
                node = node[draw(st.integers(0, len(node) - 1))]
        if isinstance(node, dict):
            node[draw(KEYS)] = draw(JSON)
        elif isinstance(node, list) and node:
            node[draw(st.integers(0, len(node) - 1))] = draw(JSON)
    return base


@given(st.one_of(JSON, st.dictionaries(KEYS, JSON), near_deliveries()))
def test_parse_never_raises(payload: Any) -> None:
    events = parse_delivery(payload)
    assert isinstance(events, list)
    for event in events:
        assert isinstance(event, IncomingMessage | StatusUpdate | Unreadable)
        if isinstance(event, IncomingMessage):
            assert event.address and event.message_id and event.account


# --- Signatures and verification ----------------------------------------------------


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_valid_signature() -> None:
    body = json.dumps(delivery([value(messages=[message("text", {"body": "oi"})])])).encode()
    assert verify_signature(body, sign(body), SECRET)
    assert verify_signature(body, sign(body).upper().replace("SHA256=", "sha256="), SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "deadbeef",
        "sha1=" + "0" * 40,
        "sha256=" + "0" * 64,
        "sha256=" + "g" * 64,
        "sha256=" + "é" * 64,
        sign(b"{}", "another-secret"),
        sign(b"{} "),
    ],
)
def test_bad_or_missing_signature(header: str | None) -> None:
    assert not verify_signature(b"{}", header, SECRET)


def test_empty_app_secret_verifies_nothing() -> None:
    assert not verify_signature(b"{}", sign(b"{}", ""), "")


def test_signature_is_over_the_raw_escaped_bytes() -> None:
    """Meta signs the bytes it sends, with ``é`` as ``\\u00e9`` and ``/`` as ``\\/``."""
    raw = b'{"entry":[{"text":{"body":"Jos\\u00e9 pagou 1\\/2 da conta"}}]}'
    header = sign(raw)
    assert verify_signature(raw, header, SECRET)
    parsed = json.loads(raw)
    assert parsed["entry"][0]["text"]["body"] == "José pagou 1/2 da conta"
    for reserialised in (
        json.dumps(parsed, separators=(",", ":")).encode(),  # \u00e9 kept, but / unescaped
        json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode(),
    ):
        assert reserialised != raw
        assert not verify_signature(reserialised, header, SECRET)


def test_verification_answers_the_challenge() -> None:
    params = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "tok"}
    assert verification_response(params, "tok") == "1158201444"


@pytest.mark.parametrize(
    ("params", "token"),
    [
        ({"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "wrong"}, "tok"),
        ({"hub.mode": "unsubscribe", "hub.challenge": "1", "hub.verify_token": "tok"}, "tok"),
        ({"hub.mode": "subscribe", "hub.verify_token": "tok"}, "tok"),
        ({"hub.challenge": "1", "hub.verify_token": "tok"}, "tok"),
        ({"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": ""}, ""),
        ({"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "tók"}, "tok"),
    ],
)
def test_verification_refused(params: dict[str, str], token: str) -> None:
    assert verification_response(params, token) is None


# --- Service window and templates ---------------------------------------------------


def test_service_window_is_24_hours_from_the_last_inbound_message() -> None:
    now = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)
    assert not within_service_window(None, now)
    assert within_service_window(now - dt.timedelta(hours=23, minutes=59), now)
    assert not within_service_window(now - dt.timedelta(hours=24), now)
    assert not within_service_window(now - dt.timedelta(days=3), now)


def test_template_without_and_with_parameters() -> None:
    assert render_template("pesquisa_satisfacao", "pt_BR", to=PHONE) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": PHONE,
        "type": "template",
        "template": {"name": "pesquisa_satisfacao", "language": {"code": "pt_BR"}},
    }
    body = render_template("protocolo", "pt_BR", to=BSUID, parameters=["Maria", "PRC-2026-1"])
    assert body["recipient"] == BSUID and "to" not in body
    assert body["template"]["components"] == [
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "Maria"},
                {"type": "text", "text": "PRC-2026-1"},
            ],
        }
    ]


# --- Rendering replies --------------------------------------------------------------


def width(text: str) -> int:
    """UTF-16 code units, as the module counts (independently written)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def test_text_only_reply() -> None:
    assert render_reply("Olá, Maria!", [], to=PHONE) == [
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": PHONE,
            "type": "text",
            "text": {"body": "Olá, Maria!"},
        }
    ]
    assert render_reply("   ", [], to=PHONE) == []


def test_long_text_is_split_at_breaks_within_4096() -> None:
    paragraph = " ".join(["palavra"] * 120)  # 959 characters
    text = "\n\n".join([paragraph] * 9)
    bodies = [b["text"]["body"] for b in render_reply(text, [], to=PHONE)]
    assert len(bodies) == 3
    assert all(0 < width(b) <= 4096 for b in bodies)
    assert "\n\n".join(bodies) == text
    unbroken = "x" * 9000
    bodies = [b["text"]["body"] for b in render_reply(unbroken, [], to=PHONE)]
    assert [len(b) for b in bodies] == [4096, 4096, 808]


def test_one_to_three_short_choices_are_reply_buttons() -> None:
    (body,) = render_reply("Posso ajudar em algo mais?", [("1", "Sim"), ("2", "Não")], to=PHONE)
    assert body["type"] == "interactive"
    assert body["interactive"] == {
        "type": "button",
        "body": {"text": "Posso ajudar em algo mais?"},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": "1", "title": "Sim"}},
                {"type": "reply", "reply": {"id": "2", "title": "Não"}},
            ]
        },
    }


def test_a_tapped_button_reads_back_as_the_choice_value() -> None:
    (body,) = render_reply("Confirma?", [("sim", "Confirmar"), ("nao", "Corrigir")], to=PHONE)
    reply = body["interactive"]["action"]["buttons"][1]["reply"]
    tapped = {"type": "button_reply", "button_reply": reply}
    assert parse_one(message("interactive", tapped)).text == "nao"


def test_button_title_limit_is_20() -> None:
    (body,) = render_reply("?", [("1", "a" * 20), ("2", "b")], to=PHONE)
    assert body["interactive"]["type"] == "button"
    (body,) = render_reply("?", [("1", "a" * 21), ("2", "b")], to=PHONE)
    assert body["interactive"]["type"] == "list"
    emoji = "🏠" + "a" * 19  # 20 characters, 21 UTF-16 units
    (body,) = render_reply("?", [("1", emoji)], to=PHONE)
    assert body["interactive"]["type"] == "list"


def test_equal_labels_cannot_be_buttons() -> None:
    (body,) = render_reply("?", [("1", "Outro"), ("2", "Outro")], to=PHONE)
    assert body["interactive"]["type"] == "list"


def test_up_to_ten_choices_are_a_list_with_long_labels_shortened() -> None:
    long = "Defesa do consumidor e reclamações sobre serviços públicos essenciais da cidade"
    choices = [("1", long), *[(str(i), f"Opção {i}") for i in range(2, 11)]]
    (body,) = render_reply("Escolha o assunto:", choices, to=PHONE)
    interactive = body["interactive"]
    assert interactive["type"] == "list"
    assert interactive["body"] == {"text": "Escolha o assunto:"}
    assert interactive["action"]["button"] == "Escolher"
    rows = interactive["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows] == [str(i) for i in range(1, 11)]
    assert rows[0]["title"] == "Defesa do consumidor e…"
    assert width(rows[0]["title"]) <= 24
    assert rows[0]["description"] == long[:71] + "…"
    assert rows[1] == {"id": "2", "title": "Opção 2"}


def test_score_0_to_10_is_a_list_and_a_button() -> None:
    """Eleven options do not fit one list (10 rows): 0–9 in the list, 10 a button."""
    choices = [(str(n), str(n)) for n in range(11)]
    first, second = render_reply("De 0 a 10, que nota você dá?", choices, to=PHONE)
    assert first["interactive"]["type"] == "list"
    assert first["interactive"]["body"]["text"] == "De 0 a 10, que nota você dá?"
    rows = first["interactive"]["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows] == [str(n) for n in range(10)]
    assert second["interactive"] == {
        "type": "button",
        "body": {"text": "Ou escolha:"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "10", "title": "10"}}]},
    }


def test_score_10_to_0_splits_the_same_way() -> None:
    first, second = render_reply("Nota?", [(str(n), str(n)) for n in range(10, -1, -1)], to=PHONE)
    assert first["interactive"]["action"]["sections"][0]["rows"][0]["id"] == "10"
    assert second["interactive"]["action"]["buttons"][0]["reply"]["id"] == "0"


def test_more_than_ten_choices_are_numbered_lines() -> None:
    choices = [(str(n), f"Bairro {n}") for n in range(1, 12)]
    choices[5] = ("6", "Bairro com nome longo demais para um botão")
    (body,) = render_reply("Qual o seu bairro?", choices, to=PHONE)
    expected = "\n".join(["Qual o seu bairro?", *(f"{v}. {label}" for v, label in choices)])
    assert body["type"] == "text" and body["text"]["body"] == expected


def test_choices_whose_values_cannot_be_ids_are_numbered_lines() -> None:
    (body,) = render_reply("?", [("1", "Sim"), ("1", "Não")], to=PHONE)
    assert body["text"]["body"] == "?\n1. Sim\n1. Não"


def test_a_long_text_with_choices_goes_first_as_text() -> None:
    text = "Informações importantes. " * 60  # 1500 characters
    *lead, last = render_reply(text, [("1", "Sim"), ("2", "Não")], to=PHONE)
    assert [b["type"] for b in lead] == ["text"] and lead[0]["text"]["body"] == text.strip()
    assert last["interactive"]["body"]["text"] == "Escolha uma opção:"


def test_an_empty_text_with_choices_gets_the_prompt() -> None:
    (body,) = render_reply("", [("1", "Sim")], to=PHONE, prompt="Toque numa opção:")
    assert body["interactive"]["body"]["text"] == "Toque numa opção:"
    (body,) = render_reply("", [("1", "x" * 30)], to=PHONE, button="Ver opções")
    assert body["interactive"]["action"]["button"] == "Ver opções"
    assert body["interactive"]["body"]["text"] == "Escolha uma opção:"


def test_a_bsuid_is_sent_as_recipient() -> None:
    """…/whatsapp/business-scoped-user-ids: ``recipient`` takes a BSUID or parent BSUID."""
    for address in (BSUID, "US.ENT.11815799212886844830"):
        (body,) = render_reply("oi", [], to=address)
        assert body["recipient"] == address and "to" not in body
    (body,) = render_reply("oi", [], to=PHONE)
    assert body["to"] == PHONE and "recipient" not in body


def assert_within_limits(body: dict[str, Any], to: str) -> None:
    """Meta's documented limits for one Messages API body."""
    assert body["messaging_product"] == "whatsapp" and body["recipient_type"] == "individual"
    assert body.get("to", body.get("recipient")) == to
    if body["type"] == "text":
        assert body["text"]["body"].strip() and width(body["text"]["body"]) <= 4096
        return
    interactive = body["interactive"]
    assert interactive["body"]["text"].strip()
    assert width(interactive["body"]["text"]) <= 1024
    if interactive["type"] == "button":
        buttons = interactive["action"]["buttons"]
        assert 1 <= len(buttons) <= 3
        titles = [b["reply"]["title"] for b in buttons]
        ids = [b["reply"]["id"] for b in buttons]
        assert all(0 < width(t) <= 20 for t in titles) and len(set(titles)) == len(titles)
        assert all(0 < width(i) <= 256 for i in ids) and len(set(ids)) == len(ids)
    else:
        assert interactive["type"] == "list"
        assert 0 < width(interactive["action"]["button"]) <= 20
        (section,) = interactive["action"]["sections"]
        rows = section["rows"]
        assert 1 <= len(rows) <= 10
        assert all(0 < width(r["title"]) <= 24 for r in rows)
        assert all(width(r.get("description", "")) <= 72 for r in rows)
        ids = [r["id"] for r in rows]
        assert all(0 < width(i) <= 200 for i in ids) and len(set(ids)) == len(ids)


WORDS = st.sampled_from(["nota", "bairro", "🏠", "José", "\n", "\n\n", " ", "x" * 30, "ção"])
TEXTS = st.one_of(
    st.text(max_size=200),
    st.lists(WORDS, max_size=1500).map("".join),
    st.text(min_size=4000, max_size=5000, alphabet="ab 🏠\n"),
)
LABELS = st.one_of(st.text(max_size=90), st.sampled_from(["Sim", "Não", "🏠" * 11, ""]))
VALUES = st.one_of(st.integers(-1, 15).map(str), st.text(max_size=6), st.just("v" * 201))
CHOICES = st.one_of(
    st.lists(st.tuples(VALUES, LABELS), max_size=14),
    st.integers(10, 13).map(lambda n: [(str(i), str(i)) for i in range(n)]),
)


@given(TEXTS, CHOICES, st.sampled_from([PHONE, BSUID]))
def test_every_rendered_body_respects_the_limits(
    text: str, choices: list[tuple[str, str]], to: str
) -> None:
    bodies = render_reply(text, choices, to=to)
    for body in bodies:
        assert_within_limits(body, to)
    interactive = [b["interactive"] for b in bodies if b["type"] == "interactive"]
    if interactive:  # every choice is a tap away, in order, and nothing else is
        ids = [
            item["id"] if "id" in item else item["reply"]["id"]
            for i in interactive
            for item in i["action"].get("buttons") or i["action"]["sections"][0]["rows"]
        ]
        assert ids == [value for value, _ in choices]
    elif choices:  # typed instead: each value starts a numbered line
        sent = "".join("".join(b["text"]["body"] for b in bodies).split())
        for value, _ in choices:
            assert "".join(f"{value}.".split()) in sent
    if not choices:  # nothing lost or added, whitespace aside
        sent = "".join(b["text"]["body"] for b in bodies)
        assert "".join(sent.split()) == "".join(text.split())
