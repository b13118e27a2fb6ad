"""The two small apps the webhook benchmark serves on loopback beside ``civic serve``.

Both are Starlette applications that uvicorn starts in processes of their own, as it
starts civic (``python -m uvicorn loopback:graph_app --factory --app-dir benchmarks``).
This module imports Starlette alone, so the floor's memory is the HTTP stack's.

- :func:`graph_app`, a **fake WhatsApp Graph API**: ``civic serve`` sends its replies to
  ``CIVIC_WHATSAPP_API_URL``, which the benchmark points at it
  (``http://127.0.0.1:<port>/v23.0``). It answers every ``POST
  /<version>/<PHONE_NUMBER_ID>/messages`` as the Cloud API does when it accepts a message
  (``{"messages": [{"id": "wamid..."}]}``, a new id each time) and remembers for each id
  when the send arrived (``time.monotonic()``: one clock for every process of the machine
  on Linux) and to whom. A body that is not a Messages API body (no ``messaging_product``
  or no recipient) is refused with 400 and counted. ``GET /stats`` returns what it saw::

      {"sends": 3, "refused": 0, "issued": {"wamid.fake.1": [t, "5535..."], ...}}

- :func:`webhook_floor`, **the HTTP floor**: a bare webhook that checks the
  ``X-Hub-Signature-256`` of each delivery (HMAC-SHA256 of the raw body with
  ``CIVIC_WHATSAPP_APP_SECRET``, as civic does) and answers 200 ``ok``, storing and
  processing nothing: what serving the same deliveries costs before civic does any work.

Both answer ``GET /healthz``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def graph_app() -> Starlette:
    """The fake Graph API: ``POST /{version}/{number}/messages``, ``GET /stats``."""
    numbers = itertools.count(1)
    issued: dict[str, tuple[float, str]] = {}
    refused = 0

    async def send(request: Request) -> JSONResponse:
        nonlocal refused
        arrived = time.monotonic()
        try:
            body: Any = json.loads(await request.body())
        except ValueError:
            body = None
        recipient = None
        if isinstance(body, dict) and body.get("messaging_product") == "whatsapp":
            recipient = body.get("to") or body.get("recipient")
        if not isinstance(recipient, str) or not recipient:
            refused += 1
            error = {"message": "(#100) Invalid parameter", "type": "OAuthException"}
            return JSONResponse({"error": error}, status_code=400)
        message_id = f"wamid.fake.{next(numbers)}"
        issued[message_id] = (arrived, recipient)
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": recipient, "wa_id": recipient}],
                "messages": [{"id": message_id}],
            }
        )

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse({"sends": len(issued), "refused": refused, "issued": issued})

    return Starlette(
        routes=[
            Route("/{version}/{number}/messages", send, methods=["POST"]),
            Route("/stats", stats),
            Route("/healthz", healthz),
        ]
    )


def webhook_floor() -> Starlette:
    """The bare webhook: check the signature, answer 200 (401 for a bad signature)."""
    secret = os.environ.get("CIVIC_WHATSAPP_APP_SECRET", "").encode()

    async def deliver(request: Request) -> PlainTextResponse:
        body = await request.body()
        given = request.headers.get("x-hub-signature-256", "")
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not secret or not hmac.compare_digest(given, expected):
            return PlainTextResponse("bad signature", status_code=401)
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/webhooks/whatsapp", deliver, methods=["POST"]),
            Route("/healthz", healthz),
        ]
    )
