"""Point 5: no CPF, phone number or message text in any log or trace.

Whole conversations run with plugin tracing on and every logger at DEBUG, through the
engine and through ``civic serve``'s JSON log formatter; then nothing the citizen typed,
nor their CPF however written, nor their phone, may appear in what was written.
"""

from __future__ import annotations

import io
import json
import logging
import re
import warnings
from collections.abc import Iterator

import pytest

from civic import redaction
from civic.channels import Host, collect_channels
from civic.plugins import make_manager
from civic.serve import JsonFormatter, create_app
from civic.testing import Harness
from civic.text import normalise

with warnings.catch_warnings():  # Starlette's TestClient runs on httpx, now "deprecated"
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

CPF = "52998224725"
PHONE = "5535991234567"
#: Words of the citizen's messages that no log line may hold.
SECRET_WORDS = ("Filomena", "Quixeramobim", "geladeira", "vizinho")
#: The CPF as citizens type it.
TYPINGS = (
    "529.982.247-25",
    "52998224725",
    "529 982 247 25",
    "529.982.24725",
    "５２９９８２２４７２５",
)


def conversation(citizen: object) -> None:
    """A citizen who identifies (with the CPF written several ways) and files a request."""
    say = citizen.say  # type: ignore[attr-defined]
    say("oi, aqui é a Filomena de Quixeramobim")
    say(f"Filomena Quixeramobim {TYPINGS[0]}")
    for typed in TYPINGS[1:]:
        say(f"meu cpf é {typed} e a geladeira do vizinho")
    say("quero falar com um atendente sobre a geladeira")
    say(f"meu telefone é +55 35 99123-4567 ou {PHONE}")


def leaks(text: str) -> list[str]:
    """What of the citizen's data ``text`` holds (each line's digits read together, so
    ``529 982 247 25`` and ``５２９...`` count)."""
    found = [word for word in SECRET_WORDS if word.lower() in text.lower()]
    for line in text.splitlines():
        digits = re.sub(r"[^0-9]", "", normalise(line))
        if CPF in digits and "CPF" not in found:
            found.append("CPF")
        if "991234567" in digits and "phone" not in found:
            found.append("phone")
    return found


@pytest.fixture
def everything_logged(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Every record of every logger at DEBUG, through the filter and the JSON formatter
    ``civic serve`` installs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [handler])
    monkeypatch.setattr(logging.getLogger("civic"), "handlers", [])
    old_level = root.level
    root.setLevel(logging.DEBUG)
    redaction.install()
    try:
        yield stream
    finally:
        root.setLevel(old_level)


def traced_manager(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("CIVIC_TRACE_PLUGINS", "1")
    import os

    return make_manager(dict(os.environ))


def test_a_traced_conversation_writes_no_personal_data(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    everything_logged: io.StringIO,
) -> None:
    manager = traced_manager(monkeypatch)
    with caplog.at_level(logging.DEBUG), Harness(manager=manager, strict=False) as h:
        conversation(h.citizen(PHONE))
    trace = capsys.readouterr().err
    assert "identify_citizen(" in trace and "[hook]" in trace  # tracing did run
    assert "Conversation(id=" in trace
    assert leaks(trace) == [], trace
    assert leaks(caplog.text) == []
    assert leaks(everything_logged.getvalue()) == []


def test_the_trace_shows_shapes_not_values() -> None:
    from civic.reading import read

    described = redaction.describe(read(f"Filomena {TYPINGS[0]}"))
    assert "Filomena" not in described and "982" not in described
    assert redaction.describe("Filomena") == "str[8]"
    assert "52998224725" not in redaction.describe(52998224725)
    assert redaction.describe([1, 2]) == "list[2]"


def test_a_failing_plugin_s_error_names_no_value(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from civic import hookimpl

    class Echo:
        """Returns the citizen's words where a hook expects something else."""

        @hookimpl
        def score_rating(self, text: str) -> str:
            return f"nota de {text}"

    with caplog.at_level(logging.DEBUG), Harness(Echo(), installed=True, strict=False) as h:
        maria = h.citizen(PHONE)
        maria.script(f"Filomena Quixeramobim {TYPINGS[0]}", "encerrar", "vizinho 9")
    assert "returned str[" in caplog.text
    assert leaks(caplog.text) == []


def test_the_service_logs_hold_no_personal_data(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``civic serve``'s JSON logs (uvicorn's and civic's) over a web chat conversation
    and a WhatsApp delivery."""
    import hashlib
    import hmac

    stream = io.StringIO()
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    from civic import serve

    serve.configure_logging(logging.DEBUG)
    logging.getLogger().handlers[0].stream = stream  # type: ignore[attr-defined]
    monkeypatch.setenv("CIVIC_WHATSAPP_APP_SECRET", "s3cr3t")
    monkeypatch.setenv("CIVIC_WHATSAPP_ACCESS_TOKEN", "the-token")
    monkeypatch.setenv("CIVIC_WHATSAPP_API_URL", "http://127.0.0.1:9/v23.0")
    manager = traced_manager(monkeypatch)
    with Harness(manager=manager, installed=True, strict=False) as h:
        host = Host(engine=h.engine, config=h.engine.config)
        with TestClient(create_app(host, collect_channels(h.engine.pm))) as client:
            client.get("/chat")
            for n, line in enumerate(
                [f"Filomena Quixeramobim {TYPINGS[0]}", "a geladeira do vizinho", PHONE]
            ):
                client.post("/chat/messages", json={"text": line, "id": f"message-{n:04d}"})
            body = json.dumps(_delivery(f"meu cpf {TYPINGS[1]} geladeira")).encode()
            signature = "sha256=" + hmac.new(b"s3cr3t", body, hashlib.sha256).hexdigest()
            client.post(
                "/webhooks/whatsapp", content=body, headers={"X-Hub-Signature-256": signature}
            )
    written = stream.getvalue() + capsys.readouterr().err
    assert '"logger": "civic' in written or "[hook]" in written
    assert leaks(written) == [], written


def _delivery(body: str) -> dict[str, object]:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "553534350000", "phone_number_id": "106540352242923"},
        "contacts": [{"profile": {"name": "Filomena"}, "wa_id": PHONE}],
        "messages": [
            {
                "from": PHONE,
                "id": "wamid.logs.1",
                "timestamp": "1773666000",
                "type": "text",
                "text": {"body": body},
            }
        ],
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1029", "changes": [{"value": value, "field": "messages"}]}],
    }


def test_the_json_formatter_masks_errors_even_without_the_filter() -> None:
    try:
        raise ValueError(f"could not read {TYPINGS[0]} from {PHONE}")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "civic.x", logging.ERROR, __file__, 1, "for %s", (TYPINGS[2],), sys.exc_info()
        )
    line = json.loads(JsonFormatter().format(record))
    assert "ValueError" in line["error"]
    assert leaks(line["message"]) == [] and leaks(line["error"]) == []


def test_a_dead_letters_reasons_keep_no_cpf_or_phone_in_clear() -> None:
    """A reason quotes what came in (a message id, an error): it is stored for staff and
    shown by ``civic inbox dead-letters``, masked."""
    from civic.channels import inbox

    reason = inbox._reasons(
        ["message wamid.529.982.247-25: refused", "ValueError: '+55 35 99999-0001' is busy"]
    )
    assert reason is not None
    assert "529.982.247-25" not in reason and "99999-0001" not in reason
    assert reason.startswith("message wamid.") and "refused" in reason and "0001" in reason
