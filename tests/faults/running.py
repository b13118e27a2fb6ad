"""A running ``civic serve`` and a fake Meta beside it, for the fault tests.

:class:`FakeMeta` is a Graph API on loopback (a thread of the test process): it accepts
``POST /v23.0/<number>/messages`` as the Cloud API does, records every body, and sends
the message's ``sent`` status back to civic's webhook, signed, with the
``biz_opaque_callback_data`` civic gave, retrying until civic answers 200, as Meta does
when a webhook is down. :class:`Civic` starts ``python -m civic serve`` as a subprocess
(its own session, so a failpoint's SIGKILL kills it alone) pointed at the fake with
``CIVIC_WHATSAPP_API_URL``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

APP_SECRET = "faults-app-secret"
ACCOUNT = "106540352242900"
WEBHOOK = "/webhooks/whatsapp"
#: Seconds between the Graph API's answer and the status webhook, as with Meta.
STATUS_DELAY = 0.5
ROOT = Path(__file__).resolve().parents[2]
SERVE = (sys.executable, "-m", "civic", "serve")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    """``X-Hub-Signature-256`` of a delivery, as Meta computes it."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def envelope(value: dict[str, Any]) -> bytes:
    """A Cloud API webhook delivery holding one change ``value``."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "553534350000", "phone_number_id": ACCOUNT},
        **value,
    }
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def message(phone: str, message_id: str, text: str) -> bytes:
    """The delivery of one text message from ``phone``."""
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


def post(port: int, body: bytes, *, signature: str | None = None, timeout: float = 30) -> int:
    """POST a delivery to civic's webhook; its status (0: no answer)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{WEBHOOK}",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature or sign(body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def get(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``condition`` until it is true; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class FakeMeta:
    """The Graph API and Meta's status webhooks, on loopback."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.statuses_delivered = 0
        self.webhook_port: int | None = None
        self._numbers = itertools.count(1)
        self._statuses: list[tuple[float, bytes]] = []  # (not before, delivery)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.port = free_port()
        app = Starlette(routes=[Route("/v23.0/{number}/messages", self._send, methods=["POST"])])
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self._threads = [
            threading.Thread(target=self._server.run, daemon=True),
            threading.Thread(target=self._webhooks, daemon=True),
        ]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v23.0"

    def __enter__(self) -> FakeMeta:
        for thread in self._threads:
            thread.start()
        wait_for(lambda: self._server.started, 10, "the fake Graph API")
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._server.should_exit = True
        for thread in self._threads:
            thread.join(timeout=10)

    async def _send(self, request: Request) -> JSONResponse:
        body = await request.json()
        recipient = body.get("to") or body.get("recipient")
        if body.get("messaging_product") != "whatsapp" or not recipient:
            return JSONResponse({"error": {"message": "(#100) Invalid parameter"}}, 400)
        message_id = f"wamid.fake.{next(self._numbers)}"
        status: dict[str, Any] = {
            "id": message_id,
            "status": "sent",
            "timestamp": str(int(time.time())),
            "recipient_id": recipient,
        }
        if "biz_opaque_callback_data" in body:
            status["biz_opaque_callback_data"] = body["biz_opaque_callback_data"]
        with self._lock:
            self.sent.append(body)
            # As Meta, a moment after the answer: civic gets the answer first.
            self._statuses.append(
                (time.monotonic() + STATUS_DELAY, envelope({"statuses": [status]}))
            )
        return JSONResponse({"messaging_product": "whatsapp", "messages": [{"id": message_id}]})

    def _webhooks(self) -> None:
        """Send each status to civic until it answers 200 (Meta retries for days)."""
        while not self._stop.is_set():
            with self._lock:
                todo = list(self._statuses)
            for item in todo:
                not_before, body = item
                if time.monotonic() < not_before or self.webhook_port is None:
                    break
                if post(self.webhook_port, body, timeout=5) != 200:
                    break  # civic is down: try again shortly, in order
                with self._lock:
                    self._statuses.remove(item)
                    self.statuses_delivered += 1
            self._stop.wait(0.2)

    def pending_statuses(self) -> int:
        with self._lock:
            return len(self._statuses)

    def callbacks(self) -> list[str]:
        """The ``biz_opaque_callback_data`` of every body received, in order."""
        with self._lock:
            return [str(body.get("biz_opaque_callback_data")) for body in self.sent]


class Civic:
    """``civic serve`` as a subprocess on a port of its own."""

    def __init__(
        self, folder: Path, database_url: str, meta: FakeMeta, env: dict[str, str] | None = None
    ) -> None:
        self.folder = folder
        self.database_url = database_url
        self.port = free_port()
        meta.webhook_port = self.port
        (folder / "home").mkdir(exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}
        self.env.update(
            CIVIC_HOME=str(folder / "home"),
            CIVIC_SECRET="faults-instance-secret",
            CIVIC_WHATSAPP_APP_SECRET=APP_SECRET,
            CIVIC_WHATSAPP_VERIFY_TOKEN="faults-verify-token",
            CIVIC_WHATSAPP_ACCESS_TOKEN="faults-access-token",
            CIVIC_WHATSAPP_API_URL=meta.url,
            **(env or {}),
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.log = folder / "serve.log"
        self.starts = 0

    def start(self, failpoints: str = "") -> None:
        """Start ``civic serve`` (with ``CIVIC_FAILPOINTS`` armed when given) and wait
        until ``/healthz`` answers."""
        env = dict(self.env, CIVIC_FAILPOINTS=failpoints)
        self.starts += 1
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [*SERVE, "--port", str(self.port), "--database-url", self.database_url],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
                start_new_session=True,
            )
        process = self.process
        wait_for(
            lambda: get(self.port, "/healthz") == 200 or process.poll() is not None,
            60,
            "civic serve to start",
        )
        assert process.poll() is None, self.tail()

    def killed(self, timeout: float = 30) -> int | None:
        """Wait for the process to end (a failpoint kills it); its return code."""
        assert self.process is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.process.wait(timeout=timeout)
        return None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def own_database(kind: str, folder: Path, name: str) -> Iterator[str]:
    """A database URL for one test: a SQLite file in ``folder``, or a PostgreSQL
    database ``faults_<name>_<random>`` of its own on the server of ``CIVIC_TEST_DATABASE_URL``
    (created empty, dropped afterwards; the shared server is never stopped)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'civic.db'}"
        return
    import sqlalchemy as sa

    from tests.conftest import POSTGRES_URL

    assert POSTGRES_URL
    url = sa.engine.make_url(POSTGRES_URL)
    database = f"faults_{name}_{uuid.uuid4().hex[:8]}"  # tests in parallel never share it
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            drop(conn, database)
            conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
        yield url.set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            drop(conn, database)
        admin.dispose()


def drop(conn: Any, database: str) -> None:
    """Drop ``database`` (ours), ending its sessions first."""
    if exists(conn, database):
        conn.exec_driver_sql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    terminate(conn, database)
    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}"')


def exists(conn: Any, database: str) -> bool:
    import sqlalchemy as sa

    found = conn.execute(
        sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": database}
    ).first()
    return found is not None


def terminate(conn: Any, database: str) -> None:
    """End every session of ``database`` (ours alone)."""
    import sqlalchemy as sa

    conn.execute(
        sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid()"
        ),
        {"name": database},
    )


def rows(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    """The rows of one query on the test's database (a connection of its own)."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def texts_to(meta: FakeMeta, phone: str) -> list[str]:
    """What the fake Graph API was asked to show ``phone``, message by message."""
    found = []
    for body in list(meta.sent):
        if (body.get("to") or body.get("recipient")) != phone:
            continue
        if body.get("type") == "text":
            found.append(str(body["text"]["body"]))
        elif body.get("type") == "interactive":
            found.append(str(body["interactive"]["body"]["text"]))
    return found
