"""The WhatsApp channel against the running app: Meta's deliveries in, a fake Graph API
out (a real HTTP server on 127.0.0.1 that records what civic sent)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from civic import delivery as sending
from civic.channels import Host, collect_channels, inbox
from civic.config import Config, parse_config
from civic.engine import Engine
from civic.plugins import load_plugins
from civic.report import ReportScope, build_report
from civic.serve import ServeError, create_app
from civic.storage import Storage
from tests.conftest import SECRET

APP_SECRET = "the-app-secret"
VERIFY_TOKEN = "the-verify-token"
CAC, PROCON = "106540352242922", "106540352242923"
BSUID = "BR.1502576394655843"
PHONE = "5581999990000"


class FakeGraph:
    """A Graph API on a local port: records each POST, answers OK or fails on demand."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.tokens: list[str | None] = []
        self.failing = False
        app = Starlette(routes=[Route("/v23.0/{number}/messages", self.post, methods=["POST"])])
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def post(self, request: Request) -> JSONResponse:
        if self.failing:
            return JSONResponse({"error": {"message": "unavailable"}}, status_code=503)
        self.sent.append(await request.json())
        self.paths.append(request.url.path)
        self.tokens.append(request.headers.get("authorization"))
        return JSONResponse({"messages": [{"id": f"wamid.out.{len(self.sent)}"}]})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v23.0"

    def texts(self) -> list[str]:
        """What the citizen read, message by message."""
        out = []
        for body in self.sent:
            if body["type"] == "text":
                out.append(body["text"]["body"])
            elif body["type"] == "interactive":
                out.append(body["interactive"]["body"]["text"])
        return out


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    fake = FakeGraph()
    fake.thread.start()
    while not fake.server.started:
        time.sleep(0.01)
    yield fake
    fake.server.should_exit = True
    fake.thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _settings(monkeypatch: pytest.MonkeyPatch, graph: FakeGraph) -> None:
    monkeypatch.setenv("CIVIC_WHATSAPP_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("CIVIC_WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN)
    monkeypatch.setenv("CIVIC_WHATSAPP_ACCESS_TOKEN", "the-token")
    monkeypatch.setenv("CIVIC_WHATSAPP_API_URL", graph.url)
    monkeypatch.setattr(sending, "BACKOFF", (dt.timedelta(0),) * 3)


CONFIG = parse_config({"whatsapp": {"numbers": {PROCON: "procon"}}})


def make_host(storage: Storage, config: Config = CONFIG) -> Host:
    engine = Engine(storage, secret=SECRET, manager=load_plugins(), config=config)
    return Host(engine=engine, config=config)


def app(host: Host) -> Starlette:
    """The service with the WhatsApp channel alone."""
    whatsapp = collect_channels(host.engine.pm)["whatsapp"]
    return create_app(host, {"whatsapp": whatsapp})


@pytest.fixture
def client(storage: Storage) -> Iterator[TestClient]:
    with TestClient(app(make_host(storage))) as test_client:
        yield test_client


# -- Meta's shapes ------------------------------------------------------------------------

_ids = iter(range(10**6))


def message(kind: str, content: Any, *, number: str = PROCON, **extra: Any) -> dict[str, Any]:
    """A delivery of one message from Maria (BSUID and phone), of ``type`` ``kind``."""
    item: dict[str, Any] = {
        "from": PHONE,
        "from_user_id": BSUID,
        "id": f"wamid.in.{next(_ids)}",
        "timestamp": str(int(time.time())),
        "type": kind,
        kind: content,
        **extra,
    }
    return delivery(number, messages=[item])


def text(body: str, **extra: Any) -> dict[str, Any]:
    return message("text", {"body": body}, **extra)


def delivery(number: str = PROCON, **value: Any) -> dict[str, Any]:
    change_value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "553534350000", "phone_number_id": number},
        "contacts": [{"profile": {"name": "Maria"}, "wa_id": PHONE, "user_id": BSUID}],
        **value,
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1029", "changes": [{"value": change_value, "field": "messages"}]}],
    }


def post(client: TestClient, payload: dict[str, Any] | bytes, *, secret: str = APP_SECRET) -> int:
    """POST a delivery signed over its raw bytes, as Meta does."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(
        "/webhooks/whatsapp",
        content=body,
        headers={"X-Hub-Signature-256": signature, "Content-Type": "application/json"},
    )
    return response.status_code


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# -- the webhook ------------------------------------------------------------------------


def test_verification_handshake(client: TestClient) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}
    assert client.get("/webhooks/whatsapp", params=params).text == "42"
    params["hub.verify_token"] = "wrong"
    assert client.get("/webhooks/whatsapp", params=params).status_code == 403


def test_a_bad_or_missing_signature_stores_nothing(client: TestClient, storage: Storage) -> None:
    assert post(client, text("oi"), secret="not-the-secret") == 401
    response = client.post("/webhooks/whatsapp", content=json.dumps(text("oi")).encode())
    assert response.status_code == 401
    with storage.reading() as tx:
        assert tx.count_messages() == 0 and tx.inbox_items("received") == []


def test_the_signature_is_over_the_raw_escaped_bytes(client: TestClient, graph: FakeGraph) -> None:
    """Meta escapes non-ASCII and "/" in the JSON it signs; civic checks those bytes."""
    raw = json.dumps(text("olá, Conceição / bom dia"), ensure_ascii=True).replace("/", "\\/")
    assert post(client, raw.encode()) == 200
    reserialised = json.dumps(json.loads(raw), ensure_ascii=False).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), raw.encode(), hashlib.sha256).hexdigest()
    response = client.post(
        "/webhooks/whatsapp", content=reserialised, headers={"X-Hub-Signature-256": signature}
    )
    assert response.status_code == 401


def test_malformed_and_oversized_deliveries(client: TestClient) -> None:
    assert post(client, b"{not json") == 400
    assert post(client, b"x" * (1024 * 1024 + 1)) == 413


def test_a_text_is_answered_from_the_number_written_to(
    client: TestClient, graph: FakeGraph, storage: Storage
) -> None:
    assert post(client, text("Maria José dos Santos 529.982.247-25")) == 200
    # The number serves PROCON: no menu, straight into the department.
    wait_for(lambda: any("PROCON" in body for body in graph.texts()))
    assert {path for path in graph.paths} == {f"/v23.0/{PROCON}/messages"}
    assert set(graph.tokens) == {"Bearer the-token"}
    assert graph.sent[0]["to"] == PHONE
    with storage.reading() as tx:
        (conversation,) = tx.conversations()
    assert conversation["address"] == BSUID and conversation["department"] == "procon"
    wait_for(lambda: not _pending(storage))


def _pending(storage: Storage) -> list[Any]:
    with storage.reading() as tx:
        return tx.pending_outbox("whatsapp")


def test_a_duplicate_delivery_is_processed_once(client: TestClient, storage: Storage) -> None:
    payload = text("oi")
    assert post(client, payload) == 200
    assert post(client, payload) == 200  # Meta retries, for days
    with storage.reading() as tx:
        assert tx.count_messages(direction="in") == 1


def test_button_and_list_replies_reach_the_engine_as_the_choice(
    client: TestClient, graph: FakeGraph, storage: Storage
) -> None:
    post(client, text("Maria José dos Santos 529.982.247-25", number=CAC))
    wait_for(lambda: any(b["type"] == "interactive" for b in graph.sent))
    menu = next(b for b in graph.sent if b["type"] == "interactive")
    assert menu["interactive"]["type"] in ("list", "button")
    reply = {"type": "list_reply", "list_reply": {"id": "2", "title": "PROCON"}}
    post(client, message("interactive", reply, number=CAC))
    with storage.reading() as tx:
        (conversation,) = tx.conversations()
    assert conversation["department"] == "procon"
    button = {"type": "button_reply", "button_reply": {"id": "1", "title": "Sim"}}
    assert post(client, message("interactive", button, number=CAC)) == 200


@pytest.mark.parametrize(
    ("kind", "content"),
    [
        ("image", {"id": "media-1", "mime_type": "image/jpeg"}),
        ("audio", {"id": "media-2", "mime_type": "audio/ogg"}),
        ("location", {"latitude": -22.85, "longitude": -46.31}),
        ("reaction", {"message_id": "wamid.x", "emoji": "👍"}),
    ],
)
def test_media_is_stored_and_answered_politely(
    client: TestClient, graph: FakeGraph, storage: Storage, kind: str, content: dict[str, Any]
) -> None:
    assert post(client, message(kind, content)) == 200
    wait_for(lambda: any("só consigo ler texto" in t for t in graph.texts()))
    with storage.reading() as tx:
        (conversation,) = tx.conversations()
        logged = [m["text"] for m in tx.messages(conversation["id"]) if m["direction"] == "in"]
    assert logged[0].startswith(f"[{kind}")
    if "id" in content:
        assert content["id"] in logged[0]


def test_an_unsupported_message_is_a_dead_letter_never_dropped(
    client: TestClient, storage: Storage
) -> None:
    payload = delivery(messages=[{"id": "wamid.z", "timestamp": "1", "type": "unsupported"}])
    payload["entry"][0]["changes"][0]["value"]["contacts"] = []
    assert post(client, payload) == 200
    weird = {"object": "instagram", "entry": []}
    assert post(client, weird) == 200
    with storage.reading() as tx:
        dead = tx.inbox_items("dead")
    assert len(dead) >= 1 and bytes(dead[-1]["body"]).startswith(inbox.SEALED)  # at rest
    assert json.loads(inbox.opened(client.app.state.host, bytes(dead[-1]["body"]))) == weird


def test_several_messages_and_statuses_in_one_delivery(
    client: TestClient, storage: Storage
) -> None:
    first, second = text("oi"), text("bom dia")
    payload = delivery(
        messages=[
            first["entry"][0]["changes"][0]["value"]["messages"][0],
            second["entry"][0]["changes"][0]["value"]["messages"][0],
        ],
        statuses=[
            {"id": "wamid.unknown", "status": "read", "timestamp": "1", "recipient_id": PHONE}
        ],
    )
    assert post(client, payload) == 200
    with storage.reading() as tx:
        assert tx.count_messages(direction="in") == 2


def test_statuses_move_forward_and_an_early_one_is_kept(
    client: TestClient, graph: FakeGraph, storage: Storage
) -> None:
    # The "read" of the first reply arrives before civic recorded the send.
    early = {"id": "wamid.out.1", "status": "read", "timestamp": "1", "recipient_id": PHONE}
    post(client, delivery(statuses=[early]))
    post(client, text("oi"))
    wait_for(lambda: len(graph.sent) >= 1)
    wait_for(lambda: _status(storage, "wamid.out.1") == "read")
    backwards = {
        "id": "wamid.out.1",
        "status": "delivered",
        "timestamp": "2",
        "recipient_id": PHONE,
    }
    post(client, delivery(statuses=[backwards]))
    assert _status(storage, "wamid.out.1") == "read"  # never backwards


def _status(storage: Storage, provider_id: str) -> str | None:
    import sqlalchemy as sa

    from civic.storage import outbox_t

    with storage.engine.connect() as conn:
        return conn.execute(
            sa.select(outbox_t.c.status).where(outbox_t.c.provider_message_id == provider_id)
        ).scalar()


def test_the_channel_refuses_to_start_without_an_app_secret(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CIVIC_WHATSAPP_APP_SECRET")
    with pytest.raises(ServeError, match="CIVIC_WHATSAPP_APP_SECRET"):
        app(make_host(storage))
    host = make_host(storage)
    host.development = True
    app(host)  # --dev: allowed


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


# -- sending survives failures and restarts -------------------------------------------


def test_pending_replies_are_sent_once_after_a_restart(storage: Storage, graph: FakeGraph) -> None:
    graph.failing = True
    with TestClient(app(make_host(storage))) as first:
        post(first, text("oi"))
        wait_for(lambda: _attempted(storage))
    assert graph.sent == []  # the server stopped with every reply unsent
    graph.failing = False
    with TestClient(app(make_host(storage))):
        wait_for(lambda: not _pending(storage))
    texts = graph.texts()
    assert texts and len(texts) == len(set(texts))  # each reply exactly once


def _attempted(storage: Storage) -> bool:
    import sqlalchemy as sa

    from civic.storage import outbox_t

    with storage.engine.connect() as conn:
        return bool(conn.execute(sa.select(sa.func.max(outbox_t.c.attempts))).scalar())


def test_a_send_that_keeps_failing_is_marked_failed(storage: Storage, graph: FakeGraph) -> None:
    graph.failing = True
    with TestClient(app(make_host(storage))) as client:
        post(client, text("oi"))
        wait_for(lambda: _statuses(storage) == {"failed"}, timeout=20)


def _statuses(storage: Storage) -> set[str]:
    import sqlalchemy as sa

    from civic.storage import outbox_t

    with storage.engine.connect() as conn:
        return set(conn.execute(sa.select(outbox_t.c.status)).scalars())


# -- a whole conversation by WhatsApp alone -------------------------------------------


def test_a_whole_conversation_by_whatsapp(
    client: TestClient, graph: FakeGraph, storage: Storage
) -> None:
    from tests.test_procon import COMPLAINT

    post(client, text("Maria José dos Santos 529.982.247-25"))
    post(client, text("quero fazer uma reclamação"))
    for answer, _question in COMPLAINT:
        post(client, text(answer))
    post(client, text("1"))  # confirm the summary
    post(client, text("não"))  # nothing more
    wait_for(
        lambda: any(
            b["type"] == "interactive" and "0 a 10" in json.dumps(b, ensure_ascii=False)
            for b in graph.sent
        )
    )
    score = next(
        b
        for b in graph.sent
        if b["type"] == "interactive"
        and b["interactive"]["type"] == "list"
        and "0 a 10" in b["interactive"]["body"]["text"]
    )
    rows = [
        row["id"]
        for section in score["interactive"]["action"]["sections"]
        for row in section["rows"]
    ]
    assert "9" in rows
    pick = {"type": "list_reply", "list_reply": {"id": "9", "title": "9"}}
    post(client, message("interactive", pick))
    post(client, text("não"))
    with storage.reading() as tx:
        (conversation,) = tx.conversations()
        assert conversation["state"] == "closed"
        assert tx.submission("PROCON-" + str(dt.date.today().year) + "-000001") is not None
    report = build_report(storage, ReportScope())
    assert report.total.rated == 1 and report.total.mean_score == 9
    wait_for(lambda: any("protocolo é PROCON" in t for t in graph.texts()))
    # The team answers the protocol (as the console does): the citizen reads it on WhatsApp.
    from civic import protocols

    host = make_host(storage)
    protocol = "PROCON-" + str(dt.date.today().year) + "-000001"
    protocols.set_status(host.engine, protocol, "answered", agent="Bia", note="A loja vai trocar.")
    wait_for(lambda: any("A loja vai trocar." in t for t in graph.texts()))
    (answered,) = [
        b for b in graph.sent if "A loja vai trocar." in json.dumps(b, ensure_ascii=False)
    ]
    assert answered["to"] == PHONE


# -- dead letters, the service window, logs, the real command --------------------------


def test_dead_letters_are_listed_and_retried(
    client: TestClient, storage: Storage, tmp_path: Any
) -> None:
    from typer.testing import CliRunner

    from civic.cli import app as cli

    weird = delivery(messages=[{"id": "wamid.q", "timestamp": "1", "type": "text"}])
    weird["entry"][0]["changes"][0]["value"]["contacts"] = []
    assert post(client, weird) == 200
    url = storage.url
    runner = CliRunner()
    listed = runner.invoke(
        cli, ["inbox", "dead-letters", "--format", "json", "--database-url", url]
    )
    assert listed.exit_code == 0, listed.output
    (dead,) = json.loads(listed.stdout)
    assert dead["channel"] == "whatsapp" and "sender" in dead["error"]
    again = runner.invoke(cli, ["inbox", "retry", str(dead["id"]), "--database-url", url])
    assert again.exit_code == 0 and "dead" in again.stdout  # still not understood: kept
    missing = runner.invoke(cli, ["inbox", "retry", "9999", "--database-url", url])
    assert missing.exit_code == 1 and "no delivery 9999" in missing.stderr


def test_outside_the_24_hour_window_only_a_template_is_sent(
    storage: Storage, graph: FakeGraph
) -> None:
    from civic import staff

    old = str(int(time.time()) - 25 * 3600)
    late = text("atendente")
    late["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = old
    with TestClient(app(make_host(storage))) as client:
        post(client, late)
        wait_for(lambda: not _pending(storage))
        conversation = json.loads(json.dumps(_conversation_id(storage)))
        staff.take(make_host(storage).engine, conversation, "Ana")
        staff.reply(make_host(storage).engine, conversation, "Ana", "Desculpe a demora!")
        wait_for(lambda: not _pending(storage))  # refused, not sent: failed, for staff
    assert _statuses(storage) == {"failed"}
    assert not any("Desculpe a demora" in t for t in graph.texts())
    with_template = parse_config(
        {"whatsapp": {"numbers": {PROCON: "procon"}, "template": "retorno_atendimento"}}
    )
    staff.reply(make_host(storage).engine, conversation, "Ana", "Pode responder por aqui?")
    with TestClient(app(make_host(storage, with_template))):
        wait_for(lambda: any(b["type"] == "template" for b in graph.sent))
    (template,) = [b for b in graph.sent if b["type"] == "template"]
    assert template["template"]["name"] == "retorno_atendimento"


def _conversation_id(storage: Storage) -> int:
    with storage.reading() as tx:
        (conversation,) = tx.conversations()
    return int(conversation["id"])


def test_logs_are_json_with_cpfs_and_phones_masked(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from civic.serve import configure_logging

    configure_logging()
    try:
        logging.getLogger("civic.test").warning("citizen 529.982.247-25 wrote from 5535999990000")
        line = capsys.readouterr().err.strip().splitlines()[-1]
    finally:
        logging.getLogger().handlers.clear()
    entry = json.loads(line)
    assert entry["level"] == "warning" and entry["logger"] == "civic.test"
    assert "529.982.247-25" not in entry["message"] and "5535999990000" not in entry["message"]


def test_civic_serve_runs_and_answers_health_checks(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "CIVIC_HOME": str(tmp_path)}
    env.pop("CIVIC_WHATSAPP_APP_SECRET", None)
    command = [sys.executable, "-m", "civic", "serve", "--port", str(port)]
    command += ["--database-url", f"sqlite:///{tmp_path / 'civic.db'}"]
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "CIVIC_WHATSAPP_APP_SECRET" in refused.stderr
    server = subprocess.Popen([*command, "--dev"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.1)
        assert health.json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").json() == {"status": "ready"}
    finally:
        server.terminate()
        server.wait(timeout=10)
