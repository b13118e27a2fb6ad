"""The web chat over HTTP: the page, its cookie, messages in and out, and what is refused."""

from __future__ import annotations

import itertools
import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from civic import staff
from civic.channels import Host, collect_channels, webchat
from civic.config import Config
from civic.engine import Engine
from civic.plugins import load_plugins
from civic.serve import create_app
from civic.storage import Storage
from tests.chat import MARIA
from tests.conftest import SECRET

with warnings.catch_warnings():  # Starlette's TestClient runs on httpx, now "deprecated"
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

CPF_DIGITS = "52998224725"
JSON_TYPE = "application/json"
ORIGIN = "http://testserver"
_ids = itertools.count(1)


def make_host(storage: Storage) -> Host:
    return Host(engine=Engine(storage, secret=SECRET, manager=load_plugins()), config=Config())


def make_app(host: Host) -> Any:
    """The app of ``civic serve`` with only the web chat mounted (the WhatsApp channel has
    tests of its own and needs secrets)."""
    return create_app(host, channels={"webchat": collect_channels(host.engine.pm)["webchat"]})


@pytest.fixture
def host(storage: Storage) -> Host:
    return make_host(storage)


@pytest.fixture
def client(host: Host) -> Iterator[TestClient]:
    """A browser that opened the page (so it holds the chat cookie)."""
    with TestClient(make_app(host)) as browser:
        assert browser.get("/chat").status_code == 200
        yield browser


def say(client: TestClient, text: str, message_id: str | None = None) -> dict[str, Any]:
    """Send one message as the page does; return the JSON answer."""
    response = client.post(
        "/chat/messages",
        json={"text": text, "id": message_id or f"msg-{next(_ids):06d}"},
        headers={"Origin": ORIGIN},
    )
    assert response.status_code == 200, response.text
    return response.json()


def texts(answer: dict[str, Any]) -> str:
    return "\n".join(m["text"] for m in answer["messages"])


def address_of(storage: Storage) -> str:
    with storage.reading() as tx:
        (row,) = tx.conversations()[-1:]
    return row["address"]


# -- the page and its cookie ----------------------------------------------------------


def test_the_page_is_served_with_an_opaque_cookie(host: Host) -> None:
    with TestClient(make_app(host)) as browser:
        response = browser.get("/chat")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for fragment in ("Atendimento ao cidadão", "Digite sua mensagem", "Enviar", 'lang="pt-BR"'):
        assert fragment in page
    assert 'aria-live="polite"' in page and '<label for="text">' in page
    assert "Casa do Cidadão" in page  # the city's name
    cookie = response.headers["set-cookie"]
    assert re.match(r"civic_chat=[A-Za-z0-9_-]{24};", cookie)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert int(re.search(r"Max-Age=(\d+)", cookie).group(1)) >= 90 * 24 * 3600
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back


@pytest.mark.parametrize(
    ("base_url", "headers"),
    [("https://testserver", {}), ("http://testserver", {"X-Forwarded-Proto": "https"})],
)
def test_the_cookie_is_secure_over_https(host: Host, base_url: str, headers: dict) -> None:
    with TestClient(make_app(host), base_url=base_url) as browser:
        cookie = browser.get("/chat", headers=headers).headers["set-cookie"]
    assert "; Secure" in cookie


def test_the_page_allows_only_its_own_script_and_style(client: TestClient) -> None:
    import base64
    import hashlib

    response = client.get("/chat")
    policy = response.headers["content-security-policy"]
    script = re.search(r"<script>(.*?)</script>", response.text, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["cache-control"] == "no-store"


def test_a_reload_keeps_the_cookie_and_the_conversation(
    client: TestClient, storage: Storage
) -> None:
    token = client.cookies["civic_chat"]
    say(client, "oi")
    say(client, MARIA)
    client.get("/chat")  # the citizen reloads the page
    assert client.cookies["civic_chat"] == token
    answer = say(client, "2")
    assert answer["state"] == "in_department" and "PROCON" in texts(answer)
    with storage.reading() as tx:
        assert len(tx.conversations()) == 1
    # The address is derived from the cookie, but is not the cookie: reading the database
    # does not give what it takes to read this citizen's chat.
    address = address_of(storage)
    assert address.startswith("web-") and token not in address


def test_a_cookie_civic_did_not_make_is_replaced(host: Host) -> None:
    with TestClient(make_app(host)) as browser:
        browser.cookies.set("civic_chat", "x'; DROP")
        cookie = browser.get("/chat").headers["set-cookie"]
    assert re.match(r"civic_chat=[A-Za-z0-9_-]{24};", cookie)


# -- a conversation -------------------------------------------------------------------


CAC_REQUEST = [
    ("1", "Sobre o que é a sua solicitação?"),
    ("iluminação pública", "Descreva a sua solicitação"),
    ("Poste apagado na Rua das Flores, em frente ao número 120.", "Em qual bairro"),
    ("Centro", "Como prefere receber a resposta"),
    ("2", "Qual telefone"),
    ("(35) 3435-2052", "Confira suas respostas"),
]


def test_a_citizen_files_a_request_and_rates_the_service(
    client: TestClient, storage: Storage
) -> None:
    first = say(client, "oi")
    assert first["state"] == "identifying"
    assert "nome completo" in texts(first) and "Aviso de privacidade" in texts(first)
    assert {m["author"] for m in first["messages"]} == {"bot"}
    menu = say(client, MARIA)
    assert menu["state"] == "choosing_department"
    assert "***.982.247-**" in texts(menu) and CPF_DIGITS not in texts(menu)
    choices = menu["messages"][-1]["choices"]
    assert choices[0] == {"value": "1", "label": choices[0]["label"]}
    assert [c["value"] for c in choices] == ["1", "2", "3"]
    assert any(c["label"].startswith("CAC") for c in choices)
    assert say(client, "1")["state"] == "in_department"
    for answer, question in CAC_REQUEST:
        assert question in texts(say(client, answer))
    done = say(client, "confirmar")
    assert re.search(r"protocolo é CAC-\d{4}-\d{6}", texts(done))
    assert done["state"] == "offering_help"
    assert "nota" in texts(say(client, "não"))
    assert "comentário" in texts(say(client, "10"))
    closed = say(client, "não")
    assert closed["state"] == "closed" and "encerrado" in texts(closed)
    # Everything was delivered with its answer: nothing waits for the page's next poll.
    assert client.get("/chat/messages").json() == {"messages": [], "state": None}
    with storage.reading() as tx:
        (rating,) = tx.ratings()
        assert rating["score"] == 10
        conversation = tx.conversations()[-1]
        stored = [m["text"] for m in tx.messages(conversation["id"])]
    assert conversation["channel"] == "webchat"
    assert not any(CPF_DIGITS in re.sub(r"\D", "", text) for text in stored)
    cookie = client.cookies["civic_chat"]
    assert CPF_DIGITS not in cookie and "529.982.247-25" not in cookie


def test_a_second_browser_is_another_citizen(host: Host, client: TestClient) -> None:
    say(client, "oi")
    say(client, MARIA)
    with TestClient(make_app(host)) as other:
        other.get("/chat")
        assert other.cookies["civic_chat"] != client.cookies["civic_chat"]
        answer = say(other, "oi")
    assert answer["state"] == "identifying"


# -- retries and the outbox -----------------------------------------------------------


def test_a_double_submit_is_processed_once(client: TestClient, storage: Storage) -> None:
    say(client, "oi")
    first = say(client, MARIA, message_id="2f1c7a7e-0d0b-4c55-9d1e-5f1e7a1a0001")
    again = say(client, MARIA, message_id="2f1c7a7e-0d0b-4c55-9d1e-5f1e7a1a0001")
    assert again == first and again["messages"]
    with storage.reading() as tx:
        assert tx.count_messages(direction="in") == 2  # "oi" and the identification, once
        assert len(tx.ratings()) == 0
    assert say(client, "1")["state"] == "in_department"  # and the conversation goes on


def test_a_message_id_another_citizen_used_is_refused(host: Host, client: TestClient) -> None:
    say(client, "oi", message_id="shared-id-0001")
    with TestClient(make_app(host)) as other:
        other.get("/chat")
        response = other.post(
            "/chat/messages", json={"text": "oi", "id": "shared-id-0001"}, headers={}
        )
    assert response.status_code == 400
    assert "messages" not in response.json()  # the first citizen's replies stay theirs


def test_an_attendants_reply_reaches_the_page_once(
    host: Host, client: TestClient, storage: Storage
) -> None:
    say(client, "oi")
    say(client, MARIA)
    waiting = say(client, "quero falar com um atendente")
    assert waiting["state"] == "waiting_human"
    assert client.get("/chat/messages").json() == {"messages": [], "state": None}
    with storage.reading() as tx:
        conversation_id = tx.conversations()[-1]["id"]
    staff.take(host.engine, conversation_id, "Ana")
    staff.reply(host.engine, conversation_id, "Ana", "Bom dia, Maria! Já vejo o seu pedido.")
    polled = client.get("/chat/messages").json()
    assert polled["state"] == "with_agent"
    (message,) = polled["messages"]
    assert message["author"] == "agent" and message["agent"] == "Ana"
    assert message["text"] == "Bom dia, Maria! Já vejo o seu pedido."
    assert message["choices"] == [] and isinstance(message["id"], int)
    assert client.get("/chat/messages").json()["messages"] == []  # once and only once
    assert host.engine.pending("webchat", address_of(storage)) == []
    # The attendant closes: the survey comes to the page the same way.
    staff.close(host.engine, conversation_id, "Ana")
    (survey,) = client.get("/chat/messages").json()["messages"]
    assert survey["author"] == "bot" and "nota" in survey["text"]
    assert say(client, "9")["state"] == "rating"


def test_a_poll_without_anything_new_is_empty(client: TestClient) -> None:
    response = client.get("/chat/messages")
    assert response.status_code == 200
    assert response.json() == {"messages": [], "state": None}
    assert response.headers["cache-control"] == "no-store"


# -- what is refused ------------------------------------------------------------------


def raw(client: TestClient, body: bytes | Iterator[bytes], **headers: str) -> Any:
    return client.post("/chat/messages", content=body, headers=headers)


def chunks() -> Iterator[bytes]:
    """A 40 KB body sent without Content-Length (chunked)."""
    yield b'{"text": "'
    for _ in range(40):
        yield b"a" * 1024
    yield b'", "id": "chunked-0001"}'


JSON = {"Content-Type": JSON_TYPE}
OK = b'{"text": "oi", "id": "abcdefgh"}'


def text_of(size: int) -> bytes:
    return b'{"text": "' + b"a" * size + b'", "id": "abcdefgh"}'


@pytest.mark.parametrize(
    ("body", "headers", "status", "fragment"),
    [
        (b"oi", JSON, 400, "JSON"),
        (b"", JSON, 400, "JSON"),
        (b'["oi"]', JSON, 400, "JSON"),
        (b'{"text": 5, "id": "abcdefgh"}', JSON, 400, "JSON"),
        (b'{"text": "oi"}', JSON, 400, "id válido"),
        (b'{"text": "oi", "id": "a b"}', JSON, 400, "id válido"),
        (b'{"text": "   ", "id": "abcdefgh"}', JSON, 400, "Digite"),
        (text_of(4001), JSON, 400, "longa demais"),
        (OK, {"Content-Type": "text/plain"}, 415, "JSON"),
        (
            b"text=oi&id=abcdefgh",
            {"Content-Type": "application/x-www-form-urlencoded"},
            415,
            "JSON",
        ),
        (OK, {}, 415, "JSON"),
        (text_of(20_000), JSON, 413, "grande demais"),
        (chunks, JSON, 413, "grande demais"),
        (OK, {**JSON, "Origin": "https://evil.example"}, 403, "recusado"),
        (OK, {**JSON, "Origin": "null"}, 403, "recusado"),
        (OK, {**JSON, "Origin": "https://testserver"}, 403, "recusado"),  # not over http
        (OK, {**JSON, "Sec-Fetch-Site": "cross-site"}, 403, "recusado"),
    ],
)
def test_bad_requests_are_refused_and_store_nothing(
    client: TestClient,
    storage: Storage,
    body: Any,
    headers: dict[str, str],
    status: int,
    fragment: str,
) -> None:
    response = raw(client, body() if callable(body) else body, **headers)
    assert response.status_code == status
    assert fragment in response.json()["error"]
    with storage.reading() as tx:
        assert tx.count_messages() == 0


def test_without_the_cookie_nothing_is_stored(host: Host, storage: Storage) -> None:
    with TestClient(make_app(host)) as browser:  # never opened the page
        sent = browser.post("/chat/messages", json={"text": "oi", "id": "abcdefgh"})
        polled = browser.get("/chat/messages")
    assert sent.status_code == polled.status_code == 400
    assert "Recarregue a página" in sent.json()["error"]
    with storage.reading() as tx:
        assert tx.count_messages() == 0


def test_a_page_of_another_site_cannot_collect_the_messages(client: TestClient) -> None:
    response = client.get("/chat/messages", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403


def test_a_database_failure_asks_the_page_to_send_again(
    host: Host, client: TestClient, monkeypatch: pytest.MonkeyPatch, storage: Storage
) -> None:
    def broken(inbound: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(host.engine, "handle", broken)
    response = client.post("/chat/messages", json={"text": "oi", "id": "abcdefgh"})
    assert response.status_code == 503
    assert "indisponível" in response.json()["error"]
    monkeypatch.undo()
    assert say(client, "oi", message_id="abcdefgh")["state"] == "identifying"  # the retry


def test_limits_are_what_the_page_enforces() -> None:
    page = (webchat.resources.files("civic.channels") / "webchat.html").read_text("utf-8")
    assert f'maxlength="{webchat.TEXT_LIMIT}"' in page
    assert webchat.TEXT_LIMIT * 4 < webchat.BODY_LIMIT  # any 4000 characters fit the body
