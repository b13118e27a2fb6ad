"""Fuzz the WhatsApp webhook and the message path; check nothing crashes, leaks or is lost.

    python -m tests.faults.fuzz --inputs 100000 [--seed 1] [--folder DIR]

Half the inputs are HTTP requests to the webhook of the real app (:func:`civic.serve.
create_app`, in process through Starlette's ``TestClient``, processing included):
signed deliveries of hostile texts, deliveries whose JSON is mutated (keys dropped,
values of the wrong type, deep nesting, statuses with made-up callback data), bodies
with bytes flipped or cut, and wrong or missing signatures. The other half go straight
to :meth:`civic.engine.Engine.handle` (hostile texts, :mod:`civic.testing.strategies`'
CPF shapes, lines of real conversations so citizens reach menus and forms). Around 200
citizens talk at once, so conversations move through every state.

What must hold, checked at the end (:class:`Figures`, :func:`problems`):

- no crash: no exception escapes the app or the engine (``InvalidInbound``, the engine's
  refusal of an unusable address, is counted, not a crash);
- no 5xx answer;
- no CPF in clear: none of the CPFs sent appears, as 11 digits or as ``000.000.000-00``,
  in the SQLite database file (every table, WAL included) or in the log (every record,
  as ``civic serve`` writes it);
- no message lost: every message of an acknowledged delivery, and every message the
  engine took, is stored, and was answered (a reply in the outbox) unless the
  conversation was with the team (where the bot stays quiet); no delivery is left
  unprocessed in the inbox.

``tests/faults/test_fuzz.py`` runs 2,000 inputs as a normal test.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import logging
import os
import random
import re
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from civic import cpf as civic_cpf
from civic.config import Config

APP_SECRET = "fuzz-app-secret"
ACCOUNT = "106540352242900"
CITIZENS = 200
CPF_DIGITS = re.compile(rb"(?<![0-9])[0-9]{11}(?![0-9])")
CPF_FORMATTED = re.compile(rb"(?<![0-9])[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2}(?![0-9])")

HOSTILE = (
    "",
    " ",
    "\x00",
    "\u200b\u200d\ufeff",
    "\u202eatendente",
    "'; DROP TABLE message; --",
    '" OR 1=1 --',
    '=HYPERLINK("http://x","y")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "<script>alert(1)</script>",
    "{{7*7}} ${7*7} %s %n",
    "../../etc/passwd",
    "🙂" * 50,
    "ﷺ" * 30,
    "A" * 5000,
    "1" * 400,
    "atendente",
    "menu",
    "cancelar",
    "sair",
    "encerrar",
    "0",
    "99999999999999999999",
    "-1",
    "NaN",
    "null",
    "\ud800",
    "\\u0000",
    "\r\n\r\n",
    "ç" * 3000,
)
LINES = (
    "oi",
    "1",
    "2",
    "3",
    "procon",
    "quero reclamar da loja",
    "Magazine Exemplo",
    "produto com defeito",
    "20/09/2026",
    "R$ 2.499,90",
    "sim",
    "não",
    "10",
    "nota 8",
    "junta militar",
    "como faço o alistamento?",
    "qual o horário de atendimento?",
    "Maria José dos Santos",
)


@dataclass
class Figures:
    """What the run did and found."""

    inputs: int = 0
    http: Counter[int] = field(default_factory=Counter)
    engine_calls: int = 0
    refused_by_engine: int = 0
    crashes: list[str] = field(default_factory=list)
    tracked: int = 0
    lost: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    #: Stored, not processed: over the citizen's rate limit (a flood is answered once).
    flooded: int = 0
    cpfs_sent: int = 0
    cpfs_in_database: list[str] = field(default_factory=list)
    cpfs_in_log: list[str] = field(default_factory=list)
    left_in_inbox: int = 0
    log_lines: int = 0
    seconds: float = 0.0

    def problems(self) -> list[str]:
        """Every broken property, one line each (empty: the run passed)."""
        found = []
        if self.crashes:
            found.append(f"{len(self.crashes)} crash(es), first: {self.crashes[0]}")
        server_errors = sum(n for status, n in self.http.items() if status >= 500)
        if server_errors:
            found.append(f"{server_errors} answer(s) 5xx")
        if self.cpfs_in_database:
            found.append(f"CPFs in clear in the database: {self.cpfs_in_database[:3]}")
        if self.cpfs_in_log:
            found.append(f"CPFs in clear in the log: {self.cpfs_in_log[:3]}")
        if self.lost:
            found.append(f"{len(self.lost)} message(s) lost, first: {self.lost[:3]}")
        if self.unanswered:
            found.append(f"{len(self.unanswered)} unanswered, first: {self.unanswered[:3]}")
        if self.left_in_inbox:
            found.append(f"{self.left_in_inbox} deliveries left unprocessed in the inbox")
        return found

    def summary(self) -> str:
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(self.http.items()))
        return (
            f"{self.inputs} inputs in {self.seconds:.0f} s: {sum(self.http.values())} webhook "
            f"requests ({statuses}), {self.engine_calls} engine calls "
            f"({self.refused_by_engine} refused as invalid); {self.tracked} messages tracked, "
            f"{len(self.lost)} lost, {len(self.unanswered)} unanswered"
            f" ({self.flooded} more over the rate limit, stored); {self.cpfs_sent} "
            f"CPFs sent, {len(self.cpfs_in_database)} found in the database, "
            f"{len(self.cpfs_in_log)} in the log ({self.log_lines} lines); "
            f"{len(self.crashes)} crashes"
        )


class Generator:
    """Seeded random inputs; remembers every CPF it wrote."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.cpfs: set[str] = set()
        self.serial = 0

    def cpf(self) -> str:
        digits = civic_cpf.complete(f"{self.random.randrange(1, 10**9):09d}")
        if len(set(digits)) == 1:  # 000.000.000-00 and friends are not CPFs
            return self.cpf()
        self.cpfs.add(digits)
        return digits

    def written_cpf(self) -> str:
        digits = self.cpf()
        if self.random.random() < 0.5:
            return digits
        return f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"

    def text(self) -> str:
        """A citizen's message: a usual line, a hostile one, random characters, or any
        of them with a CPF (alone, with a name, inside a sentence)."""
        pick = self.random.random()
        if pick < 0.3:
            text = self.random.choice(LINES)
        elif pick < 0.5:
            text = self.random.choice(HOSTILE)
        elif pick < 0.65:
            rng = self.random
            text = "".join(
                chr(rng.randrange(32, 127) if rng.random() < 0.5 else rng.randrange(0x80, 0x2FFF))
                for _ in range(rng.randrange(0, 80))
            )
        else:
            text = self.random.choice(
                (
                    "{cpf}",
                    "Maria José dos Santos {cpf}",
                    "meu cpf é {cpf}, pode ver?",
                    "cpf: {cpf}",
                    "{cpf} {cpf}",
                    "o número {cpf} é o meu documento",
                )
            ).replace("{cpf}", self.written_cpf())
        return text

    def message_id(self) -> str:
        self.serial += 1
        return f"wamid.fuzz.{self.serial}"

    def phone(self) -> str:
        return f"55359{self.random.randrange(CITIZENS):08d}"


def envelope(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "553534350000",
                                "phone_number_id": ACCOUNT,
                            },
                            **value,
                        },
                    }
                ],
            }
        ],
    }


def text_delivery(phone: str, message_id: str, text: str) -> dict[str, Any]:
    return envelope(
        {
            "contacts": [{"profile": {"name": "Maria"}, "wa_id": phone}],
            "messages": [
                {
                    "from": phone,
                    "id": message_id,
                    "timestamp": str(int(time.time())),
                    "type": "text",
                    "text": {"body": text},
                }
            ],
        }
    )


def mutate(value: Any, rng: random.Random, depth: int = 0) -> Any:
    """``value`` with some of its parts dropped, replaced or nested deeper."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            roll = rng.random()
            if roll < 0.08:
                continue  # dropped
            if roll < 0.16:
                out[key] = junk(rng)
            else:
                out[key] = mutate(item, rng, depth + 1)
        if rng.random() < 0.05:
            out[rng.choice(("statuses", "errors", "type", "from", "id", "biz"))] = junk(rng)
        return out
    if isinstance(value, list):
        items = [mutate(item, rng, depth + 1) for item in value]
        if rng.random() < 0.1:
            items = items * rng.randrange(0, 4)
        return items
    if rng.random() < 0.1:
        return junk(rng)
    return value


def junk(rng: random.Random) -> Any:
    return rng.choice(
        (
            None,
            True,
            0,
            -1,
            2**70,
            1.5e308,
            "",
            "x" * rng.randrange(0, 300),
            [],
            {},
            [[[[[]]]]],
            {"a": {"b": {"c": None}}},
            "civic:" + str(rng.randrange(0, 10**6)),
            "\u0000\ud800",
        )
    )


def status_delivery(rng: random.Random) -> dict[str, Any]:
    status = {
        "id": f"wamid.unknown.{rng.randrange(10**6)}",
        "status": rng.choice(("sent", "delivered", "read", "failed", "played", "")),
        "timestamp": str(int(time.time())),
        "recipient_id": f"55359{rng.randrange(CITIZENS):08d}",
        "biz_opaque_callback_data": rng.choice(("civic:x", "other", "civic:", "civic:99999999")),
    }
    return envelope({"statuses": [status]})


def sign(body: bytes) -> str:
    import hashlib
    import hmac

    return "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Tracked:
    """A message that must be stored and answered: its channel id and address."""

    channel: str
    message_id: str
    address: str


def run(inputs: int, seed: int, folder: Path, *, echo: bool = False) -> Figures:
    """Fuzz ``inputs`` inputs with a database and log in ``folder``; the figures."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = {k: os.environ.get(k) for k in _ENVIRONMENT}
    os.environ.update(_ENVIRONMENT, CIVIC_HOME=str(folder / "home"))
    log_text = io.StringIO()
    level = logging.getLogger().level
    handler = _log_handler(log_text)
    try:
        return _run(inputs, seed, folder, echo=echo, log_text=log_text)
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(level)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_ENVIRONMENT = {
    "CIVIC_WHATSAPP_APP_SECRET": APP_SECRET,
    "CIVIC_WHATSAPP_ACCESS_TOKEN": "fuzz-access-token",
    "CIVIC_WHATSAPP_API_URL": "http://127.0.0.1:9/v23.0",
    "CIVIC_HOME": "",
}


def _log_handler(stream: io.StringIO) -> logging.Handler:
    """Every log record, formatted as ``civic serve`` writes it (CPFs masked by the
    redaction filter ``civic serve`` installs)."""
    from civic import redaction
    from civic.serve import JsonFormatter

    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(redaction.RedactingFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return handler


def _run(inputs: int, seed: int, folder: Path, *, echo: bool, log_text: io.StringIO) -> Figures:
    from starlette.testclient import TestClient

    from civic.channels import Host, collect_channels
    from civic.engine import Engine, InvalidInbound
    from civic.plugins import load_plugins
    from civic.serve import create_app
    from civic.storage import Storage
    from civic.values import Inbound

    (folder / "home").mkdir(exist_ok=True)
    path = folder / "fuzz.db"
    storage = Storage(f"sqlite:///{path}")
    storage.migrate()
    engine = Engine(storage, secret=b"fuzz-instance-secret", manager=load_plugins())
    host = Host(engine=engine, config=engine.config)
    app = create_app(host, collect_channels(engine.pm))
    client = TestClient(app, raise_server_exceptions=True)
    gen = Generator(seed)
    rng = gen.random
    figures = Figures()
    tracked: list[Tracked] = []
    started = time.monotonic()
    for number in range(inputs):
        figures.inputs += 1
        try:
            if number % 2 == 0:
                _one_request(client, gen, rng, figures, tracked)
            else:
                phone = f"fuzz-{rng.randrange(CITIZENS)}"
                message_id = gen.message_id()
                figures.engine_calls += 1
                try:
                    engine.handle(
                        Inbound(
                            channel="fuzz",
                            address=phone,
                            text=gen.text(),
                            channel_message_id=message_id,
                            received_at=dt.datetime.now(dt.UTC),
                        )
                    )
                except InvalidInbound:
                    figures.refused_by_engine += 1
                else:
                    tracked.append(Tracked("fuzz", message_id, phone))
        except Exception as exc:  # the property under test: nothing may escape
            figures.crashes.append(f"input {number}: {type(exc).__name__}: {exc!r}"[:500])
        if echo and number and number % 10000 == 0:
            print(f"{number} inputs, {time.monotonic() - started:.0f} s", file=sys.stderr)
    client.close()
    storage.close()
    figures.seconds = time.monotonic() - started
    figures.tracked = len(tracked)
    _check_stored_and_answered(path, tracked, figures)
    figures.cpfs_sent = len(gen.cpfs)
    figures.cpfs_in_database = _cpfs_in(_database_bytes(path), gen.cpfs)
    logged = log_text.getvalue()
    figures.log_lines = logged.count("\n")
    figures.cpfs_in_log = _cpfs_in(logged.encode("utf-8", "replace"), gen.cpfs)
    return figures


def _one_request(
    client: Any, gen: Generator, rng: random.Random, figures: Figures, tracked: list[Tracked]
) -> None:
    """One webhook request of a random kind; a well-formed acknowledged text message is
    tracked."""
    kind = rng.random()
    track: Tracked | None = None
    if kind < 0.45:
        phone, message_id = gen.phone(), gen.message_id()
        payload: Any = text_delivery(phone, message_id, gen.text())
        track = Tracked("whatsapp", message_id, phone)
    elif kind < 0.75:
        payload = mutate(text_delivery(gen.phone(), gen.message_id(), gen.text()), rng)
    elif kind < 0.85:
        payload = status_delivery(rng)
    else:
        payload = None
    if payload is not None:
        body = json.dumps(payload, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
    else:  # bytes flipped or cut in a real delivery
        raw = bytearray(
            json.dumps(text_delivery(gen.phone(), gen.message_id(), gen.text())).encode()
        )
        for _ in range(rng.randrange(1, 6)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        body = bytes(raw[: rng.randrange(1, len(raw) + 1)])
    signature = sign(body)
    roll = rng.random()
    headers = {"Content-Type": "application/json"}
    if roll < 0.03:
        signature = "sha256=" + "0" * 64
    elif roll < 0.05:
        signature = ""
    if signature:
        headers["X-Hub-Signature-256"] = signature
    response = client.post("/webhooks/whatsapp", content=body, headers=headers)
    figures.http[response.status_code] += 1
    if track is not None and response.status_code == 200:
        tracked.append(track)


def _check_stored_and_answered(path: Path, tracked: list[Tracked], figures: Figures) -> None:
    """Every tracked message is stored; answered unless its conversation was with the
    team; no delivery left ``received`` in the inbox."""
    with sqlite3.connect(path) as db:
        stored = {
            (channel, message_id): (row_id, conversation)
            for row_id, channel, message_id, conversation in db.execute(
                "SELECT id, channel, channel_message_id, conversation_id FROM message "
                "WHERE direction = 'in'"
            )
        }
        replied = {row[0] for row in db.execute("SELECT DISTINCT in_reply_to FROM outbox")}
        with_team = {
            row[0]
            for row in db.execute(
                "SELECT DISTINCT conversation_id FROM event WHERE kind = 'handed_over'"
            )
        }
        # over the limit when it was stored: more citizen messages of its conversation in
        # the minute up to it than the limit allows (civic.rate_limit.flood)
        limit = Config().limits.messages_per_minute
        flooded = {
            row[0]
            for row in db.execute(
                "SELECT m.id FROM message m WHERE m.direction = 'in' AND ("
                " SELECT count(*) FROM message o WHERE o.conversation_id = m.conversation_id"
                " AND o.direction = 'in' AND o.id <= m.id"
                " AND julianday(o.created_at) >= julianday(m.created_at) - 60.000001 / 86400"
                ") > ?",
                (limit,),
            )
        } if limit > 0 else set()  # fmt: skip
        figures.left_in_inbox = db.execute(
            "SELECT count(*) FROM inbox WHERE status = 'received'"
        ).fetchone()[0]
    for item in tracked:
        found = stored.get((item.channel, item.message_id))
        if found is None:
            figures.lost.append(item.message_id)
        elif found[0] not in replied and found[1] not in with_team:
            if found[0] in flooded:
                figures.flooded += 1
            else:
                figures.unanswered.append(item.message_id)


def _database_bytes(path: Path) -> bytes:
    """The database file and its WAL, as they lie on disk."""
    chunks = []
    for name in (path, path.with_name(path.name + "-wal")):
        if name.exists():
            chunks.append(name.read_bytes())
    return b"\n".join(chunks)


def _cpfs_in(data: bytes, cpfs: set[str]) -> list[str]:
    """The CPFs of ``cpfs`` that appear in ``data`` (digits or formatted), masked."""
    found = {match.decode() for match in CPF_DIGITS.findall(data)}
    found |= {re.sub(r"\D", "", match.decode()) for match in CPF_FORMATTED.findall(data)}
    return sorted(f"{cpf[:3]}.***.***-{cpf[9:]}" for cpf in found & cpfs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--folder", type=Path, default=None, help="keep the database here")
    args = parser.parse_args(argv)
    with _folder(args.folder) as folder:
        figures = run(args.inputs, args.seed, folder, echo=True)
    print(figures.summary())
    for problem in figures.problems():
        print("PROBLEM:", problem)
    return 1 if figures.problems() else 0


@contextlib.contextmanager
def _folder(given: Path | None) -> Iterator[Path]:
    if given is not None:
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="civic-fuzz-") as name:
        yield Path(name)


if __name__ == "__main__":
    raise SystemExit(main())
